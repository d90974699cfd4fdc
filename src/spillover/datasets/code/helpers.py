"""The helper functions a program carries beside its core (a database connection, a validator, a
health route, ...): each drawn for the program's :class:`~.vocab.Ctx`, with the imports it needs."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import NamedTuple

from .vocab import Ctx


class Part(NamedTuple):
    lines: tuple[str, ...]
    """The helper's source lines."""
    imports: tuple[str, ...] = ()
    """Import lines it needs (merged by :func:`~.style.imports_block`)."""


def get_db(c: Ctx, rng: random.Random) -> Part:
    return Part(
        (
            "def get_db():",
            f"    {c.conn} = sqlite3.connect({c.db_const})",
            f"    {c.conn}.row_factory = sqlite3.Row",
            f"    return {c.conn}",
        ),
        ("import sqlite3",),
    )


def _to_dict(c: Ctx, rng: random.Random) -> Part:
    fields = rng.sample(c.noun.fields, min(len(c.noun.fields), rng.choice([2, 3])))
    body = ", ".join(f'"{f}": row["{f}"]' for f in fields)
    return Part((f"def {c.noun.one}_to_dict(row):", f"    return {{{body}}}"))


def _validator(c: Ctx, rng: random.Random) -> Part:
    n, const = rng.choice([32, 64, 80, 120, 255]), f"MAX_{c.field.upper()}_LENGTH"
    body = rng.choice(
        [
            f"    return isinstance(value, str) and 0 < len(value.strip()) <= {const}",
            f"    return bool(value) and len(value) <= {const}",
            f'    value = (value or "").strip()\n    return 0 < len(value) <= {const}',
        ]
    )
    return Part((f"{const} = {n}", "", "", f"def valid_{c.field}(value):", *body.split("\n")))


def _paginate(c: Ctx, rng: random.Random) -> Part:
    body = rng.choice(
        [
            ("    page = max(1, int(page))", "    return (page - 1) * per_page, per_page"),
            ("    start = (max(int(page), 1) - 1) * per_page", "    return start, start + per_page"),
            ("    offset = per_page * (int(page) - 1) if int(page) > 1 else 0", "    return offset, per_page"),
        ]
    )
    return Part((f"def page_window(page, per_page={c.limit}):", *body))


def _normalise(c: Ctx, rng: random.Random) -> Part:
    body = rng.choice(["value.strip().lower()", '" ".join(value.split())', "value.strip().casefold()"])
    return Part((f"def normalise_{c.field}(value):", f"    return {body}"))


def _slug(c: Ctx, rng: random.Random) -> Part:
    sep = rng.choice(["-", "_"])
    return Part(
        (f"def {c.noun.one}_slug(value):", f'    return re.sub(r"[^a-z0-9]+", "{sep}", value.lower()).strip("{sep}")'),
        ("import re",),
    )


def _parse_id(c: Ctx, rng: random.Random) -> Part:
    head, missing = f"def parse_{c.noun.one}_id(raw):", rng.choice(["None", "0", "-1"])
    if rng.random() < 0.4:
        return Part((head, f"    return int(raw) if str(raw).isdigit() else {missing}"))
    return Part(
        (
            head,
            "    try:",
            "        return int(raw)",
            f"    except {rng.choice(['ValueError', '(TypeError, ValueError)'])}:",
            f"        return {missing}",
        )
    )


TIME_FORMATS = ("%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%d %H:%M")


def _timestamp(c: Ctx, rng: random.Random) -> Part:
    head = f"def {rng.choice(['now_iso', 'utc_now', 'stamp', f'{c.noun.one}_timestamp'])}():"
    spec = rng.choice(['timespec="seconds"', ""])
    return rng.choice(
        [
            Part(
                (head, f"    return datetime.now(timezone.utc).isoformat({spec})"),
                ("from datetime import datetime, timezone",),
            ),
            Part((head, "    return datetime.datetime.now(datetime.timezone.utc).isoformat()"), ("import datetime",)),
            Part(
                (
                    head,
                    f'    return time.strftime("{rng.choice(TIME_FORMATS)}", time.gmtime())',
                ),
                ("import time",),
            ),
        ]
    )


def _record(c: Ctx, rng: random.Random) -> Part:
    fields = c.noun.fields[: rng.choice([2, 3, 4])]
    cls = "".join(w.title() for w in c.noun.one.split("_"))
    types = [
        ("int" if f.endswith(("_id", "number", "year", "stock")) else rng.choice(["str", "str", "str | None"]))
        for f in fields
    ]
    body = tuple(f"    {f}: {t}" for f, t in zip(fields, types, strict=True))
    return rng.choice(
        [
            Part(
                (rng.choice(["@dataclass(frozen=True)", "@dataclass"]), f"class {cls}:", *body),
                ("from dataclasses import dataclass",),
            ),
            Part((f"class {cls}(NamedTuple):", *body), ("from typing import NamedTuple",)),
        ]
    )


def _logger(c: Ctx, rng: random.Random) -> Part:
    name = rng.choice(["log", "logger", f"{c.app}_log"])
    return Part(
        (
            f'{name} = logging.getLogger("{c.app}.{c.noun.many}")',
            "",
            "",
            f"def record_{c.verb}({c.noun.one}_id, action):",
            rng.choice(
                [
                    f'    {name}.info("%s %s %s", action, "{c.noun.one}", {c.noun.one}_id)',
                    f'    {name}.info("{c.noun.one} %s: %s", {c.noun.one}_id, action)',
                    f'    {name}.debug("%s on {c.noun.one} %s", action, {c.noun.one}_id)',
                ]
            ),
        ),
        ("import logging",),
    )


def _list_route(c: Ctx, rng: random.Random) -> Part:
    cols = ", ".join(c.noun.fields[:2])
    return Part(
        (
            f'@app.route("/{c.noun.many}")',
            f"def list_{c.noun.many}():",
            f"    {c.conn} = get_db()",
            f'    {c.rows} = {c.conn}.execute("SELECT {cols} FROM {c.noun.many} ORDER BY {c.noun.fields[0]} '
            f'LIMIT ?", ({c.limit},)).fetchall()',
            f"    return jsonify([dict(r) for r in {c.rows}])",
        ),
        ("from flask import jsonify",),
    )


def _health(c: Ctx, rng: random.Random) -> Part:
    route = rng.choice(["/health", "/healthz", "/ping", "/status"])
    return Part(
        (f'@app.route("{route}")', f"def {route[1:]}():", f'    return jsonify(status="ok", service="{c.app}")'),
        ("from flask import jsonify",),
    )


Helper = Callable[[Ctx, random.Random], Part]
PLAIN_HELPERS: tuple[Helper, ...] = (
    _to_dict,
    _validator,
    _paginate,
    _record,
    _logger,
    _normalise,
    _slug,
    _parse_id,
    _timestamp,
)
WEB_HELPERS: tuple[Helper, ...] = (_health,)
DB_WEB_HELPERS: tuple[Helper, ...] = (_list_route,)
