"""The pipeline's commands: plan, init, run, and one command per stage."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from ..errors import Problems, SpilloverError
from .app import AddressOpt, ExecutorOpt, ExperimentArg, RunArg, SetOpt, ShardOpt, WorkerOpt, WorkersOpt, app, guard

OutOpt = Annotated[Path | None, typer.Option("--out", help="Run directory (default runs/<name>).")]
StopOpt = Annotated[str | None, typer.Option(help="Stop after this stage: datasets, finetune, sample, judge.")]
GpuOpt = Annotated[str, typer.Option(help="GPU the time estimate assumes (a name in rates.yaml).")]


def _shard(value: str | None) -> tuple[int, int] | None:
    if value is None:
        return None
    try:
        i, n = (int(x) for x in value.split("/"))
    except ValueError:
        raise SpilloverError(f"{value!r} is not of the form I/N", field="--shard") from None
    if not 0 <= i < n:
        raise SpilloverError(f"shard {i} is not in 0..{n - 1}", field="--shard")
    return i, n


def _ui():
    from ..ui import RichReporter

    return RichReporter()


def _preflight(experiment: Path, set_: list[str], out: Path | None, stop_after: str | None, executor: str,
               gpu: str = "A100-80GB", workers: int | None = None):
    """Load, check that the run directory does the same work, check every stage's needs, and plan.
    Raises :class:`Problems` listing everything found (the plan is printed first), before any write."""
    from ..config import load_experiment, stages_through
    from ..execute import check_executor
    from ..manifest import check_same_work
    from ..plan.checks import located, need_modules, stage_checks
    from ..plan.estimate import make_plan
    from ..plan.render import render
    from ..rates import rates

    stages = stages_through(stop_after)
    check_executor(executor, workers)
    exp = load_experiment(experiment, set_)
    out = out or Path("runs") / exp.name
    check_same_work(out / "manifest.json", exp)
    if gpu not in rates()["gpus"]:
        from ..errors import did_you_mean

        raise SpilloverError(f"unknown GPU {gpu!r}{did_you_mean(gpu, rates()['gpus'])}", field="--gpu")
    problems = stage_checks(exp, stages)
    if executor == "ray":
        problems += need_modules(("ray",), "the ray executor", "--executor")
    plan = make_plan(exp, out, gpu, located(problems, experiment), workers if executor == "local" else None)
    return exp, out, plan, render(plan)


@app.command()
@guard
def plan(experiment: ExperimentArg, set_: SetOpt = None, out: OutOpt = None, stop_after: StopOpt = None,
         executor: ExecutorOpt = "local", gpu: GpuOpt = "A100-80GB") -> None:
    """What an experiment will do and cost, what is done, and every problem that would stop it."""
    t0 = time.perf_counter()
    exp, out, p, lines = _preflight(experiment, set_ or [], out, stop_after, executor, gpu)
    typer.echo(f"plan of {exp.name} ({len(exp.seeds)} seeds) into {out}:")
    for line in lines:
        typer.echo(line)
    typer.echo(f"planned in {time.perf_counter() - t0:.1f} s")
    if p.problems:
        raise Problems(p.problems)


@app.command()
@guard
def init(experiment: ExperimentArg, set_: SetOpt = None, out: OutOpt = None) -> None:
    """Make a run directory for stage-by-stage commands (finetune, sample, judge, report)."""
    from ..config import load_experiment
    from ..manifest import check_same_work
    from ..pipeline import init_run
    from ..plan.checks import located, questions

    exp = load_experiment(experiment, set_ or [])
    out = out or Path("runs") / exp.name
    check_same_work(out / "manifest.json", exp)
    if problems := located(questions(exp), experiment):
        raise Problems(problems)
    typer.echo(str(init_run(exp, out, source=str(experiment), overrides=set_ or [])))


@app.command()
@guard
def run(experiment: ExperimentArg, set_: SetOpt = None, out: OutOpt = None, stop_after: StopOpt = None,
        executor: ExecutorOpt = "local", workers: WorkersOpt = None, ray_address: AddressOpt = None,
        yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask before spending money.")] = False,
        confirm_above: Annotated[float, typer.Option(help="Ask before a plan that costs more (USD).")] = 10.0
        ) -> None:
    """Run every stage of an experiment (resumes where a previous run stopped)."""
    from ..pipeline import run_experiment

    t0 = time.perf_counter()
    exp, out, p, lines = _preflight(experiment, set_ or [], out, stop_after, executor, workers=workers)
    if p.problems:
        raise Problems(p.problems)
    for line in lines:
        typer.echo(line, err=True)
    if p.usd > confirm_above and not yes:
        if not sys.stdin.isatty():
            raise SpilloverError(f"the plan costs ≈ ${p.usd:,.2f} (more than ${confirm_above:g}): rerun with --yes",
                                 field="--confirm-above")
        typer.confirm(f"spend ≈ ${p.usd:,.2f}?", abort=True)
    path = run_experiment(exp, out, _ui(), source=str(experiment), overrides=set_ or [], stop_after=stop_after,
                          executor_name=executor, workers=workers, address=ray_address)
    _print_summary(out)
    typer.echo(f"done in {time.perf_counter() - t0:.0f} s: {path}")


def _print_summary(out: Path) -> None:
    from ..report import headline_lines

    for line in headline_lines(out / "report"):
        typer.echo(line)


def _stage_checks(run_dir: Path, stage: str) -> None:
    """The checks of one stage, on a run directory's config."""
    from ..manifest import read_config
    from ..plan.checks import stage_checks

    if problems := stage_checks(read_config(run_dir), (stage,)):
        raise Problems([SpilloverError(p.message, file=run_dir / "manifest.json", field=p.field)
                        if not p.file else p for p in problems])


def _checked_stage(run_dir: Path, stage: str, fn: Any, executor: str, workers: int | None, address: str | None
                   ) -> Any:
    """A stage's checks on the run's config, then the stage on an executor."""
    _stage_checks(run_dir, stage)
    return fn(run_dir, _ui(), name=executor, workers=workers, address=address)


@app.command()
@guard
def finetune(run_dir: RunArg, executor: ExecutorOpt = "local", workers: WorkersOpt = None,
             ray_address: AddressOpt = None) -> None:
    """Build datasets and run every fine-tune x seed not yet done."""
    from ..pipeline import finetune_run

    names = _checked_stage(run_dir, "finetune", finetune_run, executor, workers, ray_address)
    typer.echo(f"{len(names)} fine-tuned models")


@app.command()
@guard
def sample(run_dir: RunArg, shard: ShardOpt = None, worker: WorkerOpt = "main", executor: ExecutorOpt = "local",
           workers: WorkersOpt = None, ray_address: AddressOpt = None) -> None:
    """Sample the finished models' planned samples not yet sampled (never trains)."""
    from ..pipeline import sample_run

    part = _shard(shard)
    _stage_checks(run_dir, "sample")
    made, waiting = sample_run(run_dir, _ui(), shard=part, worker=worker, name=executor, workers=workers,
                               address=ray_address)
    typer.echo(f"{made} new samples")
    if waiting:
        typer.echo(f"waiting for {len(waiting)} unfinished fine-tunes (run `spillover finetune`): "
                   f"{', '.join(waiting)}")


@app.command()
@guard
def judge(run_dir: RunArg, shard: ShardOpt = None, worker: WorkerOpt = "main") -> None:
    """Judge every sample on every metric not yet judged."""
    from ..pipeline import judge_run

    part = _shard(shard)
    _stage_checks(run_dir, "judge")
    typer.echo(f"{judge_run(run_dir, _ui(), shard=part, worker=worker)} new judgments")


@app.command()
@guard
def inside(run_dir: RunArg, executor: ExecutorOpt = "local", workers: WorkersOpt = None,
           ray_address: AddressOpt = None) -> None:
    """Build the run's directions, weight changes and checkpoint projections (after judging)."""
    from ..pipeline import inside_run

    names = _checked_stage(run_dir, "inside", inside_run, executor, workers, ray_address)
    typer.echo(f"directions: {', '.join(names) or 'none'}; steered and ablated models: `spillover sample` then "
               "`spillover judge`")


@app.command()
@guard
def rejudge(run_dir: RunArg, judge_spec: Annotated[str, typer.Argument(
        metavar="JUDGE", help="A judge as a YAML mapping, e.g. \"{kind: openai, model: gpt-4.1-mini}\".")]) -> None:
    """Score a run's saved answers with one more judge (nothing is resampled), then report agreement."""
    from ..pipeline import rejudge_run, report_run

    typer.echo(f"{rejudge_run(run_dir, _ui(), judge_spec)} new judgments")
    typer.echo(str(report_run(run_dir, _ui())))


@app.command()
@guard
def report(run_dir: RunArg, set_: SetOpt = None) -> None:
    """Recompute metrics and write the HTML report and exports (``--set analysis.…`` re-analyses)."""
    from ..pipeline import report_run

    path = report_run(run_dir, _ui(), set_ or [])
    _print_summary(run_dir)
    typer.echo(str(path))


@app.command()
@guard
def status(run_dir: RunArg) -> None:
    """What is done and what is left."""
    from ..status import status as status_

    typer.echo(json.dumps(status_(run_dir), indent=2))
