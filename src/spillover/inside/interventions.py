"""Steering and ablation as ordinary model variants: ``insecure-ablate(em)``, ``base+steer(em,2,4)``.

A variant names a model (group or model name), an intervention and a direction; ``random:em`` is the
same-norm random control saved with ``em``. Hooks act on the residual stream (``hooks`` has the
layer convention) at every position, prompt and generated tokens alike:

- steer: ``h += scale * v[layer]`` at one layer (scale 1 moves the aligned mean onto the misaligned one);
- ablate: ``h -= (h . u) u`` at every layer 0..L, with ``u`` the unit vector of the direction at its
  layer (the direction's ``layer``, else its best-separating layer).
"""

from __future__ import annotations

import itertools
import re
from typing import Any, Literal, NamedTuple

from ..errors import SpilloverError
from .hooks import add_hooks, check_layer, n_layers

RANDOM = "random:"
_VARIANT = re.compile(r"^(?P<model>[A-Za-z0-9_.@-]+?)(?:\+steer\((?P<steer>[^()]*)\)|-ablate\((?P<ablate>[^()]*)\))$")


class Intervention(NamedTuple):
    kind: Literal["steer", "ablate"]
    direction: str
    """Direction name, ``random:NAME`` for its random control."""
    layer: int | None = None
    """Steer: the layer; ablate: the direction's layer to use (None: the direction's own)."""
    scale: float = 1.0
    """Steer: the multiple of the direction added."""

    @property
    def suffix(self) -> str:
        """The part of a model name that names this intervention.

        >>> Intervention("steer", "em", 2, 4.0).suffix
        '+steer(em,2,4)'
        >>> Intervention("ablate", "random:em").suffix
        '-ablate(random:em)'
        """
        if self.kind == "steer":
            return f"+steer({self.direction},{self.layer},{self.scale:g})"
        return f"-ablate({self.direction}{'' if self.layer is None else f',{self.layer}'})"

    @property
    def source(self) -> str:
        """The direction's name without the ``random:`` prefix."""
        return self.direction.removeprefix(RANDOM)


class Variant(NamedTuple):
    model: str
    """The model or group it applies to."""
    intervention: Intervention


def expand(text: str) -> list[str]:
    """``a|b`` alternatives inside the parentheses, as one string each.

    >>> expand("base+steer(em,1|2,4|8)")
    ['base+steer(em,1,4)', 'base+steer(em,1,8)', 'base+steer(em,2,4)', 'base+steer(em,2,8)']
    """
    head, paren, rest = text.partition("(")
    if not paren or not rest.endswith(")"):
        return [text]
    options = [arg.split("|") for arg in rest[:-1].split(",")]
    return [f"{head}({','.join(p.strip() for p in combo)})" for combo in itertools.product(*options)]


def parse(text: str) -> Variant:
    """One variant string (already expanded); a malformed one is an error showing the accepted forms.

    >>> parse("insecure-ablate(em)")
    Variant(model='insecure', intervention=Intervention(kind='ablate', direction='em', layer=None, scale=1.0))
    >>> parse("base+steer(random:em,2,-4)").intervention.scale
    -4.0
    """
    m = _VARIANT.match(text.replace(" ", ""))
    args = (m.group("steer") if m and m.group("steer") is not None else m.group("ablate") if m else "") or ""
    parts = args.split(",")
    try:
        if m and m.group("steer") is not None and len(parts) == 3:
            return Variant(m.group("model"), Intervention("steer", parts[0], int(parts[1]), float(parts[2])))
        if m and m.group("ablate") is not None and len(parts) in (1, 2) and parts[0]:
            return Variant(m.group("model"), Intervention("ablate", parts[0], int(parts[1]) if len(parts) == 2
                                                          else None))
    except ValueError:
        pass
    raise SpilloverError(f"{text!r} is not MODEL+steer(DIR,LAYER,SCALE) or MODEL-ablate(DIR[,LAYER])")


def parse_all(texts: list[str]) -> list[Variant]:
    """Every variant of ``eval.variants``, expanded, in order, without repeats."""
    out: list[Variant] = []
    for text in texts:
        out += [v for v in map(parse, expand(text)) if v not in out]
    return out


def check_fits(model: Any, intervention: Intervention, vectors: Any) -> None:
    """A layer out of range or a direction of the wrong width is an error before any sampling."""
    width = int(model.get_input_embeddings().weight.shape[-1])
    if vectors.shape[-1] != width or vectors.shape[0] != n_layers(model) + 1:
        raise SpilloverError(f"direction {intervention.source!r} has {vectors.shape[0]} layers of width "
                             f"{vectors.shape[-1]}; this model has {n_layers(model) + 1} of width {width}")
    if intervention.layer is not None:
        check_layer(model, intervention.layer, f"the layer of {intervention.suffix}")


def attach(model: Any, intervention: Intervention, vectors: Any, layer: int) -> list[Any]:
    """Hook the intervention into ``model`` for good (the model is the variant); ``vectors`` is the
    direction per layer ``[L + 1, d]`` and ``layer`` the one to use. Returns the hook handles."""
    check_fits(model, intervention, vectors)
    check_layer(model, layer, f"the layer of {intervention.suffix}")
    v = vectors[layer].to(model.device, dtype=model.dtype)
    if intervention.kind == "steer":
        delta = intervention.scale * v
        return add_hooks(model, [layer], lambda _l, h: h + delta)
    u = v / v.norm().clamp_min(1e-12)
    return add_hooks(model, list(range(n_layers(model) + 1)), lambda _l, h: h - (h @ u)[..., None] * u)


def attach_file(model: Any, intervention: Intervention, path: Any) -> list[Any]:
    """:func:`attach` with the direction read from its file (its random control for ``random:``)."""
    from .directions import load

    d = load(path)
    vectors = d.random if intervention.direction.startswith(RANDOM) else d.vectors
    layer = intervention.layer if intervention.layer is not None else d.layer
    return attach(model, intervention, vectors, layer)
