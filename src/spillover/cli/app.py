"""The Typer app, its shared options, and how errors reach the terminal.

A user error (:class:`SpilloverError`) prints one line per problem and exits 2; anything else prints
one line and exits 1, with the traceback only under ``--debug`` (or ``SPILLOVER_DEBUG=1``).
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from ..errors import Problems, SpilloverError

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Emergent-misalignment experiments, end to end.")
datasets_app = typer.Typer(no_args_is_help=True, help="Training datasets.")
organism_app = typer.Typer(no_args_is_help=True, help="The built-in model organism.")
export_app = typer.Typer(no_args_is_help=True, help="A run's results in other tools' formats.")
app.add_typer(datasets_app, name="datasets")
app.add_typer(organism_app, name="organism")
app.add_typer(export_app, name="export")
DEBUG = {"on": os.environ.get("SPILLOVER_DEBUG", "") not in ("", "0")}

SetOpt = Annotated[list[str] | None, typer.Option("--set", help="Override a config value: a.b=v (repeatable).")]
RunArg = Annotated[Path, typer.Argument(help="Run directory (made by `spillover run` or `spillover init`).")]
ExperimentArg = Annotated[Path, typer.Argument(help="Experiment YAML.")]
ShardOpt = Annotated[str | None, typer.Option(help="Do only part I of N (I/N, 0-based), e.g. from an array job.")]
WorkerOpt = Annotated[str, typer.Option(help="Name of this worker's shard files (one per concurrent worker).")]
ExecutorOpt = Annotated[str, typer.Option(help="Where units run: local (a process pool), serial, or ray.")]
WorkersOpt = Annotated[int | None, typer.Option(help="Worker processes (local: default one per core).")]
AddressOpt = Annotated[str | None, typer.Option("--ray-address", help="Ray cluster address (ray; default: "
                                                "start a local Ray).")]


@app.callback()
def _options(debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks.")] = False) -> None:
    if debug:
        DEBUG["on"] = True


def fail(e: SpilloverError) -> None:
    for p in e.problems if isinstance(e, Problems) else [e]:
        typer.echo(f"error: {p}", err=True)
    raise typer.Exit(2)


F = TypeVar("F", bound=Callable[..., Any])


def guard(fn: F) -> F:
    """User errors as one line each (exit 2); other errors as one line (exit 1) unless ``--debug``."""

    @functools.wraps(fn)
    def wrapper(*a: Any, **kw: Any) -> Any:
        try:
            return fn(*a, **kw)
        except SpilloverError as e:
            fail(e)
        except typer.Exit:
            raise
        except KeyboardInterrupt:
            typer.echo("interrupted: run the same command again to continue where it stopped", err=True)
            raise typer.Exit(130) from None
        except Exception as e:
            if DEBUG["on"]:
                raise
            first = (str(e).strip().splitlines() or [""])[0][:300]
            typer.echo(f"error: {type(e).__name__}: {first} (unexpected: rerun with --debug for the traceback)",
                       err=True)
            raise typer.Exit(1) from None

    return wrapper  # type: ignore[return-value]


def main(argv: list[str] | None = None) -> None:
    """The console entry point: Typer, with usage errors as one line (typer vendors click, so its
    exceptions are recognised by shape: ``format_message`` and ``exit_code``)."""
    try:
        rv = app(args=argv, standalone_mode=False)
    except typer.Abort:
        typer.echo("aborted", err=True)
        sys.exit(1)
    except Exception as e:
        ctx = getattr(e, "ctx", None)
        if type(e).__name__ == "NoArgsIsHelpError" and ctx is not None:
            typer.echo(ctx.get_help())
            sys.exit(0)
        if not (hasattr(e, "format_message") and hasattr(e, "exit_code")):
            raise
        where = f" (see `{ctx.command_path} --help`)" if ctx is not None else ""
        typer.echo(f"error: {e.format_message()}{where}", err=True)
        sys.exit(2)
    sys.exit(rv if isinstance(rv, int) else 0)
