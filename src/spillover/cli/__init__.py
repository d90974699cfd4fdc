"""The ``spillover`` command line: each command parses, calls one API function, prints a summary."""

from __future__ import annotations

from . import commands, tools  # noqa: F401  (register the commands)
from .app import app, main

__all__ = ["app", "main"]
