"""Flow-sensitive values of a function's locals, for precision: whether an argument that the flow-insensitive
checks (:mod:`.taint`, bandit) flag is, where it is used, computed from constants only or free of request data.
This module holds the values; :mod:`.interpret` walks the statements.

Statements are followed in order: a test whose value is known picks its branch (``if``, ``x if c else y``,
``match``), a later assignment replaces an earlier one, and dicts, config sections (``ConfigParser``) and lists
keep their items apart by constant key or index. Unknown tests and loops join every way, and an exception
handler sees every state of its ``try``. Where it cannot follow a value it errs towards "may be request data",
so that it only ever clears findings it can show to be clear: an object something was stored on holds it, and a
closure's free names hold request data where an enclosing function ever does.

Not guaranteed: values across calls and globals are not followed (a global or a parameter is "unknown but not
request data", except a view's URL parameters); only the calls in :data:`PURE` keep a value "computed from
constants"; a loop is followed at most 12 times; an expression evaluated more than once holds the join of its
values.
"""

from __future__ import annotations

import ast
import operator
from typing import Any, NamedTuple

from .frameworks import url_params
from .taint import from_source, sanitiser, taint_names

CONST, FIXED, CLEAN, TAINT = 0, 1, 2, 3
"""Levels: a known constant; computed from constants only; unknown but not request data; may be request data."""
PURE = frozenset({"str", "bytes", "base64.b64encode", "base64.b64decode", "base64.urlsafe_b64encode",
                  "base64.urlsafe_b64decode", "encode", "decode", "strip", "lower", "upper", "replace", "format",
                  "join", "split", "dedent", "textwrap.dedent", "urllib.parse.unquote", "urllib.parse.unquote_plus",
                  "html.escape", "markupsafe.escape", "escape"})
"""Calls (or methods, by name) whose result is computed from their inputs only."""


def _times(a: Any, b: Any) -> Any:
    """``a * b`` unless it would make a long sequence."""
    sequence = isinstance(a, str | bytes | tuple | list) or isinstance(b, str | bytes | tuple | list)
    if sequence and max(a if isinstance(a, int) else 0, b if isinstance(b, int) else 0) > 10_000:
        raise ValueError("too long")
    return operator.mul(a, b)


OPS: dict[type, Any] = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: _times,
                         ast.Mod: operator.mod, ast.FloorDiv: operator.floordiv, ast.Eq: operator.eq,
                         ast.NotEq: operator.ne, ast.Lt: operator.lt, ast.LtE: operator.le, ast.Gt: operator.gt,
                         ast.GtE: operator.ge, ast.In: lambda a, b: a in b, ast.NotIn: lambda a, b: a not in b}


class Val(NamedTuple):
    """An abstract value: its level, the constant (level ``CONST``), a container's items by key or index."""

    level: int
    const: Any = None
    items: tuple[tuple[Any, Val], ...] | None = None
    kind: str = ""  # "dict", "config", "list" or "" (a scalar)

    def worst(self) -> int:
        """The level of everything the value holds."""
        return max([self.level, *(v.worst() for _k, v in self.items or ())])


UNKNOWN, TAINTED = Val(CLEAN), Val(TAINT)


def join(a: Val, b: Val) -> Val:
    """What is known of a value that is ``a`` on one path and ``b`` on another.

    >>> join(Val(CONST, 1), Val(CONST, 2)).level, join(Val(CONST, 1), TAINTED).level
    (1, 3)
    """
    if a == b:
        return a
    if a.kind == b.kind != "" and a.items is not None and b.items is not None and a.kind != "list":
        da, db = dict(a.items), dict(b.items)
        return Val(max(a.level, b.level), items=tuple((k, join(da.get(k, UNKNOWN), db.get(k, UNKNOWN)))
                                                      for k in {**da, **db}), kind=a.kind)
    if a.kind == b.kind == "list" and a.items is not None and b.items is not None and len(a.items) == len(b.items):
        pairs = zip(a.items, b.items, strict=True)
        return Val(FIXED, items=tuple((i, join(x, y)) for (i, x), (_j, y) in pairs), kind="list")
    both = options(a), options(b)
    if both[0] is not None and both[1] is not None and len(both[0] | both[1]) <= MAX_OPTIONS:
        return Val(FIXED, both[0] | both[1])  # one of a few constants
    return Val(max(FIXED, a.worst(), b.worst()))


MAX_OPTIONS = 8
"""A value known to be one of at most this many constants keeps them (as its ``const``, at level ``FIXED``)."""


def options(v: Val) -> frozenset[Any] | None:
    """The constants a value may be (None when not known to be one of a few).

    >>> sorted(options(join(Val(CONST, "sh"), Val(CONST, "cmd.exe"))))
    ['cmd.exe', 'sh']
    """
    if v.level == CONST and v.items is None:
        return frozenset({v.const}) if isinstance(v.const, str | int | float | bool | bytes | type(None)) else None
    return v.const if v.level == FIXED and isinstance(v.const, frozenset) else None


def join_envs(envs: list[dict[str, Val] | None]) -> dict[str, Val] | None:
    """The environments of the paths that reach a point joined (None when none does)."""
    live = [e for e in envs if e is not None]
    if not live:
        return None
    out = dict(live[0])
    for e in live[1:]:
        for k in out.keys() | e.keys():
            out[k] = join(out.get(k, UNKNOWN), e.get(k, UNKNOWN))
    return out


class Facts(NamedTuple):
    """Per expression node (by ``id``): the joined value wherever it was evaluated; and the nodes in branches
    that a known test never takes."""

    values: dict[int, Val]
    dead: set[int]

    def value(self, node: ast.AST) -> Val | None:
        """The node's joined value, None where it was never evaluated."""
        return self.values.get(id(node))

    def level(self, node: ast.AST) -> int | None:
        """The node's level, ``-1`` in dead code, None where it was never evaluated (not followed)."""
        return -1 if id(node) in self.dead else v.worst() if (v := self.values.get(id(node))) else None

    def clean(self, node: ast.AST | None) -> bool:
        """Dead, or evaluated and free of request data everywhere it was."""
        return node is not None and (lv := self.level(node)) is not None and lv < TAINT

    def fixed(self, node: ast.AST | None) -> bool:
        """Dead, or evaluated and computed from constants only everywhere it was."""
        return node is not None and (lv := self.level(node)) is not None and lv <= FIXED


_FAILED = object()


def constant(node: ast.AST, op: Any, *vals: Val) -> Val:
    """``op`` applied to known constants (small results only), else "computed from constants" or worse."""
    if all(v.level == CONST for v in vals):
        try:
            out = op(*(v.const for v in vals))
        except Exception:  # noqa: BLE001 - an error the program would raise too: no constant
            out = _FAILED
        if out is not _FAILED and isinstance(out, int | float | bool | str | bytes | type(None)) \
                and len(str(out)) < 10_000:
            return Val(CONST, out)
    worst = max([FIXED, *(v.worst() for v in vals)])
    return Val(min(worst, CLEAN) if isinstance(node, ast.Compare) else worst)


def call_level(name: str, method: str, inputs: list[Val], has_request: bool) -> Val:
    """A call's value by name: request data in, request data out, except through a sanitiser (an HTML escaper
    is not one here: these values serve every sink); pure calls of constants stay "computed from constants"."""
    worst = max([FIXED, *(v.worst() for v in inputs)])
    if sanitiser(name):
        return Val(min(worst, CLEAN))
    if has_request or worst == TAINT:
        return TAINTED
    return Val(FIXED) if worst <= FIXED and (name in PURE or method in PURE) else UNKNOWN


Function = ast.FunctionDef | ast.AsyncFunctionDef


def functions(tree: ast.AST, outer: tuple[Function, ...] = ()) -> list[tuple[Function, tuple[Function, ...]]]:
    """Every function with the functions it is nested in (a closure reads their names)."""
    out = []
    for child in ast.iter_child_nodes(tree):
        inner = outer
        if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
            out.append((child, outer))
            inner = (*outer, child)
        out += functions(child, inner)
    return out


def root_name(node: ast.expr) -> str:
    """The name an attribute, item or starred expression starts from (``self`` of ``self.a[k]``), or "" when it
    starts from another expression."""
    while isinstance(node, ast.Attribute | ast.Subscript | ast.Starred):
        node = node.value
    return node.id if isinstance(node, ast.Name) else ""


def closure_taint(fn: Function, outer: tuple[Function, ...], tables: frozenset[str]) -> set[str]:
    """The free names of ``fn`` that hold request data anywhere in its enclosing functions (flow-insensitively,
    :mod:`.taint`): a closure may read them at any time."""
    if not outer:
        return set()
    given = set().union(*(taint_names(f, tables, frozenset(url_params(f))) for f in outer))
    return _free(fn) & given


def _free(fn: Function) -> set[str]:
    """Names a function reads without assigning them itself (its closure's and globals)."""
    stored = {n.id for n in ast.walk(fn) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
    args = {a.arg for a in ast.walk(fn.args) if isinstance(a, ast.arg)}
    return {n.id for n in ast.walk(fn) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)} - stored - args


__all__ = ["CLEAN", "CONST", "FIXED", "OPS", "TAINT", "Facts", "Function", "Val", "call_level", "closure_taint",
           "constant", "from_source", "functions", "join", "join_envs", "options", "root_name"]
