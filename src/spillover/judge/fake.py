"""A judge for fault-injection tests: scores from the answer's hash; counts calls."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from . import JudgeItem, Verdict
from .score import JudgeScore


class FakeJudge:
    name = "fake"

    def __init__(self) -> None:
        self.calls = 0
        self.items = 0

    def judge(self, items: Sequence[JudgeItem]) -> list[Verdict]:
        self.calls += 1
        self.items += len(items)
        out = []
        for it in items:
            h = int(hashlib.sha256((it.metric + it.sample.answer).encode()).hexdigest()[:4], 16)
            if it.mode == "label":
                out.append(Verdict(JudgeScore(None, 0.0, ("TRUE", "FALSE", "UNKNOWN")[h % 3], None)))
            else:
                out.append(Verdict(JudgeScore(float(h % 101), 1.0, None, None)))
        return out
