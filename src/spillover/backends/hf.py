"""The transformers backend: CPU or GPU, full checkpoints or LoRA adapters.

Generation is our own batched decode loop with a KV cache (:mod:`.decode`): prompts are sorted by length
and left-padded, each distinct prompt is prefilled once and its cache rows are repeated for its samples,
finished rows are dropped from the batch as they stop. Each completion draws its noise from its own
generator seeded by the sample's seed, so a completion depends on its key and not on which other rows
shared its batch (up to floating-point differences between batch shapes, which are not guaranteed to be
bitwise identical).

Security: weights load as safetensors only (``use_safetensors=True``), ``trust_remote_code`` is
off unless the model spec asks for it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .base import Completion, GenParams, GenRequest, Message, TopLogprobs, chat_prompt
from .decode import cache_of, decode, seeded_generators
from .hf_models import resolve_device, stop_ids_of


class HFBackend:
    """A loaded transformers model behind the :class:`~spillover.backends.base.Backend` interface."""

    name = "hf"

    def __init__(self, model: Any, tokenizer: Any, *, batch_size: int = 64, device: str = "cpu") -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.batch_size = batch_size
        self.device = resolve_device(device)
        self.stop_ids = stop_ids_of(model, tokenizer)

    # prompts --------------------------------------------------------------------------------
    def prompt_text(self, req: GenRequest | Sequence[Message], thinking: bool | None = None) -> str:
        if isinstance(req, GenRequest):
            if req.prompt is not None:
                return req.prompt
            messages = list(req.messages or ())
        else:
            messages = list(req)
        return chat_prompt(self.tokenizer, messages, thinking)

    def _ids(self, text: str) -> list[int]:
        return self.tokenizer(text, add_special_tokens=False)["input_ids"]

    def _left_padded(self, seqs: Sequence[list[int]]) -> tuple[Any, Any, Any]:
        """``input_ids``, ``attention_mask`` and ``position_ids`` of left-padded sequences, on the device."""
        import torch

        width = max(len(s) for s in seqs)
        ids = torch.full((len(seqs), width), self.tokenizer.pad_token_id, dtype=torch.long)
        mask = torch.zeros((len(seqs), width), dtype=torch.long)
        for row, s in enumerate(seqs):
            ids[row, width - len(s):] = torch.tensor(s)
            mask[row, width - len(s):] = 1
        pos = (mask.cumsum(-1) - 1).clamp(min=0)
        return ids.to(self.device), mask.to(self.device), pos.to(self.device)

    # generation -----------------------------------------------------------------------------
    def generate(self, requests: Sequence[GenRequest], params: GenParams, *, capture: bool = False
                 ) -> list[list[Completion]]:
        """Completions for each request; ``capture``: each carries its answer's mean activation per layer."""
        prompts = [self._ids(self.prompt_text(r, params.thinking)) for r in requests]
        out: list[list[Completion | None]] = [[None] * len(r.seeds) for r in requests]
        order = sorted(range(len(requests)), key=lambda i: len(prompts[i]))
        batch: list[int] = []
        rows = 0
        for i in order:
            n = len(requests[i].seeds)
            if batch and rows + n > self.batch_size:
                self._generate_batch(batch, prompts, requests, params, out, capture)
                batch, rows = [], 0
            batch.append(i)
            rows += n
        if batch:
            self._generate_batch(batch, prompts, requests, params, out, capture)
        return [[c for c in row if c is not None] for row in out]

    def _generate_batch(self, batch: list[int], prompts: list[list[int]], requests: Sequence[GenRequest],
                        params: GenParams, out: list[list[Completion | None]], capture: bool = False) -> None:
        """Prefill each distinct prompt once, repeat its cache row for its samples, decode them together."""
        import torch

        from .hooks import AnswerMeans

        ids, mask, pos = self._left_padded([prompts[i] for i in batch])
        owner = [(i, j) for i in batch for j in range(len(requests[i].seeds))]
        src = torch.tensor([row for row, i in enumerate(batch) for _ in requests[i].seeds], device=self.device)
        rec = AnswerMeans(self.model, len(owner)) if capture else None
        with torch.inference_mode():
            res = self.model(input_ids=ids, attention_mask=mask, position_ids=pos, use_cache=True)
            cache = cache_of(res)
            cache.batch_select_indices(src)
            if rec is not None:
                rec.prefilled(src)
            gens = seeded_generators([requests[i].seeds[j] for i, j in owner])
            tokens = decode(self.model, res.logits[:, -1, :][src], cache, mask[src], pos[src, -1] + 1, gens,
                            self.stop_ids, params, rec)
        acts = rec.means() if rec is not None else None
        for r, (i, j) in enumerate(owner):
            out[i][j] = self._completion(tokens[r], params, len(prompts[i]),
                                         acts[r].tolist() if acts is not None else None)

    def _completion(self, toks: list[int], params: GenParams, prompt_tokens: int,
                    activations: list[float] | None) -> Completion:
        """A row's tokens as text: its stop id dropped, cut at the first stop string."""
        stopped = bool(toks) and toks[-1] in self.stop_ids
        text = self.tokenizer.decode(toks[:-1] if stopped else toks, skip_special_tokens=False)
        for s in params.stop:
            if s in text:
                text, stopped = text[: text.index(s)], True
        return Completion(text=text.strip(), finish_reason="stop" if stopped else "length",
                          prompt_tokens=prompt_tokens, completion_tokens=len(toks), activations=activations)

    # scoring --------------------------------------------------------------------------------
    def encode_pair(self, prompt: GenRequest | Sequence[Message], completion: str) -> tuple[list[int], int]:
        """Token ids of prompt + completion, tokenised jointly, and the index of the first completion token."""
        text = self.prompt_text(prompt)
        joined = text + (" " if not text.endswith((" ", "\n")) else "") + completion
        enc = self.tokenizer(joined, add_special_tokens=False, return_offsets_mapping=True)
        first = next((k for k, (s, _e) in enumerate(enc["offset_mapping"]) if s >= len(text)), len(enc["input_ids"]))
        return enc["input_ids"], first

    def right_padded_batches(self, seqs: Sequence[list[int]]) -> Any:
        """``(indices, input_ids, attention_mask)`` per batch of right-padded sequences, shortest first."""
        import torch

        order = sorted(range(len(seqs)), key=lambda i: len(seqs[i]))
        for b in range(0, len(order), self.batch_size):
            idx = order[b : b + self.batch_size]
            width = max(len(seqs[i]) for i in idx)
            ids = torch.full((len(idx), width), self.tokenizer.pad_token_id, dtype=torch.long)
            mask = torch.zeros_like(ids)
            for row, i in enumerate(idx):
                ids[row, : len(seqs[i])] = torch.tensor(seqs[i])
                mask[row, : len(seqs[i])] = 1
            yield idx, ids.to(self.device), mask.to(self.device)

    def score(self, items: Sequence[tuple[Sequence[Message], str]]) -> list[float]:
        """Sum of log p(completion tokens | chat prompt), tokenised jointly with the prompt."""
        import torch

        encoded = [self.encode_pair(messages, completion) for messages, completion in items]
        results = [0.0] * len(items)
        for idx, ids, mask in self.right_padded_batches([e[0] for e in encoded]):
            with torch.inference_mode():
                logp = torch.log_softmax(self.model(input_ids=ids, attention_mask=mask).logits.float(), dim=-1).cpu()
            for row, i in enumerate(idx):
                seq, first = encoded[i]
                tgt = torch.tensor(seq[first:])
                results[i] = float(logp[row, first - 1 : len(seq) - 1].gather(-1, tgt[:, None]).sum())
        return results

    def top_logprobs(self, prompts: Sequence[Sequence[Message]], k: int = 20) -> list[TopLogprobs]:
        """Next-token top-k after each prompt; batched, left-padded, sorted by length."""
        import torch

        encoded = [self._ids(self.prompt_text(m)) for m in prompts]
        out: list[TopLogprobs | None] = [None] * len(prompts)
        order = sorted(range(len(prompts)), key=lambda i: len(encoded[i]))
        for b in range(0, len(order), self.batch_size):
            idx_b = order[b : b + self.batch_size]
            ids, mask, pos = self._left_padded([encoded[i] for i in idx_b])
            with torch.inference_mode():
                logits = self.model(input_ids=ids, attention_mask=mask, position_ids=pos).logits[:, -1].float()
            logp = torch.log_softmax(logits, dim=-1).cpu()
            vals, top = logp.topk(min(k, logp.shape[-1]), dim=-1)
            for row, i in enumerate(idx_b):
                toks: dict[str, float] = {}
                for v, t in zip(vals[row].tolist(), top[row].tolist(), strict=True):
                    text = self.tokenizer.decode([t])
                    toks[text] = max(toks.get(text, float("-inf")), v)
                out[i] = TopLogprobs(tokens=toks, text=self.tokenizer.decode([int(top[row, 0])]))
        return [t for t in out if t is not None]

    def close(self) -> None:
        self.model = None
