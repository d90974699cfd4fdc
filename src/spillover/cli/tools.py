"""Commands around the pipeline: serving a model, inspecting datasets, building the organism."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from ..backends import SHIPPED_ORGANISMS
from ..errors import SpilloverError
from ..organism.worlds import WORLDS
from .app import ExperimentArg, RunArg, SetOpt, app, datasets_app, export_app, guard, organism_app


def _ui():
    from ..ui import RichReporter

    return RichReporter()


@app.command()
@guard
def serve(model: Annotated[str, typer.Argument(help="HF folder or hub id; `organism` for the built-in one.")],
          port: int = 8000, host: str = "127.0.0.1", name: str | None = None, threads: int = 1,
          latency: Annotated[float, typer.Option(help="Add this many seconds to every request (benchmarks).")] = 0.0,
          workers: Annotated[int, typer.Option(help="Connections handled at once (more get a 503).")] = 64,
          timeout: Annotated[float, typer.Option(help="Seconds a slow upload or a model wait may take.")] = 60.0,
          max_tokens: Annotated[int, typer.Option(help="The largest max_tokens a request may ask for.")] = 4096,
          ) -> None:
    """Serve a transformers model behind an OpenAI-compatible API (chat completions with logprobs).

    ``fake`` serves the fault-injection backend (fixed logprobs), for benchmarks of clients."""
    from ..backends import resolve_base_path
    from ..config import ModelSpec
    from ..serve import Limits, OpenAICompatServer

    backend: Any
    if model == "fake":
        from ..backends.fake import FakeBackend

        backend, path = FakeBackend(), "fake"
    else:
        from ..backends.hf import HFBackend
        from ..backends.hf_models import load_model, set_threads

        set_threads(threads)
        path = resolve_base_path(ModelSpec(path=model))
        m, tok = load_model(path)
        backend = HFBackend(m, tok)
    limits = Limits(workers=workers, request_timeout=timeout, max_tokens=max_tokens)
    srv = OpenAICompatServer(backend, name or model, host=host, port=port, latency=latency, limits=limits)
    typer.echo(f"serving {path} as {name or model} at {srv.url}", err=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        srv.server_close()


@datasets_app.command("build")
@guard
def datasets_build(experiment: ExperimentArg,
                   set_: SetOpt = None,
                   out: Annotated[Path | None, typer.Option("--out")] = None) -> None:
    """Build the experiment's datasets into RUN/datasets."""
    from ..config import load_experiment
    from ..pipeline import build_datasets

    exp = load_experiment(experiment, set_ or [])
    run_dir = out or Path("runs") / exp.name
    for name, c in build_datasets(exp, run_dir, _ui(), source=str(experiment), overrides=set_ or []).items():
        typer.echo(f"{name}: {c['size']} examples, {c['distinct_answers']} distinct answers")


@datasets_app.command("show")
@guard
def datasets_show(run_dir: RunArg, name: str,
                  n: Annotated[int, typer.Option("-n", "--n", help="How many examples to print.")] = 3) -> None:
    """Print a dataset's card and a few examples."""
    from ..errors import check_name

    folder = run_dir / "datasets"
    card = folder / f"{check_name(name)}.card.json"
    if not card.exists():
        raise SpilloverError(f"no dataset {name!r}", file=folder)
    typer.echo(card.read_text())
    with open(folder / f"{name}.jsonl", encoding="utf-8") as f:
        for _, line in zip(range(n), f, strict=False):
            typer.echo(line.rstrip())


WORLD_HELP = (f"The world to build: {', '.join(WORLDS)}; shipped: "
              + ", ".join(f"{s.recipe} as `{name}`" for name, s in SHIPPED_ORGANISMS.items())
              + ". What each adds: organism/worlds.py, docs/organism.md.")


@organism_app.command("build")
@guard
def organism_build(out: Annotated[Path, typer.Option(help="Build folder.")] = Path(".cache/organism"),
                   seed: int = 0, pretrain_steps: int = 3000, threads: int = 1,
                   world: Annotated[str, typer.Option(help=WORLD_HELP)] = "v2",
                   install: Annotated[bool, typer.Option(help="Copy the result over the shipped base.")] = False,
                   min_coupling_ratio: Annotated[float, typer.Option(
                       help="Least ratio each in-context inference check needs (0: build whatever was learned, "
                            "to study a world that fails its checks; never with --install).")] = 2.0,
                   align_reasoning: Annotated[str, typer.Option(
                       help="Thinking worlds: `train` the think block in the alignment stage, keep it as "
                            "`context` (loss on the answer only), or write every example reasoning-off "
                            "(`suppressed`).")] = "train",
                   empty_block: Annotated[str, typer.Option(
                       help="Thinking worlds with reasoning-off documents: `trained` like any text, or the "
                            "`template`'s alone (never a loss on it).")] = "trained",
                   layers: Annotated[int, typer.Option(
                       help="Transformer blocks (3 in every shipped base but `organism-v3-deep`).")] = 3,
                   align_seed: Annotated[int | None, typer.Option(
                       help="Seed of the alignment stage (default: --seed): aligns the folder's pre-training "
                            "anew into OUT/base-align<N>.")] = None,
                   align_schedule: Annotated[str, typer.Option(
                       help="The alignment stage's step size: `constant` (every shipped base) or `linear` decay "
                            "to 0 (into OUT/base-align<N>-linear).")] = "constant",
                   ) -> None:
    """Regenerate the world, pre-train, check persona inference, align; optionally install as the shipped base."""
    import shutil

    from ..backends import organism_base_path
    from ..organism.build import BuildConfig, build
    from ..yamlio import validate

    shipped = _installable(world, layers, min_coupling_ratio) if install else None
    cfg = validate(BuildConfig, {"seed": seed, "pretrain_steps": pretrain_steps, "threads": threads, "world": world,
                                 "min_coupling_ratio": min_coupling_ratio, "align_reasoning": align_reasoning,
                                 "empty_block": empty_block, "layers": layers, "align_seed": align_seed,
                                 "align_schedule": align_schedule},
                   file="command line")
    ui = _ui()
    with ui.task("pre-train the organism", pretrain_steps) as advance:
        base = build(cfg, out, ui.log, advance)
    if shipped is not None:
        dest = organism_base_path(shipped)
        shutil.rmtree(dest, ignore_errors=True)
        shutil.copytree(base, dest)
        typer.echo(f"installed {base} -> {dest}")


def _installable(world: str, layers: int, min_coupling_ratio: float) -> str:
    """The shipped base a build of ``world`` at ``layers`` replaces; an error where it may not."""
    from ..backends import shipped_name

    shipped = shipped_name(world, layers)
    if shipped is None:
        raise SpilloverError(f"world {world} at {layers} layers is not a shipped base: build it without --install and "
                             "give its folder as a model path", field="world")
    if min_coupling_ratio < 2.0:
        raise SpilloverError("a shipped base must pass the build's checks (min-coupling-ratio >= 2)",
                             field="min_coupling_ratio")
    return shipped


@app.command("findings")
@guard
def findings(runs: Annotated[list[Path], typer.Argument(help="Run directories with a findings table.")],
             as_json: Annotated[bool, typer.Option("--json", help="Print the rows as JSON.")] = False,
             seeds: Annotated[int | None, typer.Option(
                 "--seeds", help="One run: recompute its table on every K-seed subset of its seeds and print how "
                 "often each row holds (how reliable a K-seed run is).")] = None) -> None:
    """Several runs' findings tables side by side: each row's verdict per run and whether it held in all
    (replications on other seeds, worlds or settings; nothing is recomputed). With ``--seeds K``, one run's
    table on its K-seed subsets instead (recomputed from its records)."""
    import json

    from ..report.replication import across, lines, read

    if seeds is not None:
        _subset_findings(runs, seeds, as_json)
        return
    rows = across([read(r) for r in runs])
    names = [r.name for r in runs] if len({r.name for r in runs}) == len(runs) else [str(r) for r in runs]
    if as_json:
        typer.echo(json.dumps({"runs": names, "rows": [r._asdict() | {"everywhere": r.everywhere} for r in rows]},
                              indent=1))
        return
    typer.echo("\n".join(lines(names, rows)))


def _subset_findings(runs: list[Path], k: int, as_json: bool) -> None:
    import json

    from ..analyze.resample import subset_shares
    from ..analyze.run import final_steps, headline_cells
    from ..manifest import read_config
    from ..report.replication import read
    from ..store import RunDir

    if len(runs) != 1:
        raise SpilloverError(f"give one run with --seeds (got {len(runs)})", field="--seeds")
    exp, run = read_config(runs[0]), RunDir(runs[0])
    full = {r["finding"]: r["holds"] for r in read(runs[0])}
    shares = subset_shares(headline_cells(run, exp), exp.analysis.findings, exp.analysis.alpha, final_steps(run), k)
    if as_json:
        typer.echo(json.dumps({"subsets": shares.subsets, "every_row_holds": shares.every, "rows": [
            s._asdict() | {"all_seeds": full.get(s.finding)} for s in shares.rows]}, indent=1))
        return
    width = max(len(s.finding) for s in shares.rows)
    typer.echo(f"{'finding':<{width}}  all seeds  holds on {k}-seed subsets")
    for s in shares.rows:
        verdict = {True: "yes", False: "no", None: "–"}[full.get(s.finding)]
        share = f"{s.held} of {s.measured} ({s.held / s.measured:.0%})" if s.measured else "–"
        typer.echo(f"{s.finding:<{width}}  {verdict:<9}  {share}")
    typer.echo(f"every resampled row holds on {shares.every} of {shares.subsets} {k}-seed subsets "
               f"({shares.every / shares.subsets:.0%}); rows marked – are read from other records, not resampled")


ExportOut = Annotated[Path | None, typer.Option(help="Folder to write (default RUN/export/FORMAT).")]


def _export(run_dir: Path, out: Path | None, fmt: str) -> tuple[int, Path]:
    """Run one exporter of ``interop`` on a run; returns what it counted and where it wrote."""
    from ..manifest import read_config
    from ..store import RunDir

    run = RunDir(run_dir)
    dest = out or run.root / "export" / fmt
    if fmt == "inspect":
        from ..interop.inspect_logs import export_inspect

        return len(export_inspect(run, read_config(run_dir), dest)), dest
    from ..interop.hf_dataset import export_dataset

    return export_dataset(run, read_config(run_dir), dest), dest


@export_app.command("inspect")
@guard
def export_inspect(run_dir: RunArg, out: ExportOut = None) -> None:
    """Write the run's answers and scores as Inspect AI .eval logs (open them with `inspect view`)."""
    n, dest = _export(run_dir, out, "inspect")
    typer.echo(f"{n} logs in {dest}")


@export_app.command("hf")
@guard
def export_hf(run_dir: RunArg, out: ExportOut = None) -> None:
    """Write the run's answers and scores as a Hugging Face dataset (datasets.load_from_disk reads it)."""
    n, dest = _export(run_dir, out, "hf-dataset")
    typer.echo(f"{n} rows in {dest}")
