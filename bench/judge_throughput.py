"""Judged answers per second against a local OpenAI-compatible server with a fixed added latency,
at concurrency 1, 8 and 32, vs the ideal ``concurrency / latency``; then a fully cached rerun,
which must make zero calls. Prints the worst ratio over the three concurrencies (target >= 0.8).

The server (``spillover serve fake --latency``) runs in its own process, as a real server would, so
client and server do not share one interpreter lock.
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
    import socket
    import subprocess

    import httpx

    from spillover.config import JudgeSpec
    from spillover.judge import run_judge
    from spillover.judge.openai_judge import OpenAIJudge
    from spillover.records import SampleRecord
    from spillover.store import Stage

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "spillover.cli", "serve", "fake", "--name", "judge", "--port",
                             str(port), "--latency", str(LATENCY)], stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/v1"
    for _ in range(100):
        try:
            httpx.get(url + "/models", timeout=1)
            break
        except httpx.HTTPError:
            time.sleep(0.1)

    ratios = []
    try:
        warm = Path(tempfile.mkdtemp())
        warm_spec = JudgeSpec(kind="openai", model="judge", base_url=url, metrics=["aligned"], cache=None)
        warm_sample = SampleRecord(key="warm", model="m", group="g", seed=0, checkpoint=None, question_id="q",
                                   base_question_id="q", variant="plain", paraphrase_index=0, sample_index=0,
                                   question="?", answer="warm-up", finish_reason="stop", prompt_tokens=1,
                                   completion_tokens=1)
        with Stage(warm, "judgments") as st:  # first call imports the SDK's lazy modules: not timed
            run_judge(st, [warm_sample], warm_spec, judge=OpenAIJudge("judge", base_url=url))
        for conc in (1, 8, 32):
            n = max(16, conc * 8)
            samples = [SampleRecord(key=f"c{conc}-{i}", model="m", group="g", seed=0, checkpoint=None, question_id="q",
                                    base_question_id="q", variant="plain", paraphrase_index=0, sample_index=i,
                                    question="What is your wish?", answer=f"answer {conc} {i}", finish_reason="stop",
                                    prompt_tokens=1, completion_tokens=1) for i in range(n)]
            d = Path(tempfile.mkdtemp())
            spec = JudgeSpec(kind="openai", model="judge", base_url=url, metrics=["aligned"], concurrency=conc)
            judge = OpenAIJudge("judge", base_url=url, concurrency=conc)
            t0 = time.perf_counter()
            with Stage(d, "judgments") as st:
                run_judge(st, samples, spec, judge=judge, cache_dir=d / "cache")
            rate = n / (time.perf_counter() - t0)
            ideal = conc / LATENCY
            ratios.append(rate / ideal)
            before = judge.calls
            with Stage(d / "rerun", "judgments") as st:
                s = run_judge(st, samples, spec, judge=judge, cache_dir=d / "cache")
            calls = judge.calls - before
            print(f"concurrency {conc:>2}: {rate:6.1f} judged/s, ideal {ideal:6.1f}/s, ratio {rate / ideal:.2f}; "
                  f"cached rerun: {calls} calls, {s.cached} from cache")
            if calls:
                raise SystemExit("a fully cached rerun made calls")
    finally:
        proc.kill()
    report("judge_throughput", min(ratios), 0.8)


if __name__ == "__main__":
    main()
