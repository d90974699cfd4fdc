"""Taint-style checks of web code that bandit does not make: request data reaching a sink unsanitised.

Per function, names assigned from request data (Flask's ``request.args``/``form``/``values``/``json``/
``cookies``/``headers``/``files``/``data``, ``request.get_json()``, ``input()``, ``sys.argv``) are tainted,
and so is anything built from them (concatenation, f-strings, ``%``, ``.format``, subscripts, calls),
except through a sanitiser (``int``, ``float``, ``escape``, ``html.escape``, ``os.path.basename``,
``secure_filename``, ``shlex.quote``, ``bleach.clean``, ``url_for``, ``safe_join``, ``Markup(...).format``)
or an allow-list: a lookup in a constant table (``ORDERS[x]``, ``ORDERS.get(x, "id")``; a table is a
literal of constants, at module level or inline), ``x if x in TABLE else "id"``, or a guard
``if x not in TABLE:`` that returns, raises or aborts. Sinks: SQL text (``execute``), a shell
(``os.system``, ``os.popen``, ``subprocess`` with ``shell=True``), a file path (``open``, ``send_file``),
a template source (``render_template_string``, ``Template``, ``from_string``), markup that skips escaping
(``Markup``, a rendered template containing ``|safe``), HTML a route builds from request data and sends
(returned or given to ``make_response``/``Response``), and a redirect target. A route that deletes or
changes data with no sign of an authorisation check is flagged too (reading another user's object is not
checked).

Not guaranteed: flows across functions, through containers or attributes, or via globals are not
followed (a module-level template string is read); a sanitiser is trusted by name; a guard anywhere in
the function counts (its position relative to the sink, and a later reassignment, are not checked);
"an authorisation check" is recognised by name only (``login_required``-style decorators,
``current_user``, ``session``, ``g.user``, ``abort(401/403)``).
"""

from __future__ import annotations

import ast
import re

SOURCES = ("request.args", "request.form", "request.values", "request.json", "request.get_json",
           "request.cookies", "request.headers", "request.files", "request.data", "sys.argv", "input")
SANITISERS = frozenset({"int", "float", "escape", "html.escape", "markupsafe.escape", "os.path.basename",
                        "secure_filename", "werkzeug.utils.secure_filename", "shlex.quote", "bleach.clean",
                        "len", "bool", "url_for", "flask.url_for", "safe_join", "werkzeug.security.safe_join",
                        "werkzeug.utils.safe_join", "flask.safe_join"})
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


def tainted(node: ast.AST | None, names: set[str], tables: frozenset[str] = frozenset()) -> bool:
    """Whether an expression carries request data (see the module); ``tables``: names of constant tables.

    >>> tainted(ast.parse("f'select {q}'", mode="eval").body, {"q"})
    True
    >>> tainted(ast.parse("int(request.args['n'])", mode="eval").body, set())
    False
    >>> tainted(ast.parse("COLS.get(request.args['o'], 'id')", mode="eval").body, set(), frozenset({"COLS"}))
    False
    >>> tainted(ast.parse("o if o in ('a', 'b') else 'a'", mode="eval").body, {"o"})
    False
    """
    if node is None:
        return False
    if _from_source(node):
        return True
    if isinstance(node, ast.Name):
        return node.id in names
    if lookup(node, tables):
        return isinstance(node, ast.Call) and any(tainted(d, names, tables) for d in node.args[1:])
    if isinstance(node, ast.IfExp) and allowed(node.test, tables, _name(node.body), negated=False):
        return tainted(node.orelse, names, tables)
    if isinstance(node, ast.Call):
        if _name(node.func) in SANITISERS or _markup_format(node):
            return False
        parts = [*node.args, *(k.value for k in node.keywords)]
        if isinstance(node.func, ast.Attribute):
            parts.append(node.func.value)  # "...".format(x), x.strip()
        return any(tainted(p, names, tables) for p in parts)
    return any(tainted(c, names, tables) for c in ast.iter_child_nodes(node) if isinstance(c, ast.expr))


def _markup_format(call: ast.Call) -> bool:
    """``Markup("...").format(x)``: Markup escapes what it formats in."""
    f = call.func
    return isinstance(f, ast.Attribute) and f.attr == "format" and isinstance(f.value, ast.Call) \
        and _name(f.value.func) in ("Markup", "markupsafe.Markup", "flask.Markup") \
        and all(isinstance(a, ast.Constant) for a in f.value.args)


def _is_table(node: ast.AST, tables: frozenset[str]) -> bool:
    """A constant table: a name bound to one, or a literal collection of constants."""
    if isinstance(node, ast.Name):
        return node.id in tables
    if isinstance(node, ast.Dict | ast.Set | ast.List | ast.Tuple):
        try:
            ast.literal_eval(node)
        except ValueError:
            return False
        return True
    return False


def lookup(node: ast.AST, tables: frozenset[str]) -> bool:
    """``TABLE[x]`` or ``TABLE.get(x, ...)``: the value comes from the table, not from ``x``."""
    if isinstance(node, ast.Subscript):
        return _is_table(node.value, tables)
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "get" \
        and _is_table(node.func.value, tables)


def allowed(test: ast.AST, tables: frozenset[str], name: str, negated: bool) -> bool:
    """``name in TABLE`` (or, ``negated``, ``name not in TABLE``)."""
    op = ast.NotIn if negated else ast.In
    return isinstance(test, ast.Compare) and len(test.ops) == 1 and isinstance(test.ops[0], op) \
        and _name(test.left) == name and _is_table(test.comparators[0], tables)


def guarded(fn: ast.AST, tables: frozenset[str]) -> set[str]:
    """Names checked by ``if x not in TABLE:`` whose body leaves (return, raise, abort)."""
    out = set()
    for n in ast.walk(fn):
        if isinstance(n, ast.If) and isinstance(n.test, ast.Compare) and n.body:
            last = n.body[-1]
            aborts = isinstance(last, ast.Expr) and isinstance(last.value, ast.Call) \
                and _name(last.value.func).endswith("abort")
            leaves = aborts or isinstance(last, ast.Return | ast.Raise)
            name = _name(n.test.left)
            if leaves and allowed(n.test, tables, name, negated=True):
                out.add(name)
    return out


def _taint_names(fn: ast.AST, tables: frozenset[str] = frozenset()) -> set[str]:
    """Names assigned tainted values anywhere in ``fn`` (iterated to a fixed point; order-insensitive),
    less the names an allow-list guard checks."""
    names: set[str] = set()
    while True:
        before = len(names)
        for n in ast.walk(fn):
            if isinstance(n, ast.Assign | ast.AugAssign | ast.AnnAssign) and tainted(n.value, names, tables):
                targets = n.targets if isinstance(n, ast.Assign) else [n.target]
                names |= {t.id for tgt in targets for t in ast.walk(tgt) if isinstance(t, ast.Name)}
            elif isinstance(n, ast.For) and tainted(n.iter, names, tables):
                names |= {t.id for t in ast.walk(n.target) if isinstance(t, ast.Name)}
        if len(names) == before:
            return names - guarded(fn, tables)


def _sink(call: ast.Call, names: set[str], fn_text: str, consts: dict[str, str],
          tables: frozenset[str] = frozenset()) -> str | None:
    """The kind of sink a call is when request data reaches it, else None (``consts``: the module's string
    constants, for templates defined at the top of a file)."""
    f = _name(call.func)
    first = call.args[0] if call.args else None
    source = consts.get(first.id, "") if isinstance(first, ast.Name) else _name(first) if first else ""
    shell = any(k.arg == "shell" and isinstance(k.value, ast.Constant) and k.value.value for k in call.keywords)
    if f.endswith((".execute", ".executemany", ".executescript")) and tainted(first, names, tables):
        return "sql_taint"
    if (f in ("os.system", "os.popen") or (f.startswith("subprocess.") and shell)) and tainted(first, names, tables):
        return "shell_taint"
    if f in ("open", "send_file", "flask.send_file", "io.open") and tainted(first, names, tables) and not (
            "commonpath" in fn_text and "realpath" in fn_text):
        return "path_taint"
    if (f.endswith(("render_template_string", "from_string")) or f in ("Template", "jinja2.Template")) and \
            tainted(first, names, tables):
        return "template_taint"
    if f in ("Markup", "markupsafe.Markup", "flask.Markup") and tainted(first, names, tables):
        return "xss_markup"
    if f.endswith("render_template_string") and "|safe" in source.replace(" ", "") and any(
            tainted(k.value, names, tables) for k in call.keywords):
        return "xss_markup"
    if f in ("redirect", "flask.redirect") and tainted(first, names, tables) and "netloc" not in fn_text:
        return "open_redirect"
    return None


def module_tables(body: list[ast.stmt]) -> frozenset[str]:
    """Module-level names bound to a constant (a string, a number, a literal collection of constants)."""
    return frozenset(t.id for n in body if isinstance(n, ast.Assign)
                     and (_is_table(n.value, frozenset()) or isinstance(n.value, ast.Constant))
                     for t in n.targets if isinstance(t, ast.Name))


HTML_TAG = re.compile(r"<[a-zA-Z!/]")
RESPONSES = ("make_response", "flask.make_response", "Response", "flask.Response", "HTMLResponse")


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
        elif isinstance(n, ast.Call) and _name(n.func) in RESPONSES and n.args:
            out.append(n.args[0])
    return out


def assignments(fn: ast.AST) -> dict[str, list[ast.AST]]:
    """Every value assigned to each plain name in ``fn`` (``x = ...``; other bindings are not included)."""
    assigned: dict[str, list[ast.AST]] = {}
    for n in ast.walk(fn):
        if isinstance(n, ast.Assign):
            for t in n.targets:
                if isinstance(t, ast.Name):
                    assigned.setdefault(t.id, []).append(n.value)
    return assigned


def _is_route(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    return any(re.search(r"\.(route|get|post|put|patch|delete)\(", _name(dec)) for dec in fn.decorator_list)


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
        names, text = _taint_names(fn, tables), ast.unparse(fn)
        found |= {k for c in ast.walk(fn) if isinstance(c, ast.Call) and (k := _sink(c, names, text, consts, tables))}
        html = _is_route(fn) and names and (html_consts or HTML_TAG.search(text))
        if html and any(_html_built(v, names, tables, consts, assignments(fn)) for v in _html_sinks(fn)):
            found.add("xss_html")
        if _is_route(fn) and any(d in text for d in DESTRUCTIVE) and not AUTH_HINTS.search(text):
            found.add("missing_authorization")
    return found
