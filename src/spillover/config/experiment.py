"""The whole experiment file and its loading with ``--set`` overrides (its cross-reference checks: ``refs``)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator

from ..errors import Problems, SpilloverError, check_name
from ..yamlio import apply_overrides, read_yaml, validate
from .analysis import AnalysisSpec
from .base import Strict
from .datasets import DatasetSpec
from .evaluation import EvalSpec, InsideSpec
from .finetune import FinetuneSpec
from .models import JudgeSpec, ModelSpec


class Experiment(Strict):
    """A whole experiment."""

    name: str = "experiment"
    """Run name (a safe path component)."""
    seeds: list[int] = Field([0], min_length=1, max_length=1000)
    """Fine-tuning seeds: each fine-tune runs once per seed."""
    threads: int = Field(1, ge=1, le=256)
    """Torch threads (1 is fastest on a busy 2-core machine)."""
    models: dict[str, ModelSpec] = {"base": ModelSpec()}
    """Named base models."""
    datasets: dict[str, DatasetSpec] = {}
    """Named training datasets."""
    finetunes: dict[str, FinetuneSpec] = {}
    """Named fine-tunes (each x every seed)."""
    eval: EvalSpec = EvalSpec()
    """Sampling."""
    judges: list[JudgeSpec] = [JudgeSpec()]
    """Judges; every sample is judged on every metric of every judge."""
    inside: InsideSpec = InsideSpec()
    """Directions, checkpoint projections, weight change (the ``hf`` backend)."""
    analysis: AnalysisSpec = AnalysisSpec()
    """Metrics and statistics."""
    report_to: list[Literal["wandb"]] = []
    """Trackers that get fine-tune curves and the report's numbers (``wandb``: the ``wandb`` extra; its own
    environment variables choose project, entity and ``WANDB_MODE=offline``)."""

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        return check_name(v, what="name")

    @model_validator(mode="after")
    def _refs(self) -> Experiment:
        from .refs import reference_problems

        if problems := reference_problems(self):
            raise problems[0] if len(problems) == 1 else Problems(problems)
        return self


def load_experiment(path: str | Path, overrides: list[str] | None = None) -> Experiment:
    """Load and validate an experiment file (errors name file, line and field)."""
    data, node = read_yaml(path)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise SpilloverError("an experiment file must be a mapping", file=path, line=1)
    data = apply_overrides(data, overrides or [])
    exp = validate(Experiment, data, file=path, node=node)
    base = Path(path).resolve().parent
    fixed = {}
    for name, ds in exp.datasets.items():
        if ds.path is not None and not Path(ds.path).is_absolute():
            fixed[name] = ds.model_copy(update={"path": str(base / ds.path)})
    if fixed:
        exp = exp.model_copy(update={"datasets": {**exp.datasets, **fixed}})
    srcs = [q.model_copy(update={"set": str(base / q.set)}) if q.set.endswith((".yaml", ".yml"))
            and not Path(q.set).is_absolute() else q for q in exp.eval.questions]
    if srcs != exp.eval.questions:
        exp = exp.model_copy(update={"eval": exp.eval.model_copy(update={"questions": srcs})})
    return exp
