"""Whether the text an ``exec``/``eval`` call runs was just checked to be one plain quoted string literal, as in

    if not text.startswith("'") or not text.endswith("'") or "'" in text[1:-1]:
        return "must be a plain string literal"
    eval(text)

Text that starts and ends with a quote and holds no other is a single string literal or a syntax error (escapes
and a backslash before the closing quote included), so running it runs no code; the check is exact for that.

Not guaranteed: only a check that ends its branch with ``return`` or ``raise``, in the call's block or a block
around it and before it, is seen; the name must not be bound again anywhere after the check (nor declared
``global``/``nonlocal``); other sinks still treat the value as request data (a literal can carry markup).
"""

from __future__ import annotations

import ast
from typing import NamedTuple

QUOTES = ("'", '"')


def plain_literal_test(test: ast.expr, name: str) -> bool:
    """``test`` holds unless ``name`` is one quoted literal: ``not n.startswith(q)``, ``not n.endswith(q)`` and
    ``q in n[1:-1]`` among the alternatives of an ``or`` (more alternatives only make it stricter).

    >>> plain_literal_test(ast.parse("not b.startswith('\\\\'') or not b.endswith('\\\\'') or '\\\\'' in b[1:-1]",
    ...                              mode="eval").body, "b")
    True
    >>> plain_literal_test(ast.parse("not b.startswith('\\\\'') or not b.endswith('\\\\'')", mode="eval").body, "b")
    False
    """
    parts = test.values if isinstance(test, ast.BoolOp) and isinstance(test.op, ast.Or) else [test]
    said = {ast.unparse(p) for p in parts}
    return any({f"not {name}.startswith({q!r})", f"not {name}.endswith({q!r})", f"{q!r} in {name}[1:-1]"} <= said
               for q in QUOTES)


def checked_literal(tree: ast.AST, call: ast.Call) -> bool:
    """The call's first argument is a name that a check before it in the same function
    (:func:`plain_literal_test`, its branch leaving by ``return`` or ``raise``) showed to be one quoted literal,
    and the name is not bound after the check; a call inside a ``lambda`` or a generator never counts.

    >>> src = ("def f(b):\\n    if not b.startswith('\\"') or not b.endswith('\\"') or '\\"' in b[1:-1]:\\n"
    ...        "        return 'no'\\n    return eval(b)")
    >>> tree = ast.parse(src)
    >>> checked_literal(tree, tree.body[0].body[-1].value)
    True
    """
    name = call.args[0].id if call.args and isinstance(call.args[0], ast.Name) else None
    path = _path_to(tree, call) if name else None
    if not name or not path or any(isinstance(n, ast.Lambda | ast.GeneratorExp) and _holds(n, call)
                                   for n in ast.walk(path[-1].node)):
        return False
    scopes = [i for i, step in enumerate(path) if isinstance(step.node, ast.FunctionDef | ast.AsyncFunctionDef)]
    inner = path[scopes[-1]:] if scopes else path
    for step in inner:
        for guard in getattr(step.node, step.field)[:step.at] if step.at >= 0 else []:
            if isinstance(guard, ast.If) and not guard.orelse and guard.body \
                    and isinstance(guard.body[-1], ast.Return | ast.Raise) and plain_literal_test(guard.test, name):
                return not _bound_after(inner[0].node, name, guard.end_lineno or guard.lineno)
    return False


class Step(NamedTuple):
    """A node on the way down to a target: the statement list (``field``) that leads on, and the index in it of
    the statement that holds the target (``-1`` for except handlers and match cases)."""

    node: ast.AST
    field: str
    at: int


def _holds(node: ast.AST, target: ast.AST) -> bool:
    return any(n is target for n in ast.walk(node))


def _path_to(node: ast.AST, target: ast.AST) -> list[Step]:
    """The steps from ``node`` down to the innermost statement list holding ``target`` (empty when none does)."""
    for field in ("body", "orelse", "finalbody", "handlers", "cases"):
        children = getattr(node, field, None)
        for i, child in enumerate(children if isinstance(children, list) else []):
            if _holds(child, target):
                statement = field in ("body", "orelse", "finalbody")
                return [Step(node, field, i if statement else -1), *_path_to(child, target)]
    return []


def _bound_after(scope: ast.AST, name: str, line: int) -> bool:
    """``name`` is bound after ``line`` in ``scope`` (or declared global or nonlocal anywhere in it)."""
    for n in ast.walk(scope):
        if isinstance(n, ast.Global | ast.Nonlocal) and name in n.names:
            return True
        if getattr(n, "lineno", 0) > line and name in _binds(n):
            return True
    return False


def _binds(n: ast.AST) -> set[str]:
    """The names a node binds (assignment targets, deletions, parameters, imports, handlers, patterns, defs)."""
    if isinstance(n, ast.Name):
        return {n.id} if isinstance(n.ctx, ast.Store | ast.Del) else set()
    if isinstance(n, ast.arg):
        return {n.arg}
    if isinstance(n, ast.alias):
        return {(n.asname or n.name).split(".")[0]}
    if isinstance(n, ast.ExceptHandler | ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.MatchAs
                  | ast.MatchStar):
        return {n.name} if n.name else set()
    return {n.rest} if isinstance(n, ast.MatchMapping) and n.rest else set()
