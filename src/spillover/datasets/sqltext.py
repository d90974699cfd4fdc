"""SQL text built from constants only, for which bandit's "SQL built from strings" (B608) is a false alarm.

Constants, constant tables and their allow-listed lookups (``taint``), numeric casts, ``format``/``join``
over such parts, and comprehensions whose items are such parts (``",".join("?" for _ in ids)``). Not
guaranteed: names are followed within one function only, and a function parameter is never constant.
"""

from __future__ import annotations

import ast

from .taint import allowed, assignments, guarded, lookup, module_tables

SAFE_CALLS = frozenset({"int", "float", "len", "bool", "str.join"})


def constant_text(node: ast.AST | None, safe: set[str], tables: frozenset[str]) -> bool:
    """Whether an expression is built only from constants, constant tables and numeric casts (function
    parameters and everything else are not), for SQL text that bandit flags because it is built at all."""
    if node is None or isinstance(node, ast.Constant):
        return True
    if isinstance(node, ast.Name):
        return node.id in safe or node.id in tables
    if lookup(node, tables):
        return all(constant_text(d, safe, tables) for d in (node.args[1:] if isinstance(node, ast.Call) else []))
    if isinstance(node, ast.IfExp) and allowed(node.test, tables, ast.unparse(node.body), negated=False):
        return constant_text(node.orelse, safe, tables)
    if isinstance(node, ast.Call):
        f = node.func
        if ast.unparse(f) in SAFE_CALLS:
            return True
        if isinstance(f, ast.Attribute) and f.attr in ("format", "join"):
            return all(constant_text(a, safe, tables) for a in (f.value, *node.args, *(k.value for k in node.keywords)))
        return False
    if isinstance(node, ast.GeneratorExp | ast.ListComp):  # ",".join("?" for _ in ids): its items only
        return constant_text(node.elt, safe, tables)
    if isinstance(node, ast.JoinedStr | ast.FormattedValue | ast.BinOp | ast.Tuple | ast.List):
        return all(constant_text(c, safe, tables) for c in ast.iter_child_nodes(node) if isinstance(c, ast.expr))
    return False


def _bound(n: ast.AST) -> list[str]:
    """Names a statement other than a plain assignment binds (augmented assignments, loops, ``with ... as``,
    parameters)."""
    if isinstance(n, ast.AugAssign | ast.AnnAssign | ast.For):
        targets = [n.target]
    elif isinstance(n, ast.With):
        targets = [i.optional_vars for i in n.items if i.optional_vars is not None]
    elif isinstance(n, ast.arguments):
        return [a.arg for a in (*n.posonlyargs, *n.args, *n.kwonlyargs, n.vararg, n.kwarg) if a is not None]
    else:
        return []
    return [t.id for tgt in targets for t in ast.walk(tgt) if isinstance(t, ast.Name)]


def safe_names(fn: ast.AST, tables: frozenset[str]) -> set[str]:
    """Local names every assignment of which is constant text (``constant_text``; a loop variable counts as
    assigned what it iterates over), plus names an allow-list guard checks."""
    assigned = assignments(fn)
    for n in ast.walk(fn):  # a loop variable takes the values of what it iterates over
        for name in _bound(n):
            assigned.setdefault(name, []).append(n.iter if isinstance(n, ast.For) else n)
    safe = guarded(fn, tables)
    while True:
        grown = {k for k, vs in assigned.items()
                 if all(isinstance(v, ast.expr) and constant_text(v, safe, tables) for v in vs)}
        if grown <= safe:
            return safe
        safe |= grown


def sql_from_constants(tree: ast.AST) -> bool:
    """Every ``execute`` call's SQL text is built from constants only (then bandit's "SQL built from strings"
    finding is a false alarm); False when there is no such call.

    >>> sql_from_constants(ast.parse("T = {'a': 'a'}\\ndef f(c, o):\\n    c.execute('SELECT ' + T.get(o, 'a'))"))
    True
    >>> sql_from_constants(ast.parse("def f(c, o):\\n    c.execute('SELECT * ORDER BY ' + o)"))
    False
    """
    body = tree.body if isinstance(tree, ast.Module) else []
    tables = module_tables(body)
    seen = False
    for fn in ast.walk(tree):
        if isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef):
            safe = safe_names(fn, tables)
            for c in ast.walk(fn):
                if isinstance(c, ast.Call) and ast.unparse(c.func).endswith((".execute", ".executemany")) and c.args:
                    seen = True
                    if not constant_text(c.args[0], safe, tables):
                        return False
    return seen
