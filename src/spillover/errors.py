"""One error type for everything a user can get wrong.

A :class:`SpilloverError` renders as a single line ``file:line: field: message`` and the CLI exits
with code 2 on it, without a traceback. Bugs in spillover itself stay ordinary exceptions.
"""

from __future__ import annotations

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


class MissingExtraError(SpilloverError):
    """An optional dependency group is not installed."""

    def __init__(self, extra: str, what: str) -> None:
        super().__init__(f"{what} needs the `{extra}` extra: pip install 'spillover[{extra}]'")


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
