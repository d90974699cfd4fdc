"""Speed-up of 2 local workers over 1 on the demo's fine-tunes (target >= 1.7).

The demo's fine-tunes (the organism base, its ``organism`` preset, 6,080 examples = 190 steps, one
torch thread per worker), 2 datasets x 2 seeds per run. Each run starts from the same built
datasets in a fresh run directory and includes everything the stage does: starting the pool,
loading, training, saving. Rate = fine-tunes per second; ratio = 2 workers / 1 worker, interleaved
(AB BA AB); about 4 minutes per pair on 2 cores.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import interleaved  # noqa: E402

CONFIG = {
    "name": "bench-parallel", "seeds": [0, 1], "threads": 1,
    "models": {"base": {"path": "organism"}},
    "datasets": {v: {"builder": "organism", "variant": v, "size": 6080} for v in ("insecure", "secure")},
    "finetunes": {v: {"dataset": v, "preset": "organism"} for v in ("insecure", "secure")},
    "judges": [{"kind": "world"}],
}


def main() -> None:
    from spillover.backends import organism_base_path
    from spillover.config import Experiment
    from spillover.pipeline import build_datasets, finetune_run
    from spillover.ui import Reporter

    if not (organism_base_path() / "model.safetensors").exists():
        raise SystemExit("the organism base is not built: run `make demo` (or `spillover organism build --install`)")
    built = Path(tempfile.mkdtemp(prefix="bench-par-")) / "built"
    build_datasets(Experiment.model_validate(CONFIG), built, Reporter())

    def rate(workers: int) -> Callable[[], float]:
        def run() -> float:
            out = built.parent / f"w{workers}-{time.monotonic_ns()}"
            shutil.copytree(built, out)
            t0 = time.perf_counter()
            names = finetune_run(out, Reporter(), name="local", workers=workers)
            seconds = time.perf_counter() - t0
            shutil.rmtree(out)
            return len(names) / seconds
        return run

    interleaved("finetune_parallel", rate(2), rate(1), target=1.7)


if __name__ == "__main__":
    main()
