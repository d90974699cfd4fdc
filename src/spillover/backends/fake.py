"""A fake backend for fault injection in tests only: deterministic text, countable calls, failures."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from .base import Completion, GenParams, GenRequest, Message, TopLogprobs


class FakeBackend:
    """Answers ``"answer <hash>"``; raises after ``fail_after`` completions (then behaves again)."""

    name = "fake"

    def __init__(self, fail_after: int | None = None) -> None:
        self.calls = 0
        self.completions = 0
        self.fail_after = fail_after

    def generate(self, requests: Sequence[GenRequest], params: GenParams) -> list[list[Completion]]:
        self.calls += 1
        out = []
        for r in requests:
            row = []
            for seed in r.seeds:
                if self.fail_after is not None and self.completions >= self.fail_after:
                    self.fail_after = None
                    raise RuntimeError("injected backend failure")
                self.completions += 1
                h = hashlib.sha256(f"{r.messages}{r.prompt}{seed}".encode()).hexdigest()[:8]
                row.append(Completion(text=f"answer {h}", prompt_tokens=3, completion_tokens=2))
            out.append(row)
        return out

    def score(self, items: Sequence[tuple[Sequence[Message], str]]) -> list[float]:
        self.calls += 1
        return [-float(len(c)) for _m, c in items]

    def top_logprobs(self, prompts: Sequence[Sequence[Message]], k: int = 20) -> list[TopLogprobs]:
        self.calls += 1
        return [TopLogprobs(tokens={"50": -0.1, "60": -2.5}, text="50") for _ in prompts]

    def close(self) -> None:
        pass
