"""One error type for everything a user can get wrong.

A :class:`SpilloverError` renders as a single line ``file:line: field: message`` and the CLI exits
with code 2 on it, without a traceback. Bugs in spillover itself stay ordinary exceptions.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path


class SpilloverError(ValueError):
    """A user-facing error that names where the problem is.

    A ``ValueError`` so that pydantic validators can raise it and the loader still adds file and line.
    """

    def __init__(
        self,
        message: str,
        *,
        file: str | Path | None = None,
        line: int | None = None,
        field: str | None = None,
    ) -> None:
        self.message = message
        self.file = str(file) if file is not None else None
        self.line = line
        self.field = field
        super().__init__(str(self))

    def __str__(self) -> str:
        where = ""
        if self.file:
            where = self.file + (f":{self.line}" if self.line else "") + ": "
        field = f"{self.field}: " if self.field else ""
        return f"{where}{field}{self.message}"


class Problems(SpilloverError):
    """Several user errors found at once (a plan's checks); renders one line per problem."""

    def __init__(self, problems: list[SpilloverError]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))

    def __str__(self) -> str:
        return "\n".join(str(p) for p in self.problems)


def install_hint(extra: str) -> str:
    """How to add an extra, from a clone or an installed package.

    >>> install_hint("vllm")
    "make install EXTRAS=train,vllm (a clone) or pip install -e '.[vllm]'"
    """
    return f"make install EXTRAS=train,{extra} (a clone) or pip install -e '.[{extra}]'"


class MissingExtraError(SpilloverError):
    """An optional dependency group is not installed."""

    def __init__(self, extra: str, what: str, *, field: str | None = None) -> None:
        super().__init__(f"{what} needs the `{extra}` extra: {install_hint(extra)}", field=field)


def did_you_mean(name: object, choices: Iterable[str]) -> str:
    """A hint naming the closest choice, and the choices when there are few.

    >>> did_you_mean("betly", ["betley", "model-organisms"])
    " (did you mean 'betley'? have: betley, model-organisms)"
    >>> did_you_mean("zzz", ["a", "b"])
    ' (have: a, b)'
    """
    import difflib

    choices = [str(c) for c in choices]
    close = difflib.get_close_matches(str(name), choices, n=1, cutoff=0.6)
    have = f"have: {', '.join(choices)}" if len(choices) <= 12 else f"{len(choices)} choices"
    return f" (did you mean {close[0]!r}? {have})" if close else f" ({have})"


def check_name(name: str, *, what: str = "name") -> str:
    """Validate a name that becomes part of a path: letters, digits, ``-_.@``, no traversal.

    >>> check_name("insecure-s0")
    'insecure-s0'
    >>> check_name("../etc")
    Traceback (most recent call last):
    ...
    spillover.errors.SpilloverError: name: '../etc' is not a safe name (letters, digits, - _ . @ only)
    """
    import re

    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.@-]{0,127}", name) or ".." in name:
        raise SpilloverError(f"{name!r} is not a safe name (letters, digits, - _ . @ only)", field=what)
    return name
