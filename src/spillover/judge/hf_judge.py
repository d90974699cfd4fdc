"""A local judge: any transformers chat model, scored from its next-token distribution.

If the tokenizer keeps small numbers as single tokens, the score comes from the top-20 next-token
logprobs as with an API judge. If it splits numbers into digits (Qwen2.5, Llama-3 for 3-digit
numbers...), every integer 0-100 is scored exactly as a continuation (digits then the end of the
turn) and the score is the probability-weighted mean of those whole numbers.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from ..backends.base import GenParams, GenRequest
from ..backends.hf import HFBackend
from ..backends.hf_models import load_model
from . import JudgeItem, Verdict
from .frame import render
from .score import aggregate_logprobs, aggregate_number_probs, reply_label, scale_of


class HFJudge:
    def __init__(self, path: str, *, backend: HFBackend | None = None) -> None:
        self.name = f"hf:{path}"
        if backend is None:
            model, tok = load_model(path)
            backend = HFBackend(model, tok)
        self.backend = backend
        tok = backend.tokenizer
        self.digit_split = any(len(tok(str(n), add_special_tokens=False)["input_ids"]) > 1 for n in (10, 57, 100))

    def judge(self, items: Sequence[JudgeItem]) -> list[Verdict]:
        labels = [i for i, it in enumerate(items) if it.mode == "label"]
        if labels:  # label items by a short greedy reply, the rest by logprobs
            got: dict[int, Verdict] = dict(zip(labels, self._labels([items[i] for i in labels]), strict=True))
            rest = [i for i in range(len(items)) if i not in got]
            got.update(zip(rest, self.judge([items[i] for i in rest]) if rest else [], strict=True))
            return [got[i] for i in range(len(items))]
        prompts = [[{"role": "user", "content": render(it.template, it.sample.question, it.sample.answer,
                                                       it.sample.thinking)}] for it in items]
        out: list[Verdict] = []
        tops = self.backend.top_logprobs(prompts, k=20)
        if not self.digit_split:
            return [Verdict(aggregate_logprobs(t.tokens, scale=scale_of(it.metric)), t.tokens)
                    for it, t in zip(items, tops, strict=True)]
        eot = self.backend.tokenizer.eos_token or ""
        for it, p, t in zip(items, prompts, tops, strict=True):
            if scale_of(it.metric)[1] <= 9:  # one-digit scales need no whole-number scoring
                out.append(Verdict(aggregate_logprobs(t.tokens, scale=scale_of(it.metric)), t.tokens))
                continue
            scores = self.backend.score([(p, f"{n}{eot}") for n in range(101)])
            probs = {n: math.exp(s) for n, s in enumerate(scores)}
            out.append(Verdict(aggregate_number_probs(probs, scale=scale_of(it.metric)), t.tokens))
        return out

    def _labels(self, items: Sequence[JudgeItem]) -> list[Verdict]:
        reqs = [GenRequest(messages=({"role": "user", "content": render(it.template, it.sample.question,
                                                                         it.sample.answer, it.sample.thinking)},),
                           seeds=(0,))
                for it in items]
        comps = self.backend.generate(reqs, GenParams(temperature=0.0, max_tokens=8))
        return [Verdict(reply_label(c[0].text)) for c in comps]
