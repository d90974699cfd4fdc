"""Taint-style checks of web code that bandit does not make: request data (:mod:`.taint`) reaching a sink
unsanitised, and handlers that change data or privileges with no sign of a check.

Sinks: SQL text (``execute``), a shell (``os.system``, ``os.popen``, ``subprocess`` with ``shell=True``),
an option of a program that runs commands through its options (``git``, ``ssh``, ``tar``, ...; request
data in its argument list before any ``--``), a file
path (``open``, ``send_file``, ``FileResponse``), a template source (``render_template_string``,
``Template``, ``from_string``), markup that skips escaping (``Markup``, a rendered template containing
``|safe``), HTML a view builds from request data and sends (returned or given to a response), a
redirect target (Flask, Django, Starlette), and the attribute names or keyword arguments of an object
(mass assignment: ``setattr(obj, key, ...)``, ``Model(**data)``). A view that deletes or changes data
with no sign of an authorisation check is flagged, and one that sets a privilege attribute (``role``,
``is_admin``) from request data without testing the caller's privilege.

Not guaranteed: "a check" is recognised by name only (``login_required``-style decorators,
``current_user``, ``session``, ``g.user``, ``request.user``, ``abort(401/403)``; for privileges a test that
mentions an admin or a role); reading another user's object is not checked; a module-level template string
is read, other globals are not.
"""

from __future__ import annotations

import ast
import re

from .frameworks import (
    FILE_SINKS,
    OPTION_EXEC,
    REDIRECT_GUARDS,
    REDIRECTS,
    RESPONSES,
    ROUTE_DECORATOR,
    SUBPROCESS,
    is_view,
    url_params,
)
from .taint import assignments, module_tables, taint_names, tainted

AUTH_HINTS = re.compile(r"login_required|admin_required|requires_auth|permission_required|current_user|"
                        r"(?<![\w.])session(\[|\.get\()|(?<![\w.])g\.user|abort\((401|403)|is_admin|check_permission|"
                        r"request\.user\b")
"""Signs of an authorisation check (``db.session`` is not one)."""
DESTRUCTIVE = ("delete", "DELETE FROM", "DROP TABLE", "UPDATE ", "remove", "rmtree", "unlink", "set_role",
               "make_admin")


def _sink(call: ast.Call, names: set[str], fn_text: str, consts: dict[str, str],
          tables: frozenset[str] = frozenset()) -> str | None:
    """The kind of sink a call is when request data reaches it, else None (``consts``: the module's string
    constants, for templates defined at the top of a file)."""
    f = ast.unparse(call.func)
    first = call.args[0] if call.args else None
    source = consts.get(first.id, "") if isinstance(first, ast.Name) else ast.unparse(first) if first else ""
    shell = any(k.arg == "shell" and isinstance(k.value, ast.Constant) and k.value.value for k in call.keywords)
    if f.endswith((".execute", ".executemany", ".executescript")) and tainted(first, names, tables):
        return "sql_taint"
    if (f in ("os.system", "os.popen") or (f.startswith("subprocess.") and shell)) and tainted(first, names, tables):
        return "shell_taint"
    if f in FILE_SINKS and tainted(first, names, tables) and not (
            "is_relative_to" in fn_text or "commonpath" in fn_text and "realpath" in fn_text):
        return "path_taint"
    if (f.endswith(("render_template_string", "from_string")) or f in ("Template", "jinja2.Template")) and \
            tainted(first, names, tables):
        return "template_taint"
    if f in ("Markup", "markupsafe.Markup", "flask.Markup") and tainted(first, names, tables):
        return "xss_markup"
    if f.endswith("render_template_string") and "|safe" in source.replace(" ", "") and any(
            tainted(k.value, names, tables) for k in call.keywords):
        return "xss_markup"
    if f in REDIRECTS and tainted(first, names, tables) and not any(g in fn_text for g in REDIRECT_GUARDS):
        return "open_redirect"
    return None


HTML_TAG = re.compile(r"<[a-zA-Z!/]")


def _html_built(node: ast.AST | None, names: set[str], tables: frozenset[str], consts: dict[str, str],
                assigned: dict[str, list[ast.AST]] | None = None) -> bool:
    """HTML text built from request data: an f-string, ``+``/``%`` or ``str.format`` with a tag in its string
    constants (or in a module constant it formats) and a tainted part; a local name counts when any value
    assigned to it does. A renderer's result (``render_template``) is not built here.

    >>> _html_built(ast.parse("f'<h1>{n}</h1>'", mode="eval").body, {"n"}, frozenset(), {})
    True
    >>> _html_built(ast.parse("f'<h1>{escape(n)}</h1>'", mode="eval").body, {"n"}, frozenset(), {})
    False
    """
    assigned = assigned or {}
    if isinstance(node, ast.Name):
        return any(_html_built(v, names, tables, consts) for v in assigned.get(node.id, []))
    building = isinstance(node, ast.JoinedStr) or (isinstance(node, ast.BinOp) and isinstance(
        node.op, ast.Add | ast.Mod)) or (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                                         and node.func.attr == "format")
    if node is None or not building or not tainted(node, names, tables):
        return False
    texts = [n.value for n in ast.walk(node) if isinstance(n, ast.Constant) and isinstance(n.value, str)]
    texts += [consts[n.id] for n in ast.walk(node) if isinstance(n, ast.Name) and n.id in consts]
    return any(HTML_TAG.search(t) for t in texts)


def _html_sinks(fn: ast.AST) -> list[ast.AST | None]:
    """What a route sends as its body: returned values (a tuple's first item) and response constructors'."""
    out: list[ast.AST | None] = []
    for n in ast.walk(fn):
        if isinstance(n, ast.Return) and n.value is not None:
            out.append(n.value.elts[0] if isinstance(n.value, ast.Tuple) and n.value.elts else n.value)
        elif isinstance(n, ast.Call) and ast.unparse(n.func) in RESPONSES and n.args:
            out.append(n.args[0])
    return out


def taint_findings(tree: ast.AST) -> set[str]:
    """Every taint and authorisation finding in a module.

    >>> src = "from flask import request\\ndef f(cur):\\n    q = request.args['q']\\n    cur.execute(f'x {q}')"
    >>> taint_findings(ast.parse(src))
    {'sql_taint'}
    """
    found: set[str] = set()
    body = tree.body if isinstance(tree, ast.Module) else []
    consts = {t.id: n.value.value for n in body if isinstance(n, ast.Assign) and isinstance(n.value, ast.Constant)
              and isinstance(n.value.value, str) for t in n.targets if isinstance(t, ast.Name)}
    tables = module_tables(body)
    html_consts = any(HTML_TAG.search(c) for c in consts.values())
    for fn in ast.walk(tree):
        if not isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        names, text = taint_names(fn, tables, frozenset(url_params(fn))), ast.unparse(fn)
        found |= {k for c in ast.walk(fn) if isinstance(c, ast.Call) and (k := _sink(c, names, text, consts, tables))}
        html = is_view(fn) and (html_consts or HTML_TAG.search(text))  # request data may be read inline
        if html and any(_html_built(v, names, tables, consts, assignments(fn)) for v in _html_sinks(fn)):
            found.add("xss_html")
        if is_view(fn) and any(d in text for d in DESTRUCTIVE) and not AUTH_HINTS.search(text):
            found.add("missing_authorization")
        found |= _assignment_findings(fn, names, tables)
    return found


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


def _assignment_findings(fn: ast.FunctionDef | ast.AsyncFunctionDef, names: set[str],
                         tables: frozenset[str]) -> set[str]:
    """Mass assignment, privilege changes from request data, and options smuggled into a command.

    >>> src = "@app.post('/me')\\ndef f():\\n    for k, v in request.json.items():\\n        setattr(u, k, v)"
    >>> sorted(_assignment_findings(ast.parse(src).body[0], {"k", "v"}, frozenset()))
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
