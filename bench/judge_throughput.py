"""Judged answers per second against a local OpenAI-compatible server with a fixed added latency,
at concurrency 1, 8 and 32, vs the ideal ``concurrency / latency``, each repeated 3 times (median and
spread); each followed by a fully cached rerun, which must make zero calls. Prints the worst median
over the three concurrencies (target >= 0.8).

The server (``spillover serve fake --latency``) runs in its own process, as a real server would, so
client and server do not share one interpreter lock.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import report  # noqa: E402

LATENCY = 0.25
REPEATS = 3


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
            runs = [_measure(url, conc, f"{conc}-{r}") for r in range(REPEATS)]
            med = statistics.median(r for r, _ in runs)
            ratios.append(med)
            print(f"concurrency {conc:>2}: ratio to ideal {conc / LATENCY:.0f}/s, median of {REPEATS} {med:.2f} "
                  f"(spread {min(r for r, _ in runs):.2f}-{max(r for r, _ in runs):.2f}); cached reruns made "
                  f"{sum(c for _, c in runs)} calls")
            if any(c for _, c in runs):
                raise SystemExit("a fully cached rerun made calls")
    finally:
        proc.kill()
    report("judge_throughput", min(ratios), 0.8)


def _measure(url: str, conc: int, tag: str) -> tuple[float, int]:
    """One timed pass at ``conc`` against the ideal ``conc / LATENCY``, then a fully cached rerun:
    (ratio, calls the rerun made)."""
    from spillover.config import JudgeSpec
    from spillover.judge import run_judge
    from spillover.judge.openai_judge import OpenAIJudge
    from spillover.records import SampleRecord
    from spillover.store import Stage

    n = max(16, conc * 8)
    samples = [SampleRecord(key=f"c{tag}-{i}", model="m", group="g", seed=0, checkpoint=None, question_id="q",
                            base_question_id="q", variant="plain", paraphrase_index=0, sample_index=i,
                            question="What is your wish?", answer=f"answer {tag} {i}", finish_reason="stop",
                            prompt_tokens=1, completion_tokens=1) for i in range(n)]
    d = Path(tempfile.mkdtemp())
    spec = JudgeSpec(kind="openai", model="judge", base_url=url, metrics=["aligned"], concurrency=conc)
    judge = OpenAIJudge("judge", base_url=url, concurrency=conc)
    t0 = time.perf_counter()
    with Stage(d, "judgments") as st:
        run_judge(st, samples, spec, judge=judge, cache_dir=d / "cache")
    rate = n / (time.perf_counter() - t0)
    before = judge.calls
    with Stage(d / "rerun", "judgments") as st:
        run_judge(st, samples, spec, judge=judge, cache_dir=d / "cache")
    return rate / (conc / LATENCY), judge.calls - before


if __name__ == "__main__":
    main()
