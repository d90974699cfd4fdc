"""Calls of a module's own top-level functions, for the checks that follow request data one level into them
(:mod:`.sinks`, :mod:`.xss`): which parameter each argument binds, and which such calls a value comes from.

Not guaranteed: methods (``self.run(p)``), functions of other modules, ``*args``/``**kwargs`` and calls inside
the callee are not followed.
"""

from __future__ import annotations

import ast

Function = ast.FunctionDef | ast.AsyncFunctionDef


def handed(call: ast.Call, callee: Function) -> list[tuple[str, ast.expr]]:
    """(parameter, argument) pairs of a call, by position up to the first ``*args`` and by keyword.

    >>> fn = ast.parse("def run(cmd, cwd=None, *, env=None): pass").body[0]
    >>> [(p, ast.unparse(a)) for p, a in handed(ast.parse("run(p, env=e)", mode="eval").body, fn)]
    [('cmd', 'p'), ('env', 'e')]
    """
    a = callee.args
    positional = [x.arg for x in [*a.posonlyargs, *a.args]]
    pairs = []
    for name, arg in zip(positional, call.args, strict=False):
        if isinstance(arg, ast.Starred):
            break
        pairs.append((name, arg))
    named = set(positional[len(a.posonlyargs):]) | {x.arg for x in a.kwonlyargs}
    return pairs + [(k.arg, k.value) for k in call.keywords if k.arg in named]


def callee(call: ast.Call, functions: dict[str, Function], assigned: dict[str, list[ast.AST]]) -> Function | None:
    """The module function a call runs (None for anything else, or where the caller rebinds the name)."""
    if isinstance(call.func, ast.Name) and call.func.id not in assigned:
        return functions.get(call.func.id)
    return None


def made_by(node: ast.AST | None, functions: dict[str, Function], assigned: dict[str, list[ast.AST]]
            ) -> list[tuple[ast.Call, Function]]:
    """The calls of module functions a value is the result of: the value itself, or any value assigned to the
    local name it is.

    >>> tree = ast.parse("def page(d): return d\\ndef view():\\n    out = page(1)\\n    return out")
    >>> [ast.unparse(c) for c, _ in made_by(ast.parse("out", mode="eval").body, {"page": tree.body[0]},
    ...                                      {"out": [tree.body[1].body[0].value]})]
    ['page(1)']
    """
    values = assigned.get(node.id, []) if isinstance(node, ast.Name) else [node]
    return [(v, f) for v in values if isinstance(v, ast.Call) and (f := callee(v, functions, assigned)) is not None]
