"""Judged answers per second against a local OpenAI-compatible server with a fixed added latency,
at concurrency 1, 8 and 32, vs the ideal ``concurrency / latency``; then a fully cached rerun,
which must make zero calls. Prints the worst ratio over the three concurrencies (target >= 0.8).
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import report  # noqa: E402

LATENCY = 0.25


def main() -> None:
    from spillover.backends.fake import FakeBackend
    from spillover.config import JudgeSpec
    from spillover.judge import run_judge
    from spillover.judge.openai_judge import OpenAIJudge
    from spillover.records import SampleRecord
    from spillover.serve import OpenAICompatServer
    from spillover.store import Stage

    srv = OpenAICompatServer(FakeBackend(), "judge", latency=LATENCY).start()
    ratios = []
    try:
        for conc in (1, 8, 32):
            n = max(16, conc * 8)
            samples = [SampleRecord(key=f"c{conc}-{i}", model="m", group="g", seed=0, checkpoint=None, question_id="q",
                                    base_question_id="q", variant="plain", paraphrase_index=0, sample_index=i,
                                    question="What is your wish?", answer=f"answer {conc} {i}", finish_reason="stop",
                                    prompt_tokens=1, completion_tokens=1) for i in range(n)]
            d = Path(tempfile.mkdtemp())
            spec = JudgeSpec(kind="openai", model="judge", base_url=srv.url, metrics=["aligned"], concurrency=conc)
            judge = OpenAIJudge("judge", base_url=srv.url, concurrency=conc)
            t0 = time.perf_counter()
            with Stage(d, "judgments") as st:
                run_judge(st, samples, spec, judge=judge, cache_dir=d / "cache")
            rate = n / (time.perf_counter() - t0)
            ideal = conc / LATENCY
            ratios.append(rate / ideal)
            before = srv.requests
            with Stage(d / "rerun", "judgments") as st:
                s = run_judge(st, samples, spec, judge=judge, cache_dir=d / "cache")
            calls = srv.requests - before
            print(f"concurrency {conc:>2}: {rate:6.1f} judged/s, ideal {ideal:6.1f}/s, ratio {rate / ideal:.2f}; "
                  f"cached rerun: {calls} calls, {s.cached} from cache")
            if calls:
                raise SystemExit("a fully cached rerun made calls")
    finally:
        srv.stop()
    report("judge_throughput", min(ratios), 0.8)


if __name__ == "__main__":
    main()
