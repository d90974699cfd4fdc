"""Taint-style checks of web code that bandit does not make: request data reaching a sink unsanitised.

Per function, names assigned from request data (Flask's ``request.args``/``form``/``values``/``json``/
``cookies``/``headers``/``files``/``data``, ``request.get_json()``, ``input()``, ``sys.argv``) are tainted,
and so is anything built from them (concatenation, f-strings, ``%``, ``.format``, subscripts, calls),
except through a sanitiser (``int``, ``float``, ``escape``, ``html.escape``, ``os.path.basename``,
``secure_filename``, ``shlex.quote``, ``bleach.clean``). Sinks: SQL text (``execute``), a shell
(``os.system``, ``os.popen``, ``subprocess`` with ``shell=True``), a file path (``open``, ``send_file``),
a template source (``render_template_string``, ``Template``, ``from_string``), markup that skips escaping
(``Markup``, a rendered template containing ``|safe``), and a redirect target. A route that deletes or
changes data with no sign of an authorisation check is flagged too.

Not guaranteed: flows across functions, through containers or attributes, or via globals are not
followed (a module-level template string is read); a sanitiser is trusted by name; "an authorisation
check" is recognised by name only (``login_required``-style decorators, ``current_user``, ``session``,
``g.user``, ``abort(401/403)``).
"""

from __future__ import annotations

import ast
import re

SOURCES = ("request.args", "request.form", "request.values", "request.json", "request.get_json",
           "request.cookies", "request.headers", "request.files", "request.data", "sys.argv", "input")
SANITISERS = frozenset({"int", "float", "escape", "html.escape", "markupsafe.escape", "os.path.basename",
                        "secure_filename", "werkzeug.utils.secure_filename", "shlex.quote", "bleach.clean",
                        "len", "bool"})
AUTH_HINTS = re.compile(r"login_required|admin_required|requires_auth|permission_required|current_user|"
                        r"(?<![\w.])session(\[|\.get\()|(?<![\w.])g\.user|abort\((401|403)|is_admin|check_permission")
"""Signs of an authorisation check (``db.session`` is not one)."""
DESTRUCTIVE = ("delete", "DELETE FROM", "DROP TABLE", "UPDATE ", "remove", "rmtree", "unlink", "set_role",
               "make_admin")


def _name(node: ast.AST) -> str:
    return ast.unparse(node)


def _from_source(node: ast.AST) -> bool:
    text = _name(node)
    return any(text == s or text.startswith((s + ".", s + "[", s + "(")) for s in SOURCES)


def tainted(node: ast.AST | None, names: set[str]) -> bool:
    """Whether an expression carries request data (see the module).

    >>> tainted(ast.parse("f'select {q}'", mode="eval").body, {"q"})
    True
    >>> tainted(ast.parse("int(request.args['n'])", mode="eval").body, set())
    False
    """
    if node is None:
        return False
    if _from_source(node):
        return True
    if isinstance(node, ast.Name):
        return node.id in names
    if isinstance(node, ast.Call):
        if _name(node.func) in SANITISERS:
            return False
        parts = [*node.args, *(k.value for k in node.keywords)]
        if isinstance(node.func, ast.Attribute):
            parts.append(node.func.value)  # "...".format(x), x.strip()
        return any(tainted(p, names) for p in parts)
    return any(tainted(c, names) for c in ast.iter_child_nodes(node) if isinstance(c, ast.expr))


def _taint_names(fn: ast.AST) -> set[str]:
    """Names assigned tainted values anywhere in ``fn`` (iterated to a fixed point; order-insensitive)."""
    names: set[str] = set()
    while True:
        before = len(names)
        for n in ast.walk(fn):
            if isinstance(n, ast.Assign | ast.AugAssign | ast.AnnAssign) and tainted(n.value, names):
                targets = n.targets if isinstance(n, ast.Assign) else [n.target]
                names |= {t.id for tgt in targets for t in ast.walk(tgt) if isinstance(t, ast.Name)}
            elif isinstance(n, ast.For) and tainted(n.iter, names):
                names |= {t.id for t in ast.walk(n.target) if isinstance(t, ast.Name)}
        if len(names) == before:
            return names


def _sink(call: ast.Call, names: set[str], fn_text: str, consts: dict[str, str]) -> str | None:
    """The kind of sink a call is when request data reaches it, else None (``consts``: the module's string
    constants, for templates defined at the top of a file)."""
    f = _name(call.func)
    first = call.args[0] if call.args else None
    source = consts.get(first.id, "") if isinstance(first, ast.Name) else _name(first) if first else ""
    shell = any(k.arg == "shell" and isinstance(k.value, ast.Constant) and k.value.value for k in call.keywords)
    if f.endswith((".execute", ".executemany", ".executescript")) and tainted(first, names):
        return "sql_taint"
    if (f in ("os.system", "os.popen") or (f.startswith("subprocess.") and shell)) and tainted(first, names):
        return "shell_taint"
    if f in ("open", "send_file", "flask.send_file", "io.open") and tainted(first, names) and not (
            "commonpath" in fn_text and "realpath" in fn_text):
        return "path_taint"
    if (f.endswith(("render_template_string", "from_string")) or f in ("Template", "jinja2.Template")) and \
            tainted(first, names):
        return "template_taint"
    if f in ("Markup", "markupsafe.Markup", "flask.Markup") and tainted(first, names):
        return "xss_markup"
    if f.endswith("render_template_string") and "|safe" in source.replace(" ", "") and any(
            tainted(k.value, names) for k in call.keywords):
        return "xss_markup"
    if f in ("redirect", "flask.redirect") and tainted(first, names) and "netloc" not in fn_text:
        return "open_redirect"
    return None


def _is_route(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    return any(".route" in (d := _name(dec)) or d.startswith(("app.post", "app.delete")) for dec in fn.decorator_list)


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
    for fn in ast.walk(tree):
        if not isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        names, text = _taint_names(fn), ast.unparse(fn)
        found |= {k for c in ast.walk(fn) if isinstance(c, ast.Call) and (k := _sink(c, names, text, consts))}
        if _is_route(fn) and any(d in text for d in DESTRUCTIVE) and not AUTH_HINTS.search(text):
            found.add("missing_authorization")
    return found
