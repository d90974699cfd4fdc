"""Weights & Biases: the report's numbers as one ``report`` run, when the experiment says
``report_to: [wandb]`` (the fine-tune curves are logged by the fine-tune stage: :mod:`spillover.tracking`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..config import Experiment
from ..tracking import start_run, wandb_module


def log_results(exp: Experiment, root: Path, summary: dict[str, Any]) -> None:
    """The report's headline numbers as one W&B run: each group's rate per rule, comparisons, findings."""
    if "wandb" not in exp.report_to:
        return
    wandb = wandb_module()
    run = start_run(exp, root, name="report", job_type="report", config={"rules": list(summary["rules"])})
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
