"""The statement walker of :mod:`.flow`: runs a function's body over abstract values, in order, recording the
value of every expression it evaluates and the code a known test never reaches.

>>> src = '''
... def view():
...     p = request.args["p"]
...     n = 106
...     bar = "fixed" if 7 * 18 + n > 200 else p
...     d = {"a": "x", "b": p}
...     exec(bar); eval(d["a"]); os.system(d["b"])
... '''
>>> tree = ast.parse(src)
>>> facts = module_facts(tree)
>>> [facts.fixed(c.args[0]) for c in ast.walk(tree) if isinstance(c, ast.Call) and c.args and not c.keywords
...  and ast.unparse(c.func) in ("exec", "eval", "os.system")]
[True, True, False]
"""

from __future__ import annotations

import ast
import weakref

from .evaluate import evaluate, store
from .flow import (
    CONST,
    FIXED,
    TAINT,
    TAINTED,
    UNKNOWN,
    Facts,
    Val,
    closure_taint,
    from_source,
    functions,
    join,
    join_envs,
    root_name,
)
from .frameworks import fixed_path, is_request_path, on_request_path, url_params
from .taint import module_tables

Env = dict[str, Val]
LOOP_ROUNDS = 12
"""Times a loop body is followed at most before its values are taken as they are (each round joins; loops
settle in two or three)."""


_FACTS: weakref.WeakKeyDictionary[ast.AST, Facts] = weakref.WeakKeyDictionary()


def module_facts(tree: ast.AST) -> Facts:
    """Facts for a module's top-level code and every function in it, each on its own: a view's URL parameters
    are request data, ``request.path`` is its route when it has one fixed route, and a nested function's free
    names are request data where its enclosing functions ever give them any. Kept per tree object while it
    lives."""
    if tree in _FACTS:
        return _FACTS[tree]
    facts, modules = Facts({}, set()), _imports(tree)
    Interpreter(facts, modules).run(tree.body if isinstance(tree, ast.Module) else [], {})
    tables = module_tables(tree.body if isinstance(tree, ast.Module) else [])
    for fn, outer in functions(tree):
        seeds = set(url_params(fn)) | closure_taint(fn, outer, tables)
        Interpreter(facts, modules, fixed_path(fn)).run(fn.body, {s: TAINTED for s in seeds})
    _FACTS[tree] = facts
    return facts


def seeded_facts(tree: ast.AST, fn: ast.FunctionDef | ast.AsyncFunctionDef, seeds: set[str]) -> Facts:
    """Facts for one function of ``tree`` run with ``seeds`` holding request data (a helper's parameter as a
    view hands it request data)."""
    facts = Facts({}, set())
    Interpreter(facts, _imports(tree), fixed_path(fn)).run(fn.body, {s: TAINTED for s in seeds})
    return facts


def _imports(tree: ast.AST) -> frozenset[str]:
    return frozenset(name for n in ast.walk(tree) if isinstance(n, ast.Import | ast.ImportFrom) for name in _bound(n))


class Interpreter:
    """One walk; ``facts`` collects what it sees (shared across the functions of a module)."""

    def __init__(self, facts: Facts, modules: frozenset[str] = frozenset(), path: str | None = None) -> None:
        self.facts = facts
        self.modules = modules  # names imported anywhere in the module
        self.path = path  # request.path, where the route fixes it
        self.exits: list[tuple[list[Env], list[Env]]] = []  # per enclosing loop: envs at break, at continue

    # statements

    def run(self, body: list[ast.stmt], env: Env | None) -> Env | None:
        """The environment after ``body`` (None when every path leaves: return, raise, break, continue)."""
        for i, stmt in enumerate(body):
            if env is None:
                self._kill(body[i:])
                return None
            env = self.stmt(stmt, env)
        return env

    def _kill(self, stmts: list[ast.stmt] | list[ast.match_case]) -> None:
        for s in stmts:
            self.facts.dead.update(id(n) for n in ast.walk(s) if id(n) not in self.facts.values)

    def stmt(self, s: ast.stmt, env: Env) -> Env | None:
        if isinstance(s, ast.Assign | ast.AnnAssign) and s.value is not None:
            v = self.eval(s.value, env)
            for t in s.targets if isinstance(s, ast.Assign) else [s.target]:
                self.assign(t, v, env)
        elif isinstance(s, ast.AugAssign):
            self.assign(s.target, self.eval(ast.BinOp(s.target, s.op, s.value), env), env)
        elif isinstance(s, ast.Expr):
            self.eval(s.value, env)
        elif isinstance(s, ast.If):
            return self._branch(s.test, s.body, s.orelse, env)
        elif isinstance(s, ast.For | ast.AsyncFor | ast.While):
            return self._loop(s, env)
        elif isinstance(s, ast.Try | ast.TryStar):
            return self._try(s, env)
        elif isinstance(s, ast.With | ast.AsyncWith):
            for item in s.items:
                v = self.eval(item.context_expr, env)
                if item.optional_vars is not None:
                    self.assign(item.optional_vars, v, env)
            return self.run(s.body, env)
        elif isinstance(s, ast.Match):
            return self._match(s, env)
        elif isinstance(s, ast.Return):
            if s.value is not None:
                self.eval(s.value, env)
            return None
        elif isinstance(s, ast.Raise):
            return None
        elif isinstance(s, ast.Break | ast.Continue) and self.exits:
            self.exits[-1][0 if isinstance(s, ast.Break) else 1].append(dict(env))
            return None
        elif isinstance(s, ast.Assert | ast.Delete):
            for e in (n for n in ast.iter_child_nodes(s) if isinstance(n, ast.expr)):
                self.eval(e, env)
        else:  # imports, nested functions and classes bind names to what we do not follow: unknown, not local
            for name in _bound(s):
                env.pop(name, None)
        return env

    def _branch(self, test: ast.expr, body: list[ast.stmt], orelse: list[ast.stmt], env: Env) -> Env | None:
        t = self.eval(test, env)
        if t.level == CONST:
            self._kill(orelse if t.const else body)
            return self.run(body if t.const else orelse, dict(env))
        return join_envs([self.run(body, dict(env)), self.run(orelse, dict(env))])

    def _loop(self, s: ast.For | ast.AsyncFor | ast.While, env: Env) -> Env | None:
        self.exits.append(([], []))
        head: Env = dict(env)
        for _ in range(LOOP_ROUNDS):
            inner = dict(head)
            if isinstance(s, ast.While):
                self.eval(s.test, inner)
            else:
                item = self.eval(s.iter, inner)
                self.assign(s.target, Val(max(FIXED, item.worst())), inner)
            after = join_envs([head, self.run(s.body, inner), *self.exits[-1][1]])
            if after == head:
                break
            head = after or head
        breaks = self.exits.pop()[0]
        return join_envs([self.run(s.orelse, dict(head)), *breaks])

    def _try(self, s: ast.Try | ast.TryStar, env: Env) -> Env | None:
        seen: list[Env | None] = [dict(env)]  # an exception may come after any statement of the body
        done: Env | None = dict(env)
        for i, stmt in enumerate(s.body):
            if done is None:
                self._kill(s.body[i:])
                break
            done = self.stmt(stmt, done)
            seen.append(dict(done) if done is not None else None)
        anywhere = join_envs(seen) or env
        ends = [self.run(s.orelse, dict(done)) if done is not None else None]
        ends += [self.run(h.body, {**anywhere, **({h.name: UNKNOWN} if h.name else {})}) for h in s.handlers]
        out = join_envs(ends)
        after = self.run(s.finalbody, dict(out if out is not None else anywhere))
        return after if out is not None else None

    def _match(self, s: ast.Match, env: Env) -> Env | None:
        subject = self.eval(s.subject, env)
        if subject.level == CONST:
            for i, case in enumerate(s.cases):
                hit = _matches(case.pattern, subject.const)
                if hit is None or hit and case.guard is not None:
                    break  # a pattern or a guard we cannot decide: follow every case
                if hit:
                    self._kill(s.cases[:i] + s.cases[i + 1:])
                    return self.run(case.body, self._captured(case, subject, env))
        return join_envs([dict(env), *(self.run(c.body, self._captured(c, subject, env)) for c in s.cases)])

    def _captured(self, case: ast.match_case, subject: Val, env: Env) -> Env:
        """The environment of a case's body: the names its pattern captures hold parts of the subject."""
        part = Val(max(FIXED, subject.worst()))
        return {**env, **{n.name: part for n in ast.walk(case.pattern)
                          if isinstance(n, ast.MatchAs | ast.MatchStar) and n.name}}

    def assign(self, target: ast.expr, v: Val, env: Env) -> None:
        if isinstance(target, ast.Name):
            env[target.id] = v
        elif isinstance(target, ast.Tuple | ast.List):
            items = dict(v.items or ()) if v.kind == "list" else {}
            for i, t in enumerate(target.elts):
                self.assign(t, items.get(i, Val(max(FIXED, v.worst()))), env)
        elif isinstance(target, ast.Subscript) and isinstance(target.value, ast.Name):
            key = self.eval(target.slice, env)
            env[target.value.id] = store(env.get(target.value.id, UNKNOWN), key, v)
        elif isinstance(target, ast.Attribute | ast.Subscript | ast.Starred) and (root := root_name(target)):
            old = env.get(root, UNKNOWN)  # self.x = p: the object now holds what was stored
            env[root] = Val(max(FIXED, old.worst(), v.worst()))

    # expressions

    def eval(self, node: ast.expr, env: Env) -> Val:
        """The node's value in ``env`` (recorded, joined with earlier visits)."""
        if self.path is not None and is_request_path(node):
            v = Val(CONST, self.path)
        elif from_source(node) and not (self.path is not None and on_request_path(node)):
            v = TAINTED
        else:
            v = evaluate(self, node, env)  # (built from the fixed path: followed below)
        old = self.facts.values.get(id(node))
        self.facts.values[id(node)] = v if old is None else join(old, v)
        return v


def _bound(s: ast.stmt) -> list[str]:
    """Names an import, a nested function or a class statement binds."""
    if isinstance(s, ast.Import | ast.ImportFrom):
        return [(a.asname or a.name).split(".")[0] for a in s.names]
    return [s.name] if isinstance(s, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) else []


def _matches(pattern: ast.pattern, value: object) -> bool | None:
    """Whether a ``case`` pattern matches a known constant (None when the pattern is not a simple one)."""
    if isinstance(pattern, ast.MatchValue) and isinstance(pattern.value, ast.Constant):
        return bool(pattern.value.value == value)
    if isinstance(pattern, ast.MatchOr):
        hits = [_matches(p, value) for p in pattern.patterns]
        return None if None in hits else any(hits)
    if isinstance(pattern, ast.MatchAs) and pattern.pattern is None:
        return True
    return None


__all__ = ["Interpreter", "TAINT", "module_facts", "seeded_facts"]
