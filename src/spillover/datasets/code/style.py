"""How people write the same program: merged and ordered imports, the quote style, what they call things.

Surface variation only: nothing here changes what a program does or where its decision point is.
"""

from __future__ import annotations

import io
import random
import re
import tokenize
from collections.abc import Sequence

THIRD_PARTY = ("flask", "jinja2", "markupsafe", "requests", "yaml")


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


def renames(src: str, rng: random.Random) -> dict[str, str]:
    """A consistent renaming of the generic names a program uses, never onto a word it already has."""
    used = set(re.findall(r"\w+", src))
    out: dict[str, str] = {}
    for name, alts in ALIASES.items():
        if name in used and rng.random() < 0.75:
            pick = rng.choice(alts)
            if pick not in used and pick not in out.values():
                out[name] = pick
    return out
