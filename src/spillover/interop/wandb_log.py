"""Weights & Biases: fine-tune curves (one W&B run per fine-tune x seed) and the report's numbers (one
``report`` run), when the experiment says ``report_to: [wandb]``.

Runs are written under ``RUN/wandb``; project, entity and mode come from W&B's own environment
variables (``WANDB_PROJECT`` defaults to the experiment's name, ``WANDB_MODE=offline`` writes locally
for a later ``wandb sync``). The API key is W&B's business: spillover never reads or writes it. Not
guaranteed: a fine-tune resumed after a kill logs the steps it redoes a second time.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ..config import Experiment
from ..errors import MissingExtraError


def _wandb() -> Any:
    try:
        import wandb
    except ImportError:
        raise MissingExtraError("wandb", "report_to: [wandb]") from None
    return wandb


def _init(exp: Experiment, root: Path, **kw: Any) -> Any:
    wandb = _wandb()
    return wandb.init(project=os.environ.get("WANDB_PROJECT", exp.name), dir=str(root), reinit="create_new", **kw)


@contextmanager
def finetune_curves(exp: Experiment, root: Path, name: str, group: str, config: dict[str, Any]
                    ) -> Iterator[Callable[[Any], None]]:
    """A step logger for one fine-tune (loss, learning rate, tokens, seconds per step); a no-op unless
    the experiment reports to W&B."""
    if "wandb" not in exp.report_to:
        yield lambda s: None
        return
    (root / "wandb").mkdir(parents=True, exist_ok=True)
    run = _init(exp, root, name=name, group=group, job_type="finetune", config=config)
    try:
        yield lambda s: run.log({"loss": s.loss, "lr": s.lr, "tokens": s.tokens, "seconds": s.seconds}, step=s.step)
    finally:
        run.finish()


def log_results(exp: Experiment, root: Path, summary: dict[str, Any]) -> None:
    """The report's headline numbers as one W&B run: each group's rate per rule, comparisons, findings."""
    if "wandb" not in exp.report_to:
        return
    wandb = _wandb()
    (root / "wandb").mkdir(parents=True, exist_ok=True)
    run = _init(exp, root, name="report", job_type="report", config={"rules": list(summary["rules"])})
    try:
        values: dict[str, Any] = {}
        for rule, r in summary["rules"].items():
            for g in r["groups"]:
                values[f"misaligned/{rule}/{g['group']}"] = g["seeds"]["rate"]
            for c in r["comparisons"]:
                values[f"difference/{rule}/{c['a']}-{c['b']}"] = c["diff"]
        for f in summary.get("findings", []):
            values[f"findings/{f['finding']}"] = {True: 1, False: 0, None: -1}[f["holds"]]
        run.summary.update(values)
        rows = [[rule, g["group"], g["seeds"]["rate"], g["seeds"]["low"], g["seeds"]["high"], g["n"]]
                for rule, r in summary["rules"].items() for g in r["groups"]]
        run.log({"rates": wandb.Table(columns=["rule", "group", "rate", "low", "high", "n"], data=rows)})
    finally:
        run.finish()
