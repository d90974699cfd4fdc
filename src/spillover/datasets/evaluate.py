"""Expressions for :mod:`.interpret`: the abstract value of one expression, and what a call does to the dict,
config section or list it is made on (``d.get("k")``, ``conf.set(s, k, v)``, ``lst.append(v)``, ``lst.pop(0)``).

>>> from spillover.datasets.interpret import module_facts
>>> tree = ast.parse("lst = []\\nlst.append('a')\\nlst.append(request.args['p'])\\nlst.pop(0)\\nx = lst[0]")
>>> module_facts(tree).level(tree.body[-1].value)
3
"""

from __future__ import annotations

import ast
from typing import Any, Protocol

from .flow import CONST, FIXED, OPS, TAINT, TAINTED, UNKNOWN, Val, call_level, constant, from_source, join, root_name
from .taint import sanitiser

Env = dict[str, Val]
CONTAINERS = {"dict": "dict", "list": "list", "configparser.ConfigParser": "config", "ConfigParser": "config",
              "configparser.RawConfigParser": "config", "RawConfigParser": "config"}
"""Calls that make an (empty) container whose items are kept apart."""
MUTABLE = frozenset(CONTAINERS.values())
"""Kinds of value a callee can store data in (a tuple's value is a ``list`` here too: taken as fillable, which can
only keep a finding)."""
READ_ONLY = frozenset({"get", "keys", "values", "items", "index", "count", "copy", "has_section", "has_option",
                       "sections", "options"})
"""Methods of a container that leave its items where they are."""


class Walker(Protocol):
    modules: frozenset[str]
    """Names the module imports: their functions' receivers are not inputs (``base64.b64decode(x)``)."""

    def eval(self, node: ast.expr, env: Env) -> Val: ...

    def assign(self, target: ast.expr, v: Val, env: Env) -> None: ...


def evaluate(it: Walker, node: ast.expr, env: Env) -> Val:
    """The value of ``node`` (sources are handled by the caller)."""
    if isinstance(node, ast.Constant):
        return Val(CONST, node.value)
    if isinstance(node, ast.Name):
        return env.get(node.id, UNKNOWN)
    if isinstance(node, ast.BinOp) and type(node.op) in OPS:
        left, right = it.eval(node.left, env), it.eval(node.right, env)
        if isinstance(node.op, ast.Add) and left.kind == right.kind == "list" and None not in (left.items, right.items):
            joined = [v for _i, v in (left.items or ())] + [v for _i, v in (right.items or ())]
            return Val(FIXED, items=tuple(enumerate(joined)), kind="list")  # a + [b]: items stay apart
        return constant(node, OPS[type(node.op)], left, right)
    if isinstance(node, ast.Compare) and len(node.ops) == 1 and type(node.ops[0]) in OPS:
        return constant(node, OPS[type(node.ops[0])], it.eval(node.left, env), it.eval(node.comparators[0], env))
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not | ast.USub):
        neg = isinstance(node.op, ast.USub)
        return constant(node, (lambda a: -a) if neg else (lambda a: not a), it.eval(node.operand, env))
    if isinstance(node, ast.BoolOp):
        vals = [it.eval(v, env) for v in node.values]
        pick = all if isinstance(node.op, ast.And) else any
        return constant(node, lambda *xs: pick(xs), *vals)
    if isinstance(node, ast.IfExp):
        t = it.eval(node.test, env)
        if t.level == CONST:
            return it.eval(node.body if t.const else node.orelse, env)
        return join(it.eval(node.body, env), it.eval(node.orelse, env))
    if isinstance(node, ast.Subscript):
        return _subscript(it, node, env)
    if isinstance(node, ast.Call):
        return _call(it, node, env)
    if isinstance(node, ast.Dict | ast.List | ast.Tuple) and not (isinstance(node, ast.Dict) and None in node.keys):
        return _literal(it, node, env)
    if isinstance(node, ast.NamedExpr):
        v = it.eval(node.value, env)
        it.assign(node.target, v, env)
        return v
    if _opaque(node):
        value = _opaque_value(node, env)
        env.update({n.target.id: value for n in ast.walk(node) if isinstance(n, ast.NamedExpr)
                    and isinstance(n.target, ast.Name)})  # [y := f(x) for x in xs] binds y outside
        return value
    parts = [it.eval(c, env) for c in ast.iter_child_nodes(node) if isinstance(c, ast.expr)]
    return Val(max([FIXED, *(p.worst() for p in parts)]))


def _literal(it: Walker, node: ast.Dict | ast.List | ast.Tuple, env: Env) -> Val:
    """A dict with constant keys or a list or tuple: a container whose items are kept apart."""
    if isinstance(node, ast.List | ast.Tuple):
        return Val(FIXED, items=tuple(enumerate(it.eval(e, env) for e in node.elts)), kind="list")
    keys = [it.eval(k, env) for k in node.keys if k is not None]
    vals = [it.eval(v, env) for v in node.values]
    if all(k.level == CONST for k in keys):
        return Val(FIXED, items=tuple((k.const, v) for k, v in zip(keys, vals, strict=True)), kind="dict")
    return Val(max([FIXED, *(v.worst() for v in keys + vals)]))


def _opaque(node: ast.expr) -> bool:
    """Expressions with scopes of their own (lambdas, comprehensions): read by name, not walked."""
    return isinstance(node, ast.Lambda | ast.ListComp | ast.SetComp | ast.DictComp | ast.GeneratorExp)


def _opaque_value(node: ast.expr, env: Env) -> Val:
    names = {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}
    tainted = any(env.get(n, UNKNOWN).worst() == TAINT for n in names) or any(
        from_source(n) for n in ast.walk(node) if isinstance(n, ast.expr))
    return TAINTED if tainted else UNKNOWN


def _subscript(it: Walker, node: ast.Subscript, env: Env) -> Val:
    base = it.eval(node.value, env)
    if isinstance(node.slice, ast.Slice):
        bounds = [it.eval(b, env) if b is not None else Val(CONST, None)
                  for b in (node.slice.lower, node.slice.upper, node.slice.step)]
        return constant(node, lambda s, *b: s[slice(*b)], base, *bounds)
    key = it.eval(node.slice, env)
    if base.items is not None and key.level == CONST:
        items = dict(base.items)
        if base.kind == "list" and isinstance(key.const, int) and -len(items) <= key.const < len(items):
            return items[key.const % len(items)]
        if base.kind == "dict" and key.const in items:
            return items[key.const]
    return constant(node, lambda s, k: s[k], base, key)


def _call(it: Walker, node: ast.Call, env: Env) -> Val:
    name = ast.unparse(node.func)
    method = node.func.attr if isinstance(node.func, ast.Attribute) else ""
    owner = node.func.value if isinstance(node.func, ast.Attribute) else None
    recv = it.eval(owner, env) if owner is not None else None
    args = [it.eval(a, env) for a in node.args]
    kwargs = [it.eval(k.value, env) for k in node.keywords]
    if name in CONTAINERS and not node.args:
        return Val(FIXED, items=(), kind=CONTAINERS[name])
    if recv is not None and recv.kind and recv.items is not None:
        done = _container_call(recv, method, args)
        if done is not None:
            value, after = done
            if isinstance(owner, ast.Name) and after is not None:
                env[owner.id] = after
            return value
        if isinstance(owner, ast.Name) and method not in READ_ONLY:  # lst.insert(...): items no longer known apart
            env[owner.id] = Val(max([FIXED, recv.worst(), *(a.worst() for a in args + kwargs)]))
    if any(a.worst() == TAINT for a in args + kwargs):
        if isinstance(owner, ast.Name) and method:
            env[owner.id] = join(env.get(owner.id, UNKNOWN), TAINTED)  # x.append(p), x.write(p), ...
        if not sanitiser(name):  # fill(items, p): the callee may store p in a container it was handed
            handed = [a for a in [*node.args, *(k.value for k in node.keywords)] if isinstance(a, ast.Name)]
            env.update({a.id: TAINTED for a in handed if env.get(a.id, UNKNOWN).kind in MUTABLE})
    bare_request = any(isinstance(a, ast.Name) and a.id == "request" for a in node.args)
    module = owner is not None and root_name(owner) in it.modules and root_name(owner) not in env
    callee = [env[node.func.id]] if isinstance(node.func, ast.Name) and node.func.id in env else []  # g = lambda: p
    return call_level(name, method, [*([recv] if recv is not None and not module else []), *callee, *args, *kwargs],
                      bare_request)


def _container_call(c: Val, method: str, args: list[Val]) -> tuple[Val, Val | None] | None:
    """(result, container after) for the calls a dict, config section or list answers by key; None otherwise."""
    items = dict(c.items or ())
    keyed = c.kind == "config" and len(args) >= 2 and args[0].level == args[1].level == CONST
    key: Any = (args[0].const, args[1].const) if keyed else args[0].const if args and args[0].level == CONST else None
    if c.kind == "config" and method == "set" and keyed and len(args) == 3:
        return UNKNOWN, c._replace(items=tuple({**items, key: args[2]}.items()))
    if c.kind == "config" and method == "add_section":
        return UNKNOWN, None
    if method == "get" and c.kind in ("dict", "config") and (keyed or c.kind == "dict" and key is not None):
        default = args[1] if c.kind == "dict" and len(args) > 1 else UNKNOWN
        return items.get(key, default), None
    if c.kind == "list" and method == "append" and len(args) == 1:
        return UNKNOWN, c._replace(items=tuple(enumerate([*items.values(), args[0]])))
    if c.kind == "list" and method == "pop" and (not args or isinstance(key, int)):
        values = list(items.values())
        if not values or (key is not None and not -len(values) <= key < len(values)):
            return None
        out = values.pop(-1 if key is None else key)
        return out, c._replace(items=tuple(enumerate(values)))
    return None


def store(container: Val, key: Val, v: Val) -> Val:
    """A container after ``container[key] = v``: kept apart by a constant key, else the container holds worse."""
    if container.kind == "dict" and key.level == CONST and container.items is not None:
        items = dict(container.items)
        items[key.const] = v
        return container._replace(items=tuple(items.items()))
    return Val(max(container.worst(), v.worst(), FIXED if container.level == CONST else container.level))


__all__ = ["evaluate", "store"]
