"""Taint propagation for the web-code checks of :mod:`.sinks`: which names in a function carry request data.

Names assigned from request data (:data:`.frameworks.SOURCES`: Flask, Django and FastAPI request objects,
``input()``, ``sys.argv``; and a view's URL parameters, :func:`.frameworks.url_params`) are tainted, and so
is anything built from them (concatenation, f-strings, ``%``, ``.format``, subscripts, calls, a container they
are stored in: ``items.append(x)``, a helper handed the whole ``request``), except through a sanitiser (``int``,
``float``, ``os.path.basename``, ``secure_filename``, ``shlex.quote``, ``url_for``, ``safe_join``,
``Markup(...).format``; for HTML sinks also ``html.escape``, ``bleach.clean`` and anything named ``*escape*``)
or a check: a lookup in a constant table (``ORDERS[x]``, ``ORDERS.get(x, "id")``; a table is a literal of
constants, at module level or inline), ``x if x in TABLE else "id"``, or a guard that returns, raises or
aborts: ``if x not in TABLE:`` or ``if not PATTERN.fullmatch(x):``.

Not guaranteed: flows across functions, through attributes, or via globals are not followed; a container
holding request data anywhere is request data everywhere, and order is ignored (:mod:`.flow` refines both);
a sanitiser or a pattern is trusted by name; a guard anywhere in the function counts (its position
relative to the sink, and a later reassignment, are not checked).
"""

from __future__ import annotations

import ast
import re

from .frameworks import SOURCES

SANITISERS = frozenset({"int", "float", "os.path.basename", "secure_filename", "werkzeug.utils.secure_filename",
                        "shlex.quote", "len", "bool", "url_for", "flask.url_for", "safe_join",
                        "werkzeug.security.safe_join", "werkzeug.utils.safe_join", "flask.safe_join",
                        "ipaddress.ip_address", "ipaddress.ip_network", "uuid.UUID"})
MUTATORS = frozenset({"append", "extend", "insert", "add", "update", "set", "setdefault", "write", "put"})
"""Methods that store their arguments in the object they are called on (``items.append(p)``)."""
CONTAINER_MAKERS = frozenset({"list", "dict", "set", "deque", "collections.deque", "defaultdict",
                              "collections.defaultdict", "OrderedDict", "collections.OrderedDict", "bytearray"})
"""Calls that make a mutable container (with a list, dict or set display: what a helper may store data in)."""


HTML_ESCAPERS = frozenset({"escape", "html.escape", "markupsafe.escape", "flask.escape", "bleach.clean"})
"""Calls that make text safe inside HTML only (an escaped value is still a path, a URL, SQL or a command)."""


def sanitiser(name: str, markup: bool = False) -> bool:
    """A call trusted to make request data harmless, by name: :data:`SANITISERS`, and, where the data ends in
    HTML (``markup``), :data:`HTML_ESCAPERS` or any ``*escape*``.

    >>> sanitiser("helpers.escape_for_html"), sanitiser("helpers.escape_for_html", markup=True)
    (False, True)
    """
    return name in SANITISERS or markup and (name in HTML_ESCAPERS or "escape" in name.rsplit(".", 1)[-1].lower())


def _name(node: ast.AST) -> str:
    return ast.unparse(node)


_SOURCE = re.compile("(?:flask\\.|self\\.)?(?:" + "|".join(re.escape(s) for s in SOURCES) + r")(?:$|[.\[(])", re.DOTALL)


def from_source(node: ast.AST) -> bool:
    """A source, also when written through its module (``flask.request.args``) or read from a class-based view
    (``self.request.GET``).

    >>> from_source(ast.parse("flask.request.args.get('p')", mode="eval").body)
    True
    >>> from_source(ast.parse("self.request.GET['p']", mode="eval").body)
    True
    >>> from_source(ast.parse("request.argsort", mode="eval").body)
    False
    """
    if not isinstance(node, ast.Attribute | ast.Subscript | ast.Call | ast.Name):
        return False  # no other expression is a source by itself
    return bool(_SOURCE.match(_name(node)))


def tainted(node: ast.AST | None, names: set[str], tables: frozenset[str] = frozenset(),
            markup: bool = False) -> bool:
    """Whether an expression carries request data (see the module); ``tables``: names of constant tables;
    ``markup``: the data ends in HTML, where an HTML escaper makes it harmless.

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
    if from_source(node):
        return True
    if isinstance(node, ast.Name):
        return node.id in names
    if lookup(node, tables):
        return isinstance(node, ast.Call) and any(tainted(d, names, tables, markup) for d in node.args[1:])
    if isinstance(node, ast.IfExp) and allowed(node.test, tables, _name(node.body), negated=False):
        return tainted(node.orelse, names, tables, markup)
    if isinstance(node, ast.Call):
        if sanitiser(_name(node.func), markup) or _markup_format(node):
            return False
        if any(isinstance(a, ast.Name) and a.id == "request" for a in node.args):
            return True  # a helper handed the whole request returns request data
        parts = [*node.args, *(k.value for k in node.keywords)]
        if isinstance(node.func, ast.Attribute | ast.Name):
            parts.append(node.func.value if isinstance(node.func, ast.Attribute) else node.func)  # x.strip(), g()
        return any(tainted(p, names, tables, markup) for p in parts)
    if isinstance(node, ast.ListComp | ast.SetComp | ast.GeneratorExp | ast.DictComp):
        return _comprehension(node, names, tables, markup)
    return any(tainted(c, names, tables, markup) for c in ast.iter_child_nodes(node) if isinstance(c, ast.expr))


def _comprehension(node: ast.ListComp | ast.SetComp | ast.GeneratorExp | ast.DictComp, names: set[str],
                   tables: frozenset[str], markup: bool) -> bool:
    """``[f(x) for x in ITER]`` holds request data when ``f(x)`` does, ``x`` holding it when ``ITER`` does."""
    inner = set(names) | {t.id for g in node.generators if tainted(g.iter, names, tables, markup)
                          for t in ast.walk(g.target) if isinstance(t, ast.Name)}
    parts = [node.key, node.value] if isinstance(node, ast.DictComp) else [node.elt]
    return any(tainted(e, inner, tables, markup) for e in parts)


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


def _leaves(body: list[ast.stmt]) -> bool:
    """A block that ends the handler: its last statement returns, raises or calls ``abort``."""
    last = body[-1] if body else None
    aborts = isinstance(last, ast.Expr) and isinstance(last.value, ast.Call) \
        and _name(last.value.func).endswith("abort")
    return aborts or isinstance(last, ast.Return | ast.Raise)


def guarded(fn: ast.AST, tables: frozenset[str]) -> set[str]:
    """Names checked by ``if x not in TABLE:`` whose body leaves (return, raise, abort)."""
    return {_name(n.test.left) for n in ast.walk(fn) if isinstance(n, ast.If) and isinstance(n.test, ast.Compare)
            and _leaves(n.body) and allowed(n.test, tables, _name(n.test.left), negated=True)}


def validated(fn: ast.AST) -> set[str]:
    """Names checked by ``if not PATTERN.fullmatch(x):`` (or ``re.fullmatch(PATTERN, x)``) whose body leaves.

    >>> sorted(validated(ast.parse("if not SLUG.fullmatch(s):\\n    abort(400)")))
    ['s']
    """
    out = set()
    for n in ast.walk(fn):
        if not isinstance(n, ast.If) or not _leaves(n.body):
            continue
        tests = n.test.values if isinstance(n.test, ast.BoolOp) and isinstance(n.test.op, ast.Or) else [n.test]
        for t in tests:
            call = t.operand if isinstance(t, ast.UnaryOp) and isinstance(t.op, ast.Not) else None
            if isinstance(call, ast.Call) and _name(call.func).endswith("fullmatch") and call.args:
                out.add(_name(call.args[-1]))
    return out


def taint_names(fn: ast.AST, tables: frozenset[str] = frozenset(), seeds: frozenset[str] = frozenset(),
                markup: bool = False) -> set[str]:
    """Names carrying request data anywhere in ``fn`` (``markup``: as seen by an HTML sink, :func:`tainted`):
    ``seeds`` (its URL parameters) and every name assigned a tainted value (iterated to a fixed point;
    order-insensitive), less the names a guard checks."""
    names: set[str] = set(seeds)
    held = containers(fn)
    while True:
        before = len(names)
        for n in ast.walk(fn):
            names |= _given(n, names, tables, markup, held)
        if len(names) == before:
            return names - guarded(fn, tables) - validated(fn)


def containers(fn: ast.AST) -> frozenset[str]:
    """Names ``fn`` binds to a mutable container (a list, dict or set display or comprehension, or a call of
    :data:`CONTAINER_MAKERS`) somewhere.

    >>> sorted(containers(ast.parse("a = []\\nb = dict(x=1)\\nc = 'text'\\nd = (1, 2)")))
    ['a', 'b']
    """
    displays = ast.List | ast.Dict | ast.Set | ast.ListComp | ast.DictComp | ast.SetComp
    return frozenset(name for name, values in assignments(fn).items() if any(
        isinstance(v, displays) or isinstance(v, ast.Call) and _name(v.func) in CONTAINER_MAKERS for v in values))


def _given(n: ast.AST, names: set[str], tables: frozenset[str], markup: bool,
           held: frozenset[str] = frozenset()) -> set[str]:
    """The names a statement or call gives request data to: an assignment's targets, a loop's, a ``match``
    pattern's captures, the container a mutator stores it in (``items.append(x)``), or a container (``held``)
    handed to a call together with request data (``fill(items, x)``: the callee may store it there)."""
    if isinstance(n, ast.Assign | ast.AugAssign | ast.AnnAssign) and tainted(n.value, names, tables, markup):
        targets = n.targets if isinstance(n, ast.Assign) else [n.target]
        return {t.id for tgt in targets for t in ast.walk(tgt) if isinstance(t, ast.Name)}
    if isinstance(n, ast.NamedExpr) and tainted(n.value, names, tables, markup):  # if (c := p): ...
        return {n.target.id}
    if isinstance(n, ast.For) and tainted(n.iter, names, tables, markup):
        return {t.id for t in ast.walk(n.target) if isinstance(t, ast.Name)}
    if isinstance(n, ast.Match) and tainted(n.subject, names, tables, markup):  # case [cmd, *rest]: ...
        return {c.name for case in n.cases for c in ast.walk(case.pattern)
                if isinstance(c, ast.MatchAs | ast.MatchStar) and c.name}
    if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr in MUTATORS \
            and isinstance(n.func.value, ast.Name) and any(tainted(a, names, tables, markup) for a in n.args):
        return {n.func.value.id}
    if isinstance(n, ast.Call) and not sanitiser(_name(n.func), markup):
        handed = [*n.args, *(k.value for k in n.keywords)]
        if any(tainted(a, names, tables, markup) for a in handed):
            return {a.id for a in handed if isinstance(a, ast.Name) and a.id in held}
    return set()


def module_tables(body: list[ast.stmt]) -> frozenset[str]:
    """Module-level names bound to a constant (a string, a number, a literal collection of constants)."""
    return frozenset(t.id for n in body if isinstance(n, ast.Assign)
                     and (_is_table(n.value, frozenset()) or isinstance(n.value, ast.Constant))
                     for t in n.targets if isinstance(t, ast.Name))


def assignments(fn: ast.AST) -> dict[str, list[ast.AST]]:
    """Every value assigned to each plain name in ``fn`` (``x = ...``; other bindings are not included)."""
    assigned: dict[str, list[ast.AST]] = {}
    for n in ast.walk(fn):
        if isinstance(n, ast.Assign):
            for t in n.targets:
                if isinstance(t, ast.Name):
                    assigned.setdefault(t.id, []).append(n.value)
    return assigned


