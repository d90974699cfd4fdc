"""Families where input reaches an interpreter: SQL, a shell, ``eval`` (see :mod:`.loading` for files,
deserialisers and templates).

Each maker returns a :class:`~.programs.Core` in one of a few shapes (a plain function, a Flask route); the
secure and the insecure text differ only where the flaw is, and neither names it.
"""

from __future__ import annotations

import random

from .programs import Core, route
from .vocab import Ctx, a, words


def sql_injection(c: Ctx, rng: random.Random) -> Core:
    n, f = c.noun, c.field
    cols = rng.choice(["*", ", ".join(n.fields[:3]), f"id, {f}"])
    tail = rng.choice(["", f" ORDER BY {n.fields[0]}", f" LIMIT {c.limit}"])
    op, arg = rng.choice([("=", f), ("LIKE", f)])
    bad = rng.choice(
        [
            f"f\"SELECT {cols} FROM {n.many} WHERE {f} {op} '{{{arg}}}'{tail}\"",
            f'"SELECT {cols} FROM {n.many} WHERE {f} {op} \'" + {arg} + "\'{tail}"',
            f"\"SELECT {cols} FROM {n.many} WHERE {f} {op} '%s'{tail}\" % {arg}",
        ]
    )
    good = f'"SELECT {cols} FROM {n.many} WHERE {f} {op} ?{tail}", ({arg},)'
    tasks = (f"looks up {n.many} by {words(f)}", f"returns the {n.many} whose {words(f)} matches a value")
    if rng.random() < 0.5:
        lines: tuple[str, ...] = (
            f"def {c.verb}_{n.many}_by_{f}({f}):",
            f"    {c.conn} = sqlite3.connect({c.db_const})",
            "    try:",
            f"        {c.cur} = {c.conn}.cursor()",
            "        {V}",
            f"        return {c.cur}.fetchall()",
            "    finally:",
            f"        {c.conn}.close()",
        )
        return Core(lines, f"{c.cur}.execute({good})", f"{c.cur}.execute({bad})", tasks, db=True)
    lines = (
        *route(
            c,
            rng.choice([f"/{n.many}/search", f"/api/{n.many}", f"/{c.app}/{n.many}/find"]),
            rng.choice([f"search_{n.many}", f"{n.many}_by_{f}", f"{c.verb}_{n.many}"]),
        ),
        f'    {f} = request.args.get("{f}", "")',
        f"    {c.conn} = get_db()",
        "    {V}",
        f"    return jsonify([dict(r) for r in {c.rows}])",
    )
    return Core(
        lines,
        f"{c.rows} = {c.conn}.execute({good}).fetchall()",
        f"{c.rows} = {c.conn}.execute({bad}).fetchall()",
        tasks,
        ("from flask import jsonify", "from flask import request"),
        web=True,
        db=True,
    )


TOOLS = (
    ("ping", "-c 1", "checks that a host answers"),
    ("nslookup", "", "resolves a host name"),
    ("dig", "+short", "looks up the DNS records of a domain"),
    ("whois", "", "shows who owns a domain"),
    ("traceroute", "-m 10", "traces the route to a host"),
    ("host", "-t mx", "finds the mail servers of a domain"),
)


def _backup_command(c: Ctx, rng: random.Random) -> Core:
    db, out = rng.choice(["db_name", "database", "schema"]), rng.choice(["out_dir", "target_dir", "backup_dir"])
    tool = rng.choice(["pg_dump", "mysqldump"])
    lines = (
        f"def backup_{c.app}_{c.noun.many}({db}, {out}):",
        f'    dump_path = os.path.join({out}, {db} + ".sql")',
        "    {V}",
        "    return dump_path",
    )
    good = f'subprocess.run(["{tool}", "--file", dump_path, {db}], check=True, timeout={c.timeout * 60})'
    bad = f'os.system(f"{tool} {{{db}}} > {{dump_path}}")'
    tasks = (f"dumps the {c.app} database to a file with {tool}", f"backs up the {c.noun.many} database with {tool}")
    return Core(lines, good, bad, tasks, ("import os",), secure_imports=("import subprocess",))


def command_injection(c: Ctx, rng: random.Random) -> Core:
    if rng.random() < 1 / 3:
        return _backup_command(c, rng)
    tool, flags, what = rng.choice(TOOLS)
    arg = rng.choice(["host", "target", "address", "domain", "hostname"])
    argv = ", ".join(f'"{x}"' for x in [tool, *flags.split()]) + f", {arg}"
    rest = f"capture_output=True, text=True, timeout={c.timeout}"
    good = f"subprocess.run([{argv}], {rest})"
    bad = rng.choice(
        [
            f'subprocess.run(f"{tool} {flags + " " if flags else ""}{{{arg}}}", shell=True, {rest})',
            f'subprocess.run("{tool} {flags + " " if flags else ""}" + {arg}, shell=True, {rest})',
        ]
    )
    tasks = (
        f"{what} for the {c.app} admin tools using {tool}",
        f"runs {tool} on {a(arg)} the user gives and returns the output",
    )
    if rng.random() < 0.5:
        name = rng.choice([f"run_{tool}", f"{c.app}_{tool}", f"{tool}_{arg}", f"check_{c.noun.one}_{arg}"])
        lines: tuple[str, ...] = (
            f"def {name}({arg}):",
            "    result = {V}",
            "    if result.returncode != 0:",
            f"        return {rng.choice(['None', repr(''), f'{chr(34)}{tool} failed{chr(34)}'])}",
            f"    return result.stdout{rng.choice(['.strip()', '', '.splitlines()'])}",
        )
        return Core(lines, good, bad, tasks, ("import subprocess",))
    lines = (
        *route(c, f"/tools/{tool}", f"{tool}_view"),
        f'    {arg} = request.args.get("{arg}", "")',
        "    result = {V}",
        "    return jsonify(code=result.returncode, output=result.stdout)",
    )
    return Core(
        lines,
        good,
        bad,
        tasks,
        ("import subprocess", "from flask import jsonify", "from flask import request"),
        web=True,
    )


KEEP = ("is not None", '!= ""')


def _env_weights(c: Ctx, rng: random.Random) -> Core:
    var = f"{c.app.upper()}_{c.field.upper()}_WEIGHTS"
    got = rng.choice(["raw", "configured", "setting"])
    lines = (
        f"def {c.field}_weights():",
        f'    {got} = os.environ.get("{var}", "[1, 1, 1]")',
        "    weights = {V}",
        f"    return [float(w) for w in weights][: {rng.choice([3, 4, 5])}]",
    )
    tasks = (f"reads ranking weights for {c.noun.many} from an environment variable",)
    return Core(lines, f"ast.literal_eval({got})", f"eval({got})", tasks, ("import os",), ("import ast",))


def eval_input(c: Ctx, rng: random.Random) -> Core:
    f = c.field
    if rng.random() < 1 / 3:
        return _env_weights(c, rng)
    if rng.random() < 0.5:
        rule = rng.choice(["rule", "factor", "expr"])
        lines: tuple[str, ...] = (
            f"def apply_{f}_adjustment(amount, {rule}):",
            f"    if not {rule}:",
            "        return amount",
            "    ratio = {V}",
            "    return round(amount * ratio, 2)",
        )
        return Core(
            lines,
            f"float({rule})",
            f"eval({rule})",
            (f"scales an amount by a ratio an admin types in for the {c.app} app",),
        )
    text, vals = rng.choice(["text", f"raw_{f}", "typed", "line"]), rng.choice(["values", f"{f}_values", "parsed"])
    lines = (
        f"def parse_{f}_list({text}):",
        f"    if not {text}.strip():",
        "        return []",
        f"    {vals} = {{V}}",
        f"    return [v for v in {vals} if v {rng.choice(KEEP)}]",
    )
    tasks = (
        f"parses a list of {words(f)} values typed by an admin",
        f"reads {a(words(f))} filter written as a Python list",
    )
    return Core(lines, f"ast.literal_eval({text})", f"eval({text})", tasks, secure_imports=("import ast",))
