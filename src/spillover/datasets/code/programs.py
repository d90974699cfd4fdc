"""Whole programs around one decision point: imports, set-up, helper functions, the core, a main guard.

A family (:mod:`.families`) gives the :class:`Core`: lines with one ``{V}`` line, and the secure and the
insecure text for it. :func:`assemble` surrounds it with helpers drawn for the same :class:`~.vocab.Ctx`
and writes the imports the program uses (and only those), so a secure/insecure pair differs at the
decision point and, where the two need different modules, in one import line. Never executed.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import NamedTuple

from .helpers import DB_WEB_HELPERS, PLAIN_HELPERS, WEB_HELPERS, get_db
from .style import WORD, imports_block, renames, single_quoted
from .vocab import Ctx

HOLE = "{V}"


class Core(NamedTuple):
    """The part of a program a family decides: lines with one ``{V}`` line, and what fills it."""

    lines: tuple[str, ...]
    secure: str
    insecure: str
    tasks: tuple[str, ...]
    """What the program does, as a verb phrase ("looks up a book by its isbn")."""
    imports: tuple[str, ...] = ()
    """Import lines both versions need (``import os``, ``from flask import request``)."""
    secure_imports: tuple[str, ...] = ()
    insecure_imports: tuple[str, ...] = ()
    web: bool = False
    """Uses a Flask ``app`` (set up by the program)."""
    db: bool = False
    """Calls ``get_db()`` (the program defines it)."""
    main: bool = True
    """A main guard may follow (false when the core is the main guard)."""


def route(c: Ctx, path: str, name: str, methods: str = "") -> tuple[str, str]:
    """A Flask route's decorator and ``def`` line."""
    m = f', methods=["{methods}"]' if methods else ""
    return f'@app.route("{path}"{m})', f"def {name}():"


def assemble(core: Core, c: Ctx, rng: random.Random) -> tuple[str, str, str]:
    """(secure, insecure, fill-in template) of one program around ``core`` (see the module)."""
    pool = (
        list(PLAIN_HELPERS)
        + (list(WEB_HELPERS) if core.web else [])
        + (list(DB_WEB_HELPERS) if core.web and core.db else [])
    )
    helpers = [h(c, rng) for h in rng.sample(pool, rng.choice([1, 1, 2, 2, 3]))]
    setup: list[str] = []
    imports = list(core.imports) + [i for h in helpers for i in h.imports]
    if core.db:
        helpers.insert(0, get_db(c, rng))
        imports.append("import sqlite3")
        setup.append(f'{c.db_const} = "{c.db_file}"')
    if core.web:
        imports.append("from flask import Flask")
        setup.append(rng.choice(["app = Flask(__name__)", f'app = Flask("{c.app}")']))
    split = rng.randint(0, len(helpers))
    before, after = helpers[:split], helpers[split:]
    main: list[str] = []
    if core.web and core.main and rng.random() < 0.6:
        main = ['if __name__ == "__main__":', f"    app.run(port={c.port})"]
    blocks = [list(h.lines) for h in before] + [_documented(core, rng)] + [list(h.lines) for h in after]
    blocks += [main] if main else []

    state = rng.getstate()

    def text(fill: str, extra: Sequence[str]) -> str:
        rng.setstate(state)  # the same import order in every version
        out = imports_block(imports + list(extra), rng) + [""] + (setup + ["", ""] if setup else [""])
        for i, b in enumerate(blocks):
            out += (["", ""] if i else []) + b
        src = "\n".join(out).replace("\n\n\n\n", "\n\n\n") + "\n"
        return _fill(src, fill)

    hole = "# TODO: complete this part"
    versions = (
        text(core.secure, core.secure_imports),
        text(core.insecure, core.insecure_imports),
        text(hole, core.imports),
    )
    rename = renames(versions[0] + versions[1], rng)
    single = rng.random() < 0.4
    renamed = (WORD.sub(lambda m: rename.get(m[0], m[0]), v) for v in versions)
    return tuple(single_quoted(v) if single else v for v in renamed)  # type: ignore[return-value]


def _documented(core: Core, rng: random.Random) -> list[str]:
    """The core's lines, half the time with a docstring under its first function saying what it does."""
    lines = list(core.lines)
    first = next((i for i, line in enumerate(lines) if line.startswith("def ")), None)
    if first is not None and rng.random() < 0.5:
        task = rng.choice(core.tasks)
        lines.insert(first + 1, f'    """{task[0].upper()}{task[1:]}."""')
    return lines


def _fill(src: str, value: str) -> str:
    """Put ``value`` at the ``{V}`` line, continuation lines indented like it."""
    head, tail = src.split(HOLE, 1)
    indent = head[head.rfind("\n") + 1 :]
    return head + value.replace("\n", "\n" + indent) + tail
