"""Progress reporting: rich progress bars in a terminal, silence in tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any


class Reporter:
    """Hands out progress callbacks; the base class is silent."""

    def log(self, msg: str) -> None:
        pass

    @contextmanager
    def task(self, description: str, total: int | None) -> Iterator[Callable[..., None]]:
        yield lambda advance=1, **fields: None


class RichReporter(Reporter):
    def __init__(self) -> None:
        from rich.console import Console

        self.console = Console(stderr=True)

    def log(self, msg: str) -> None:
        self.console.print(msg, highlight=False)

    @contextmanager
    def task(self, description: str, total: int | None) -> Iterator[Callable[..., None]]:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                      TextColumn("{task.fields[info]}"), TimeElapsedColumn(), console=self.console,
                      transient=False) as prog:
            tid = prog.add_task(description, total=total, info="")

            def advance(n: int = 1, total: int | None = None, **fields: Any) -> None:
                info = " ".join(f"{k} {v}" for k, v in fields.items())
                prog.update(tid, advance=n, info=info)
                if total:
                    prog.update(tid, total=total)

            yield advance
