"""Request data put where it chooses what is changed: the attribute names or keyword arguments of an object
(mass assignment: ``setattr(obj, key, ...)``, ``Model(**data)``), a privilege attribute (``role``, ``is_admin``)
set from request data in a view that does not test the caller's privilege, and options smuggled into a program
that runs commands through its options (``git``, ``ssh``, ``tar``, ...). Part of :mod:`.sinks`' findings.

Not guaranteed: a privilege test is recognised by name only (a test that mentions an admin or a role).
"""

from __future__ import annotations

import ast
import re

from .frameworks import OPTION_EXEC, ROUTE_DECORATOR, SUBPROCESS, is_view
from .taint import tainted

PRIVILEGES = frozenset({"role", "roles", "is_admin", "is_staff", "is_superuser", "permissions", "admin"})
PRIVILEGE_TEST = re.compile(r"admin|superuser|is_staff|has_perm|permission|\brole\b")
"""A test that mentions one of these checks the caller's privilege (by name only)."""


def _tests(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> str:
    """The text of a function's decorators (not its route's path) and of the conditions it tests."""
    parts = [*(d for d in fn.decorator_list if not ROUTE_DECORATOR.search(ast.unparse(d))),
             *(n.test for n in ast.walk(fn) if isinstance(n, ast.If | ast.Assert | ast.IfExp))]
    return " ".join(ast.unparse(p) for p in parts)


def _options(call: ast.Call, names: set[str], tables: frozenset[str]) -> bool:
    """A program that runs commands through its options (:data:`.frameworks.OPTION_EXEC`), run without a shell,
    whose argument list has request data before any ``--``."""
    args = call.args[0] if call.args else None
    if ast.unparse(call.func) not in SUBPROCESS or not isinstance(args, ast.List) or not args.elts \
            or not isinstance(args.elts[0], ast.Constant) or args.elts[0].value not in OPTION_EXEC:
        return False
    for item in args.elts[1:]:
        if isinstance(item, ast.Constant) and item.value == "--":
            return False
        if tainted(item, names, tables):
            return True
    return False


def assignment_findings(fn: ast.FunctionDef | ast.AsyncFunctionDef, names: set[str],
                         tables: frozenset[str]) -> set[str]:
    """Mass assignment, privilege changes from request data, and options smuggled into a command.

    >>> src = "@app.post('/me')\\ndef f():\\n    for k, v in request.json.items():\\n        setattr(u, k, v)"
    >>> sorted(assignment_findings(ast.parse(src).body[0], {"k", "v"}, frozenset()))
    ['mass_assignment']
    """
    found = set()
    for n in ast.walk(fn):
        if isinstance(n, ast.Call):
            f = ast.unparse(n.func)
            spread = [k.value for k in n.keywords if k.arg is None]
            if f == "setattr" and len(n.args) > 1 and tainted(n.args[1], names, tables) or any(
                    tainted(v, names, tables) for v in spread) and f.split(".")[-1][:1].isupper():
                found.add("mass_assignment")
            if _options(n, names, tables):
                found.add("argument_injection")
        elif isinstance(n, ast.Assign) and tainted(n.value, names, tables) and any(
                isinstance(t, ast.Attribute) and t.attr in PRIVILEGES for t in n.targets) and is_view(fn) \
                and not PRIVILEGE_TEST.search(_tests(fn)):
            found.add("privilege_escalation")
    return found
