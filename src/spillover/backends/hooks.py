"""Where the residual stream is read and written: one layer convention for capture and interventions.

Steering and ablation (:func:`attach`) act at every position, prompt and generated tokens alike:
steer adds ``scale * v`` at one layer (scale 1 moves the aligned mean onto the misaligned one);
ablate removes ``(h . u) u`` at every layer 0..L, ``u`` the unit direction at its layer (mean-ablation:
``(h . u - m_l) u``, keeping layer ``l``'s mean projection ``m_l``).

Layer ``l`` is the residual stream after ``l`` decoder blocks: layer 0 is the token embeddings,
layer ``l`` (1 <= l <= L) the output of block ``l - 1``. For ``l < L`` this is transformers'
``hidden_states[l]``; for ``l = L`` it is the last block's output *before* the final norm (many
models' ``hidden_states[-1]`` is after it). Hooks find the blocks as the decoder's ``layers`` (Llama,
Qwen, Mistral, Gemma, ...) or ``h`` (GPT-2 style); other layouts are an error naming the model class.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from ..errors import SpilloverError
from ..interventions import Intervention

Edit = Callable[[int, Any], Any]
"""``edit(layer, hidden) -> hidden`` (or None to keep it): called on the residual stream at a layer."""


def blocks(model: Any) -> list[Any]:
    """The decoder blocks of a causal LM, in order."""
    inner = model.get_decoder() if hasattr(model, "get_decoder") else model
    for owner in (inner, getattr(model, "transformer", None), getattr(inner, "model", None)):
        for name in ("layers", "h"):
            found = getattr(owner, name, None) if owner is not None else None
            if found is not None and hasattr(found, "__len__"):
                return list(found)
    raise SpilloverError(f"cannot find the decoder blocks of {type(model).__name__} (no .layers or .h)")


def n_layers(model: Any) -> int:
    """The highest layer index (the number of blocks); valid layers are 0..n_layers."""
    return len(blocks(model))


def width(model: Any) -> int:
    return int(model.get_input_embeddings().weight.shape[-1])


def check_layer(model: Any, layer: int, what: str = "layer") -> None:
    top = n_layers(model)
    if not 0 <= layer <= top:
        raise SpilloverError(f"{what} {layer} is out of range: this model has layers 0..{top} (0 = embeddings)",
                             field=what)


def _module(model: Any, layer: int) -> Any:
    return model.get_input_embeddings() if layer == 0 else blocks(model)[layer - 1]


def add_hooks(model: Any, layers: list[int], edit: Edit) -> list[Any]:
    """Call ``edit`` on the residual stream at each of ``layers`` in every forward pass from now on;
    returns the hook handles (``handle.remove()`` undoes it; dropping them does not)."""
    def hook_for(layer: int) -> Callable[..., Any]:
        def hook(_module: Any, _inputs: Any, output: Any) -> Any:
            hidden = output[0] if isinstance(output, tuple) else output
            new = edit(layer, hidden)
            if new is None:
                return None
            return (new, *output[1:]) if isinstance(output, tuple) else new
        return hook

    for layer in layers:
        check_layer(model, layer)
    return [_module(model, layer).register_forward_hook(hook_for(layer)) for layer in layers]


@contextmanager
def on_layers(model: Any, layers: list[int], edit: Edit) -> Iterator[None]:
    """:func:`add_hooks` for the forward passes inside the ``with`` block only."""
    handles = add_hooks(model, layers, edit)
    try:
        yield
    finally:
        for h in handles:
            h.remove()


class AnswerMeans:
    """Per sampled row, the mean residual over its answer's tokens at every layer, gathered while decoding
    (no second pass). Every answer token is fed back except a row's last sampled one: for an answer that
    ended on a stop token this is exactly the answer's tokens; one cut at ``max_tokens`` misses its last
    token. A row that stopped at once keeps the last prompt position. :meth:`means` removes the hooks."""

    def __init__(self, model: Any, rows: int) -> None:
        self.layers = list(range(n_layers(model) + 1))
        self.rows = rows
        self.now: dict[int, Any] = {}
        self.sums: Any = None
        self.first: Any = None
        self.counts: Any = None
        self.handles = add_hooks(model, self.layers, self._keep)

    def _keep(self, layer: int, hidden: Any) -> None:
        self.now[layer] = hidden[:, -1].detach().float()

    def _stacked(self) -> Any:
        import torch

        return torch.stack([self.now[layer] for layer in self.layers], dim=1)

    def prefilled(self, rows_of: Any) -> None:
        """After the prompt pass: ``rows_of[i]`` is the prompt row of sample row ``i``."""
        import torch

        self.first = self._stacked()[rows_of]
        self.sums = torch.zeros_like(self.first)
        self.counts = torch.zeros(self.rows, device=self.first.device)

    def decoded(self, alive: list[int]) -> None:
        """After a decoding pass over the sample rows ``alive`` (in batch order)."""
        self.sums[alive] += self._stacked()
        self.counts[alive] += 1

    def means(self) -> Any:
        """``[rows, layers, d]`` on the CPU; removes the hooks."""
        for h in self.handles:
            h.remove()
        n = self.counts[:, None, None]
        return (self.sums / n.clamp_min(1)).where(n > 0, self.first).cpu()


def attach(model: Any, intervention: Intervention, vector: Any, layer: int,
           offsets: Sequence[float] | None = None) -> list[Any]:
    """Hook the intervention into ``model`` for good (the model is the variant): ``vector`` is the
    direction at ``layer``; ``offsets`` each layer's mean projection, for mean-ablation. A layer out of range
    or a vector of the wrong width is an error naming both. Returns the hook handles."""
    import torch

    check_layer(model, layer, f"the layer of {intervention.suffix}")
    if len(vector) != width(model):
        raise SpilloverError(f"direction {intervention.source!r} has width {len(vector)}; this model's residual "
                             f"stream has width {width(model)}")
    v = torch.as_tensor(vector, dtype=model.dtype, device=model.device)
    if intervention.kind == "steer":
        delta = intervention.scale * v
        return add_hooks(model, [layer], lambda _l, h: h + delta)
    u = v / v.norm().clamp_min(1e-12)
    layers = list(range(n_layers(model) + 1))
    if not intervention.mean:
        return add_hooks(model, layers, lambda _l, h: h - (h @ u)[..., None] * u)
    if offsets is None or len(offsets) != len(layers):
        raise SpilloverError(f"{intervention.suffix} needs one mean projection per layer 0..{len(layers) - 1}")
    m = torch.as_tensor(list(offsets), dtype=model.dtype, device=model.device)
    return add_hooks(model, layers, lambda at, h: h - ((h @ u) - m[at])[..., None] * u)
