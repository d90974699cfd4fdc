"""Cross-site scripting in what a view sends: HTML it builds from request data (``xss_html``), and other text
it builds from request data (``xss_reflected``: Flask and Django send text as HTML unless told otherwise).

``names`` are those :func:`.taint.taint_names` finds for HTML sinks (an HTML escaper makes data harmless there).
Not guaranteed: the response's declared type (``mimetype="text/plain"``, JSON) is not read; a value escaped
by a function not named like an escaper counts as unescaped.
"""

from __future__ import annotations

import ast
import re

from .frameworks import RESPONSES
from .interpret import seeded_facts
from .taint import assignments, taint_names, tainted

HTML_TAG = re.compile(r"<[a-zA-Z!/]")

def html_built(node: ast.AST | None, names: set[str], tables: frozenset[str], consts: dict[str, str],
                assigned: dict[str, list[ast.AST]] | None = None) -> bool:
    """HTML text built from request data: an f-string, ``+``/``%`` or ``str.format`` with a tag in its string
    constants (or in a module constant it formats) and a tainted part; a local name counts when any value
    assigned to it does. A renderer's result (``render_template``) is not built here.

    >>> html_built(ast.parse("f'<h1>{n}</h1>'", mode="eval").body, {"n"}, frozenset(), {})
    True
    >>> html_built(ast.parse("f'<h1>{escape(n)}</h1>'", mode="eval").body, {"n"}, frozenset(), {})
    False
    """
    assigned = assigned or {}
    if isinstance(node, ast.Name):
        return any(html_built(v, names, tables, consts) for v in assigned.get(node.id, []))
    if node is None or not _building(node) or not tainted(node, names, tables, markup=True):
        return False
    texts = [n.value for n in ast.walk(node) if isinstance(n, ast.Constant) and isinstance(n.value, str)]
    texts += [consts[n.id] for n in ast.walk(node) if isinstance(n, ast.Name) and n.id in consts]
    return any(HTML_TAG.search(t) for t in texts)


def _building(node: ast.AST | None) -> bool:
    return isinstance(node, ast.JoinedStr) or (isinstance(node, ast.BinOp) and isinstance(
        node.op, ast.Add | ast.Mod)) or (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                                         and node.func.attr == "format")


def reflected(node: ast.AST | None, names: set[str], tables: frozenset[str], fn: ast.AST) -> bool:
    """Text built from request data and sent as a view's body (Flask and Django send text as HTML), also when
    built up in a local name (``out += f"...{x}"``; ``return out``).

    >>> fn = ast.parse("def v():\\n    out = 'hi '\\n    out += request.args['n']\\n    return out").body[0]
    >>> reflected(fn.body[-1].value, {"out"}, frozenset(), fn)
    True
    """
    if node is None or not tainted(node, names, tables, markup=True):
        return False
    if isinstance(node, ast.Name):
        stores = [n for n in ast.walk(fn) if isinstance(n, ast.Assign | ast.AugAssign)]
        return any(_building(n.value) or isinstance(n, ast.AugAssign) for n in stores if node.id in {
            t.id for t in (n.targets if isinstance(n, ast.Assign) else [n.target]) if isinstance(t, ast.Name)})
    return _building(node)


def html_sinks(fn: ast.AST) -> list[ast.AST | None]:
    """What a route sends as its body: returned values and response constructors' first argument; of a tuple
    (``return text, 200, headers``, ``make_response((text, headers))``) its first item, the rest being status
    and headers. A returned name that the statement before it (in the same block, nothing else touching it in
    between) set to a constructor's response is not a body of its own: the constructor's argument is.

    >>> fn = ast.parse("def v():\\n    r = 'a' + x\\n    r = make_response((r, {'h': y}))\\n    return r").body[0]
    >>> [ast.unparse(n) for n in html_sinks(fn)]
    ['r']
    """
    out: list[ast.AST | None] = []
    for n in ast.walk(fn):
        if isinstance(n, ast.Call) and ast.unparse(n.func) in RESPONSES and n.args:
            out.append(_body(n.args[0]))
        for block in (getattr(n, f, None) for f in ("body", "orelse", "finalbody")):
            if not isinstance(block, list):
                continue
            for i, s in enumerate(block):
                if isinstance(s, ast.Return) and s.value is not None and not _made_response(block[:i], s.value):
                    out.append(_body(s.value))
    return out


def _body(value: ast.expr) -> ast.expr:
    return value.elts[0] if isinstance(value, ast.Tuple) and value.elts else value


def _made_response(before: list[ast.stmt], value: ast.expr) -> bool:
    """``value`` is a name whose last mention in ``before`` is its assignment from a response constructor."""
    if not isinstance(value, ast.Name):
        return False
    for s in reversed(before):
        if any(isinstance(n, ast.Name) and n.id == value.id for n in ast.walk(s)):
            return isinstance(s, ast.Assign) and [ast.unparse(t) for t in s.targets] == [value.id] \
                and isinstance(s.value, ast.Call) and ast.unparse(s.value.func) in RESPONSES
    return False


def returns_html(fn: ast.FunctionDef | ast.AsyncFunctionDef, params: set[str], tables: frozenset[str],
                 consts: dict[str, str], tree: ast.AST) -> bool:
    """A function that returns HTML built from ``params`` when they hold request data (its flow values, with them
    seeded, not proving the returned value clean).

    >>> tree = ast.parse("def page(day):\\n    out = '<p>On ' + day\\n    return out")
    >>> returns_html(tree.body[0], {"day"}, frozenset(), {}, tree)
    True
    """
    names, assigned = taint_names(fn, tables, frozenset(params), markup=True), assignments(fn)
    html = HTML_TAG.search(ast.unparse(fn)) or any(HTML_TAG.search(c) for c in consts.values())  # as for a view
    returned = [n.value for n in ast.walk(fn) if isinstance(n, ast.Return) and n.value is not None]
    built = [r for r in returned if html_built(r, names, tables, consts, assigned)
             or html and reflected(r, names, tables, fn)]  # out = "<p>" ...; out += x; return out
    facts = seeded_facts(tree, fn, params) if built else None
    return facts is not None and any(not facts.clean(r) for r in built)
