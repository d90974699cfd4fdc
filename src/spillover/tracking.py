"""Experiment trackers (``report_to``): W&B runs under ``RUN/wandb`` for fine-tune curves and results.

Project, entity and mode come from W&B's own environment variables (``WANDB_PROJECT`` defaults to the
experiment's name; ``WANDB_MODE=offline`` writes locally for a later ``wandb sync``). The API key is
W&B's business: spillover never reads or writes it. Not guaranteed: a fine-tune resumed after a kill
logs the steps it redoes a second time.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .config import Experiment
from .errors import MissingExtraError


def wandb_module() -> Any:
    try:
        import wandb
    except ImportError:
        raise MissingExtraError("wandb", "report_to: [wandb]") from None
    return wandb


def start_run(exp: Experiment, root: Path, **kw: Any) -> Any:
    """A new W&B run of this experiment, written under ``root/wandb``."""
    (root / "wandb").mkdir(parents=True, exist_ok=True)
    return wandb_module().init(project=os.environ.get("WANDB_PROJECT", exp.name), dir=str(root),
                               reinit="create_new", **kw)


@contextmanager
def finetune_curves(exp: Experiment, root: Path, name: str, group: str, config: dict[str, Any]
                    ) -> Iterator[Callable[[Any], None]]:
    """A step logger for one fine-tune (loss, learning rate, tokens, seconds per step); a no-op unless
    the experiment reports to W&B."""
    if "wandb" not in exp.report_to:
        yield lambda s: None
        return
    run = start_run(exp, root, name=name, group=group, job_type="finetune", config=config)
    try:
        yield lambda s: run.log({"loss": s.loss, "lr": s.lr, "tokens": s.tokens, "seconds": s.seconds}, step=s.step)
    finally:
        run.finish()
