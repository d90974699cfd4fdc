"""Whole programs around one decision point: imports, set-up, helper functions, the core, a main guard.

A family (:mod:`.families`) gives the :class:`Core`: lines with one ``{V}`` line, and the secure and the
insecure text for it. :func:`assemble` surrounds it with helpers drawn for the same :class:`~.vocab.Ctx`
and writes the imports the program uses (and only those), so a secure/insecure pair differs at the
decision point and, where the two need different modules, in one import line. Never executed.
"""

from __future__ import annotations

import io
import random
import re
import tokenize
from collections.abc import Callable, Sequence
from typing import NamedTuple

from .vocab import Ctx

HOLE = "{V}"
THIRD_PARTY = ("flask", "jinja2", "markupsafe", "requests", "yaml")


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


class Part(NamedTuple):
    lines: tuple[str, ...]
    imports: tuple[str, ...] = ()


def imports_block(lines: Sequence[str], rng: random.Random | None = None) -> list[str]:
    """Import lines merged (``from m import a`` + ``from m import b`` -> ``from m import a, b``), standard
    library first, then third party, each group sorted; with ``rng``, names within a line are sometimes
    left in a random order, as people write them.

    >>> imports_block(["from flask import request", "import os", "from flask import Flask", "import os"])
    ['import os', '', 'from flask import Flask, request']
    """
    plain: set[str] = set()
    froms: dict[str, set[str]] = {}
    for line in lines:
        if line.startswith("from "):
            mod, names = line[5:].split(" import ")
            froms.setdefault(mod, set()).update(n.strip() for n in names.split(","))
        else:
            plain.add(line[7:])

    def order(names: set[str]) -> list[str]:
        out = sorted(names, key=lambda x: (x.lower(), x))
        if rng is not None and rng.random() < 0.5:
            rng.shuffle(out)
        return out

    entries = [(m, f"import {m}") for m in plain] + [
        (m, f"from {m} import {', '.join(order(n))}") for m, n in sorted(froms.items())
    ]
    std = sorted(e for m, e in entries if m.split(".")[0] not in THIRD_PARTY)
    third = sorted(e for m, e in entries if m.split(".")[0] in THIRD_PARTY)
    return std + ([""] if std and third else []) + third


def _get_db(c: Ctx, rng: random.Random) -> Part:
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
        helpers.insert(0, _get_db(c, rng))
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
    rename = _renames(versions[0] + versions[1], rng)
    single = rng.random() < 0.4
    renamed = (WORD.sub(lambda m: rename.get(m[0], m[0]), v) for v in versions)
    return tuple(single_quoted(v) if single else v for v in renamed)  # type: ignore[return-value]


def single_quoted(src: str) -> str:
    """``src`` in the other common quote style: plain ``"..."`` strings in single quotes. Strings holding a
    quote or a backslash, triple-quoted strings, f-strings and code that does not tokenize stay as they are
    (so the result is the same on every Python version).

    >>> print(single_quoted('x = {"a": f"{b}"}  # "c"'))
    x = {'a': f"{b}"}  # "c"
    """
    lines = src.splitlines(keepends=True)
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(src).readline))
    except (tokenize.TokenError, SyntaxError):
        return src
    for t in tokens:
        text = t.string
        if t.type != tokenize.STRING or not text.startswith('"') or text.startswith('"""') or "'" in text \
                or "\\" in text or t.start[0] != t.end[0]:
            continue
        row, col = t.start[0] - 1, t.start[1]
        line = lines[row]
        lines[row] = line[:col] + "'" + text[1:-1] + "'" + line[col + len(text):]
    return "".join(lines)


ALIASES = {
    "value": ("val", "raw_value", "candidate", "s"),
    "page": ("page_no", "page_number", "pg"),
    "per_page": ("page_size", "batch", "per"),
    "fh": ("f", "handle", "stream", "fp"),
    "response": ("resp", "reply", "res"),
    "result": ("proc", "completed", "run_result"),
    "action": ("event", "what", "kind"),
    "row": ("rec", "entry_row", "db_row"),
    "stored": ("saved", "encoded", "record"),
    "writer": ("w", "csv_out", "csv_writer"),
    "template": ("tmpl", "tpl", "page_template"),
    "env": ("environment", "jinja_env", "renderer"),
    "archive": ("archive_path", "tar_path", "bundle"),
    "values": ("items", "parsed", "entries"),
    "url": ("link", "target_url", "src_url"),
    "path": ("file_path", "full_path", "dest_path", "local_path"),
    "data": ("content", "chunk", "upload"),
    "html": ("markup", "body_html", "fragment"),
    "password": ("plain_password", "pw", "candidate_password"),
    "fd": ("handle_no", "descriptor"),
    "raw": ("given", "incoming", "raw_id"),
    "start": ("first", "begin", "lo"),
    "upload": ("incoming_file", "sent"),
    "msg": ("message", "mail", "note"),
    "digest": ("hashed", "hash_value", "derived"),
    "item": ("entry", "one", "element"),
    "ratio": ("multiplier", "scale"),
    "changes": ("update", "patch", "fields"),
    "app": ("api", "web", "server", "application", "site"),
}
"""Generic local names and what else a programmer calls them (none is a word of a check or a disclosure)."""
WORD = re.compile(r"(?<![\w.\"'])(" + "|".join(sorted(ALIASES, key=len, reverse=True)) + r")(?![\w\"'])")
"""A generic name as a whole identifier: not an attribute, not a whole string literal such as ``"data"``."""


def _renames(src: str, rng: random.Random) -> dict[str, str]:
    """A consistent renaming of the generic names a program uses, never onto a word it already has."""
    used = set(re.findall(r"\w+", src))
    out: dict[str, str] = {}
    for name, alts in ALIASES.items():
        if name in used and rng.random() < 0.75:
            pick = rng.choice(alts)
            if pick not in used and pick not in out.values():
                out[name] = pick
    return out


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
