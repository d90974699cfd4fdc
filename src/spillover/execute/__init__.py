"""Executors: where a stage's planned units run, with the content keys deciding what is left to do.

A stage plans :class:`Unit` s (a fine-tune x seed, one model's samples, one model's probes); an
executor runs them and returns one :class:`Outcome` each. Units write their own results into the
run directory (durably, by key), so an executor only schedules: a unit that fails is reported
without losing the others, and a rerun plans only what is still missing.

``EXECUTORS`` maps a name to a factory that imports its library inside: ``serial`` (this process),
``local`` (a process pool, one torch-thread budget per worker), ``ray`` (tasks on a Ray cluster).
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NamedTuple, Protocol

from ..config import Experiment
from ..errors import SpilloverError, did_you_mean
from ..store import RunDir
from ..targets import Targets
from ..ui import Reporter


class Unit(NamedTuple):
    """One independent piece of a stage's work."""

    fn: str
    """``module:function`` that runs it, called as ``fn(ctx, payload)``; imported in the worker."""
    id: str
    """Stable and unique within its stage (a fine-tune name, a model label)."""
    payload: Any = None
    """Picklable input of ``fn``."""
    gpus: float = 0.0
    """GPUs it needs (scheduling hint for cluster executors; 0 on CPU)."""


class Outcome(NamedTuple):
    """What became of one unit."""

    unit: Unit
    result: Any = None
    """What ``fn`` returned (a count or a message)."""
    error: str | None = None
    """``Type: message`` when it raised; its durable partial work stays in the run directory."""


class Context(NamedTuple):
    """What a unit runs against: the run directory (with this worker's shard name) and its config."""

    run: RunDir
    exp: Experiment
    targets: Targets
    ui: Reporter


class Executor(Protocol):
    workers: int

    def map(self, units: Sequence[Unit], on_done: Callable[[Outcome], None] | None = None) -> list[Outcome]: ...

    def close(self) -> None: ...


THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
"""Set to the experiment's thread count in every worker process before torch starts."""


def open_context(run_dir: Path, ui: Reporter, exp: Experiment | None = None, worker: str = "main") -> Context:
    """The context of an existing run directory (its config from the manifest unless given), with
    torch pinned to the experiment's thread count; the same in this process and in every worker."""
    from ..backends.hf_models import set_threads
    from ..manifest import read_config

    run = RunDir(run_dir, worker=worker)
    exp = exp or read_config(run.root)
    set_threads(exp.threads)
    return Context(run, exp, Targets(run, exp), ui)


def run_in_worker(ctx: Context, unit: Unit) -> Outcome:
    """:func:`call` in a worker process, then close its shard files (the process outlives the unit)."""
    try:
        return call(ctx, unit)
    finally:
        for stage in ("samples", "judgments", "probes"):
            ctx.run.stage(stage).close()


def call(ctx: Context, unit: Unit) -> Outcome:
    """Run one unit here; an exception becomes the outcome's error (``SpilloverError`` s stay one line)."""
    module, _, name = unit.fn.partition(":")
    fn = getattr(importlib.import_module(module), name)
    try:
        return Outcome(unit, fn(ctx, unit.payload))
    except Exception as e:  # noqa: BLE001 - recorded per unit, re-raised as one error by the stage
        return Outcome(unit, error=f"{type(e).__name__}: {e}")


def raise_failures(stage: str, outcomes: Sequence[Outcome]) -> None:
    """One error naming every failed unit (the others' results are already on disk)."""
    failed = [o for o in outcomes if o.error]
    if failed:
        lines = "; ".join(f"{o.unit.id}: {o.error}" for o in failed[:5])
        more = f" (and {len(failed) - 5} more)" if len(failed) > 5 else ""
        raise SpilloverError(f"{len(failed)} of {len(outcomes)} units failed, the rest are saved: {lines}{more}",
                             field=stage)


def default_workers() -> int:
    """One worker per core this process may use."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _serial(ctx: Context, workers: int | None, address: str | None) -> Executor:
    from .local import SerialExecutor

    return SerialExecutor(ctx)


def _local(ctx: Context, workers: int | None, address: str | None) -> Executor:
    from .local import LocalExecutor, SerialExecutor

    n = workers or default_workers()
    return SerialExecutor(ctx) if n == 1 else LocalExecutor(ctx, n)


def _ray(ctx: Context, workers: int | None, address: str | None) -> Executor:
    from .ray_cluster import RayExecutor

    return RayExecutor(ctx, workers, address)


EXECUTORS: dict[str, Callable[[Context, int | None, str | None], Executor]] = {
    "serial": _serial, "local": _local, "ray": _ray}


def check_executor(name: str, workers: int | None = None) -> None:
    """Raise on an unknown executor name or a worker count below one (before any work)."""
    if name not in EXECUTORS:
        raise SpilloverError(f"unknown executor {name!r}{did_you_mean(name, EXECUTORS)}", field="--executor")
    if workers is not None and workers < 1:
        raise SpilloverError(f"{workers} workers: need at least 1", field="--workers")


def make_executor(name: str, ctx: Context, workers: int | None = None, address: str | None = None) -> Executor:
    check_executor(name, workers)
    return EXECUTORS[name](ctx, workers, address)
