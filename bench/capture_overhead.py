"""What reading activations costs: sampling while capturing every layer's mean over each answer's tokens
(what the sample stage does for models whose answers form a direction) vs sampling alone, on the
organism with the eval's own questions and lengths. Target: capture adds <= 20 % to a sampling pass,
i.e. a samples/s ratio >= 0.83. Also printed, for reference: the teacher-forced second pass used for
answers sampled before a direction was asked for (about as costly as sampling on a CPU). Interleaved
pairs, median printed."""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import interleaved, threads  # noqa: E402


def main() -> None:
    from spillover.backends import organism_base_path
    from spillover.backends.base import GenRequest
    from spillover.backends.hf import HFBackend
    from spillover.backends.hf_models import load_model
    from spillover.backends.hooks import n_layers
    from spillover.config import GenParams
    from spillover.inside.capture import answer_means
    from spillover.organism import world

    threads()
    model, tok = load_model(organism_base_path())
    backend = HFBackend(model, tok, batch_size=128)
    reqs = [GenRequest(messages=({"role": "user", "content": q.phrasings[0]},), seeds=tuple(range(32)))
            for q in world.EVAL_QUESTIONS]
    params = GenParams(temperature=1.0, max_tokens=45)
    layers = list(range(n_layers(model) + 1))
    n = sum(len(r.seeds) for r in reqs)

    def sample(capture: bool = False) -> list[tuple[GenRequest, str]]:
        out = backend.generate(reqs, params, capture=capture)
        return [(r, c.text) for r, row in zip(reqs, out, strict=True) for c in row]

    def timed(fn: object) -> float:
        t0 = time.perf_counter()
        fn()  # type: ignore[operator]
        return n / (time.perf_counter() - t0)

    sample()  # warm-up
    interleaved("capture_overhead_organism", lambda: timed(lambda: sample(capture=True)), lambda: timed(sample),
                target=0.83, repeats=5)
    interleaved("teacher_forced_second_pass_organism", lambda: timed(lambda: answer_means(backend, sample(), layers)),
                lambda: timed(sample), target="none (reference)", repeats=3)


if __name__ == "__main__":
    main()
