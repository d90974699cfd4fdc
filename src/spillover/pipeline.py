"""The experiment pipeline: stages wired together, nothing else.

``dataset -> finetune -> sample -> judge -> probe -> analyze -> report``. Each stage's package plans
its units from the run directory (content keys, DONE markers) and runs them; units go to an
executor (this process, a local process pool, or Ray). Running again after a kill continues where
it stopped and redoes nothing. The functions here are the API the CLI calls, one per command.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .config import Experiment
from .execute import Context, Executor, Outcome, Unit, make_executor, raise_failures
from .execute import open_context as context
from .locks import stage_lock
from .store import RunDir
from .ui import Reporter


@contextmanager
def executor(ctx: Context, name: str = "local", workers: int | None = None, address: str | None = None
             ) -> Iterator[Executor]:
    ex = make_executor(name, ctx, workers, address)
    try:
        yield ex
    finally:
        ex.close()


def execute(ex: Executor, ctx: Context, stage: str, units: Sequence[Unit], *,
            total: int | None = None) -> list[Outcome]:
    """Run ``units``, one progress bar for the stage (advanced by each unit's count when ``total`` is
    given, else by one); log each unit's message; then fail naming every unit that failed."""
    if not units:
        return []
    if len(units) < ex.workers:
        ctx.ui.log(f"{stage}: {len(units)} units for {ex.workers} workers, {ex.workers - len(units)} stay idle")
    if ex.workers == 1 and stage == "finetune":  # in this process, each fine-tune shows its own steps
        outcomes = ex.map(units, lambda o: ctx.ui.log(o.result) if isinstance(o.result, str) else None)
    else:
        with ctx.ui.task(f"{stage} ({len(units)} units, {ex.workers} workers)", total or len(units)) as advance:
            def done(o: Outcome) -> None:
                advance(o.result if total and isinstance(o.result, int) else 1)
                if isinstance(o.result, str):
                    ctx.ui.log(o.result)

            outcomes = ex.map(units, done)
    raise_failures(stage, outcomes)
    return outcomes


def finetune_stage(ctx: Context, ex: Executor, *, train: bool = True) -> None:
    from .datasets.stage import run_stage as build_datasets
    from .finetune import stage as finetune

    if ctx.exp.finetunes or ctx.exp.datasets:
        build_datasets(ctx)
    for units in finetune.waves(ctx) if train else ():
        execute(ex, ctx, "finetune", units)


def sample_stage(ctx: Context, ex: Executor, targets: Sequence[Any], shard: tuple[int, int] | None = None,
                 *, complete: bool = True) -> tuple[str, int]:
    """Sample what is planned and not done; marks the stage done (unless sharded, or ``complete`` is
    False because fine-tunes are still missing). Returns the plan's digest and how many were made."""
    from . import sample

    plan = sample.plan_stage(ctx, targets, shard)
    outcomes = execute(ex, ctx, "sample", plan.units, total=sum(len(u.payload[1]) for u in plan.units))
    if shard is None and complete:
        ctx.run.stage("samples").mark_done(digest=plan.digest, planned=plan.planned)
    return plan.digest, sum(o.result for o in outcomes)


def inside_stage(ctx: Context, ex: Executor) -> None:
    """Directions from the judged answers, weight change, then checkpoint projections on the directions."""
    from .inside import stage as inside

    if inside.wanted(ctx):
        plan = inside.plan(ctx)
        execute(ex, ctx, "inside", plan.units)
        execute(ex, ctx, "trace", inside.finish(ctx, plan))


def probe_stage(ctx: Context, ex: Executor, targets: Sequence[Any]) -> None:
    from . import probes

    execute(ex, ctx, "probe", probes.plan(ctx, targets))
    if probes.wanted(ctx):
        ctx.run.stage("probes").mark_done(digest=probes.digest(ctx, targets))


def run_experiment(exp: Experiment, out: Path, ui: Reporter, *, source: str | None = None,
                   overrides: list[str] | None = None, stop_after: str | None = None, executor_name: str = "local",
                   workers: int | None = None, address: str | None = None, judges: dict[str, Any] | None = None
                   ) -> Path:
    """Run every stage (through ``stop_after``); returns the report path (or the run dir if stopped early)."""
    from .config import stages_through
    from .report import build_report

    stages = stages_through(stop_after)
    root = init_run(exp, out, source=source, overrides=overrides)
    ctx = context(root, ui, exp)
    with executor(ctx, executor_name, workers, address) as ex:
        with stage_lock(root, "finetune", command="run"):
            finetune_stage(ctx, ex, train="finetune" in stages)
        if "sample" not in stages:
            return root
        targets = _sample_and_judge(ctx, ex, stages, judges)
        if "inside" not in stages:
            return root
        with stage_lock(root, "inside", command="run"):
            inside_stage(ctx, ex)
        if exp.eval.variants or any(ft.intervene for ft in exp.finetunes.values()):
            # steered and ablated models, and fine-tunes defended with a direction, now that it exists
            with stage_lock(root, "finetune", command="run"):
                finetune_stage(ctx, ex)
            targets = _sample_and_judge(ctx, ex, stages, judges)
        if "report" not in stages:
            return root
        with stage_lock(root, "report", command="run"):
            probe_stage(ctx, ex, targets)
            return build_report(ctx.run, exp, ui)


def _sample_and_judge(ctx: Context, ex: Executor, stages: Sequence[str], judges: dict[str, Any] | None
                      ) -> list[Any]:
    """Sample every target (strict: all fine-tunes are done), then judge when ``stages`` include it."""
    from .judge.stage import run_stage as judge_stage

    targets = ctx.targets.for_eval(strict=True)
    with stage_lock(ctx.run.root, "sample", command="run"):
        digest, _ = sample_stage(ctx, ex, targets)
    if "judge" in stages:
        with stage_lock(ctx.run.root, "judge", command="run"):
            judge_stage(ctx, sample_digest=digest, judges=judges)
    return targets


def build_datasets(exp: Experiment, out: Path, ui: Reporter, *, source: str | None = None,
                   overrides: list[str] | None = None) -> dict[str, dict[str, Any]]:
    """Build the experiment's datasets into ``out``; returns their cards."""
    import json

    from .datasets.stage import run_stage

    root = init_run(exp, out, source=source, overrides=overrides)
    with stage_lock(root, "finetune", command="datasets build"):
        run_stage(context(root, ui, exp))
    return {n: json.loads(RunDir(root).dataset_card(n).read_text()) for n in exp.datasets}


def finetune_run(run_dir: Path, ui: Reporter, **execution: Any) -> list[str]:
    """Build datasets and run every fine-tune x seed not yet done; returns the finished model names."""
    ctx = context(run_dir, ui)
    with executor(ctx, **execution) as ex, stage_lock(ctx.run.root, "finetune", command="finetune"):
        finetune_stage(ctx, ex)
    return sorted(ctx.run.finetune_results())


def sample_run(run_dir: Path, ui: Reporter, *, shard: tuple[int, int] | None = None, worker: str = "main",
               **execution: Any) -> tuple[int, list[str]]:
    """Sample the finished models' planned samples (of one shard); never trains. Returns how many samples
    were made and which fine-tunes it is still waiting for."""
    ctx = context(run_dir, ui, worker=worker)
    waiting = ctx.targets.unfinished()
    with executor(ctx, **execution) as ex, stage_lock(ctx.run.root, "sample", shard, command="sample"):
        _, made = sample_stage(ctx, ex, ctx.targets.for_eval(strict=not waiting), shard, complete=not waiting)
    return made, waiting


def inside_run(run_dir: Path, ui: Reporter, **execution: Any) -> list[str]:
    """Build the directions, weight changes and checkpoint projections the run asks for (after judging);
    returns the directions built."""
    ctx = context(run_dir, ui)
    with executor(ctx, **execution) as ex, stage_lock(ctx.run.root, "inside", command="inside"):
        inside_stage(ctx, ex)
    return sorted(n for n in ctx.exp.inside.directions if ctx.run.direction(n).exists())


def judge_run(run_dir: Path, ui: Reporter, *, shard: tuple[int, int] | None = None, worker: str = "main") -> int:
    """Judge every sample on every metric not yet judged (of one shard); returns how many were judged."""
    from .judge.stage import run_stage

    ctx = context(run_dir, ui, worker=worker)
    with stage_lock(ctx.run.root, "judge", shard, command="judge"):
        return sum(s.judged for s in run_stage(ctx, shard=shard))


def rejudge_run(run_dir: Path, ui: Reporter, judge: str) -> int:
    """Add a judge to a run and judge its saved answers with it (the others' judgments stay); returns how
    many new judgments were made. The report then shows agreement and the rate under each judge."""
    from .errors import Problems
    from .manifest import add_judge, parse_judge, read_config
    from .plan import checks

    read_config(run_dir)
    spec = parse_judge(judge)
    if problems := checks.judge(spec, "--judge"):
        raise Problems(problems)
    with stage_lock(Path(run_dir), "judge", command="rejudge"):
        add_judge(run_dir, spec)
    return judge_run(run_dir, ui)


def init_run(exp: Experiment, out: Path, *, source: str | None = None, overrides: list[str] | None = None) -> Path:
    """Make a run directory (its manifest) for stage-by-stage commands; nothing runs."""
    from .manifest import write_manifest

    run = RunDir(out)
    run.root.mkdir(parents=True, exist_ok=True)
    write_manifest(run.manifest_path, exp, source, overrides or [])
    return run.root


def report_run(run_dir: Path, ui: Reporter, overrides: list[str] | None = None) -> Path:
    """Recompute every number from the records (after results-only ``overrides``); write the report."""
    from .manifest import read_config, reconfigure
    from .report import build_report

    read_config(run_dir)  # a run directory, before any lock is written into it
    with stage_lock(Path(run_dir), "report", command="report"):
        if overrides:
            reconfigure(run_dir, overrides)
        ctx = context(run_dir, ui)
        return build_report(ctx.run, ctx.exp, ui)
