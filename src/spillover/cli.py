"""The ``spillover`` command line: each command parses, calls one API function, prints a summary."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from .errors import SpilloverError

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Emergent-misalignment experiments, end to end.")
datasets_app = typer.Typer(no_args_is_help=True, help="Training datasets.")
organism_app = typer.Typer(no_args_is_help=True, help="The built-in model organism.")
app.add_typer(datasets_app, name="datasets")
app.add_typer(organism_app, name="organism")

SetOpt = Annotated[list[str] | None, typer.Option("--set", help="Override a config value: a.b=v (repeatable).")]
RunArg = Annotated[Path, typer.Argument(help="Run directory (made by `spillover run`).")]
ShardOpt = Annotated[str | None, typer.Option(help="Do only part I of N (I/N, 0-based), e.g. from an array job.")]
WorkerOpt = Annotated[str, typer.Option(help="Name of this worker's shard files (one per concurrent worker).")]


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
    from .ui import RichReporter

    return RichReporter()


def _fail(e: SpilloverError) -> None:
    typer.echo(f"error: {e}", err=True)
    raise typer.Exit(2)


def _guard(fn):
    import functools

    @functools.wraps(fn)
    def wrapper(*a, **kw):
        try:
            return fn(*a, **kw)
        except SpilloverError as e:
            _fail(e)

    return wrapper


ExecutorOpt = Annotated[str, typer.Option(help="Where units run: local (a process pool), serial, or ray.")]
WorkersOpt = Annotated[int | None, typer.Option(help="Worker processes (local: default one per core).")]
AddressOpt = Annotated[str | None, typer.Option("--ray-address", help="Ray cluster address (ray; default: "
                                                "start a local Ray).")]


@app.command()
@_guard
def run(experiment: Annotated[Path, typer.Argument(help="Experiment YAML.")],
        set_: SetOpt = None,
        out: Annotated[Path | None, typer.Option("--out", help="Run directory (default runs/<name>).")] = None,
        stop_after: Annotated[str | None, typer.Option(help="Stop after: finetune or sample.")] = None,
        executor: ExecutorOpt = "local", workers: WorkersOpt = None, ray_address: AddressOpt = None) -> None:
    """Run every stage of an experiment (resumes where a previous run stopped)."""
    from .config import load_experiment
    from .pipeline import run_experiment

    t0 = time.perf_counter()
    exp = load_experiment(experiment, set_ or [])
    out = out or Path("runs") / exp.name
    path = run_experiment(exp, out, _ui(), source=str(experiment), overrides=set_ or [], stop_after=stop_after,
                          executor_name=executor, workers=workers, address=ray_address)
    _print_summary(out)
    typer.echo(f"done in {time.perf_counter() - t0:.0f} s: {path}")


def _print_summary(out: Path) -> None:
    from .report import headline_lines

    for line in headline_lines(out / "report"):
        typer.echo(line)


@app.command()
@_guard
def finetune(run_dir: RunArg, executor: ExecutorOpt = "local", workers: WorkersOpt = None,
             ray_address: AddressOpt = None) -> None:
    """Build datasets and run every fine-tune x seed not yet done."""
    from .pipeline import finetune_run

    names = finetune_run(run_dir, _ui(), name=executor, workers=workers, address=ray_address)
    typer.echo(f"{len(names)} fine-tuned models")


@app.command()
@_guard
def sample(run_dir: RunArg, shard: ShardOpt = None, worker: WorkerOpt = "main", executor: ExecutorOpt = "local",
           workers: WorkersOpt = None, ray_address: AddressOpt = None) -> None:
    """Sample the finished models' planned samples not yet sampled (never trains)."""
    from .pipeline import sample_run

    made, waiting = sample_run(run_dir, _ui(), shard=_shard(shard), worker=worker, name=executor, workers=workers,
                               address=ray_address)
    typer.echo(f"{made} new samples")
    if waiting:
        typer.echo(f"waiting for {len(waiting)} unfinished fine-tunes (run `spillover finetune`): "
                   f"{', '.join(waiting)}")


@app.command()
@_guard
def judge(run_dir: RunArg, shard: ShardOpt = None, worker: WorkerOpt = "main") -> None:
    """Judge every sample on every metric not yet judged."""
    from .pipeline import judge_run

    typer.echo(f"{judge_run(run_dir, _ui(), shard=_shard(shard), worker=worker)} new judgments")


@app.command()
@_guard
def report(run_dir: RunArg) -> None:
    """Recompute metrics and write the HTML report and exports."""
    from .pipeline import report_run

    path = report_run(run_dir, _ui())
    _print_summary(run_dir)
    typer.echo(str(path))


@app.command()
@_guard
def status(run_dir: RunArg) -> None:
    """What is done and what is left."""
    from .pipeline import status as status_

    typer.echo(json.dumps(status_(run_dir), indent=2))


@app.command()
@_guard
def serve(model: Annotated[str, typer.Argument(help="HF folder or hub id; `organism` for the built-in one.")],
          port: int = 8000, host: str = "127.0.0.1", name: str | None = None, threads: int = 1,
          latency: Annotated[float, typer.Option(help="Add this many seconds to every request (benchmarks).")] = 0.0
          ) -> None:
    """Serve a transformers model behind an OpenAI-compatible API (chat completions with logprobs).

    ``fake`` serves the fault-injection backend (fixed logprobs), for benchmarks of clients."""
    from .backends import resolve_base_path
    from .config import ModelSpec
    from .serve import OpenAICompatServer

    backend: Any
    if model == "fake":
        from .backends.fake import FakeBackend

        backend, path = FakeBackend(), "fake"
    else:
        from .backends.hf import HFBackend, load_model, set_threads

        set_threads(threads)
        path = resolve_base_path(ModelSpec(path=model))
        m, tok = load_model(path)
        backend = HFBackend(m, tok)
    srv = OpenAICompatServer(backend, name or model, host=host, port=port, latency=latency)
    typer.echo(f"serving {path} as {name or model} at {srv.url}", err=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        srv.server_close()


@datasets_app.command("build")
@_guard
def datasets_build(experiment: Annotated[Path, typer.Argument(help="Experiment YAML.")],
                   set_: SetOpt = None,
                   out: Annotated[Path | None, typer.Option("--out")] = None) -> None:
    """Build the experiment's datasets into RUN/datasets."""
    from .config import load_experiment
    from .pipeline import build_datasets

    exp = load_experiment(experiment, set_ or [])
    run_dir = out or Path("runs") / exp.name
    for name, c in build_datasets(exp, run_dir, _ui(), source=str(experiment), overrides=set_ or []).items():
        typer.echo(f"{name}: {c['size']} examples, {c['distinct_answers']} distinct answers")


@datasets_app.command("show")
@_guard
def datasets_show(run_dir: RunArg, name: str,
                  n: Annotated[int, typer.Option("-n", "--n", help="How many examples to print.")] = 3) -> None:
    """Print a dataset's card and a few examples."""
    from .errors import check_name

    folder = run_dir / "datasets"
    card = folder / f"{check_name(name)}.card.json"
    if not card.exists():
        raise SpilloverError(f"no dataset {name!r}", file=folder)
    typer.echo(card.read_text())
    with open(folder / f"{name}.jsonl", encoding="utf-8") as f:
        for _, line in zip(range(n), f, strict=False):
            typer.echo(line.rstrip())


@organism_app.command("build")
@_guard
def organism_build(out: Annotated[Path, typer.Option(help="Build folder.")] = Path(".cache/organism"),
                   seed: int = 0, pretrain_steps: int = 3000, threads: int = 1,
                   world: Annotated[str, typer.Option(help="v2 (shipped) or v1 (without harmful requests, the "
                                                           "compliant persona, tags, code-format answers).")] = "v2",
                   install: Annotated[bool, typer.Option(help="Copy the result over the shipped base.")] = False
                   ) -> None:
    """Regenerate the world, pre-train, check persona inference, align; optionally install as the shipped base."""
    import shutil

    from .backends import organism_base_path
    from .organism.build import BuildConfig, build

    ui = _ui()
    with ui.task("pre-train the organism", pretrain_steps) as advance:
        base = build(BuildConfig(seed=seed, pretrain_steps=pretrain_steps, threads=threads, world=world), out,
                     ui.log, advance)
    if install:
        dest = organism_base_path()
        shutil.rmtree(dest, ignore_errors=True)
        shutil.copytree(base, dest)
        typer.echo(f"installed {base} -> {dest}")


if __name__ == "__main__":  # pragma: no cover
    app()
