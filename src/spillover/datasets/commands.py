"""Commands and queries built as text from values and handed to something that runs them, including a
project's own wrappers (``self._cli_run("createvlun %s" % name)``, ``db.query(sql % args)``), which bandit
does not follow: its shell checks need ``subprocess``/``os`` and its SQL check a literal where it is built.

A runner is a call whose own name has a word such as ``run``, ``exec``, ``execute``, ``cmd``, ``command``,
``ssh``, ``shell``, ``popen``, ``cli``, ``output`` or ``query`` (``_cli_run``, ``get_output``,
``executeQuery``). Its first argument is checked, or, if that is a local name, every value assigned to it.
Text built only from constants, constant tables, numeric casts (:mod:`.sqltext`) and shell-quoted values
(``shlex.quote``) is not flagged.

Not guaranteed: a runner is recognised by name only (a wrapper called ``do_it`` is missed, a
``run_report("Report for %s" % user)`` that runs nothing is flagged); values are not followed across
functions; a list of arguments is never flagged (it may still reach a shell elsewhere).
"""

from __future__ import annotations

import ast
import re

from .interpret import module_facts
from .sqltext import constant_text, safe_names
from .taint import assignments, module_tables

RUNNER_WORDS = frozenset({"run", "exec", "execute", "executemany", "executescript", "cmd", "command", "ssh",
                          "shell", "system", "popen", "spawn", "cli", "output", "query", "raw"})
"""Words of a callee's name that mark it as running what it is given."""


def words(name: str) -> list[str]:
    """The lower-case words of an identifier, split at underscores and case changes.

    >>> words("_execute_command_and_parse")
    ['execute', 'command', 'and', 'parse']
    >>> words("executeQuery")
    ['execute', 'query']
    """
    return [w.lower() for w in re.findall(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])", name)]


def is_runner(call: ast.Call) -> bool:
    """Whether a call's own name (the last attribute) has a runner word.

    >>> is_runner(ast.parse("self._cli_run(x)", mode="eval").body)
    True
    >>> is_runner(ast.parse("LOG.debug(x)", mode="eval").body)
    False
    """
    f = call.func
    name = f.attr if isinstance(f, ast.Attribute) else f.id if isinstance(f, ast.Name) else ""
    return bool(RUNNER_WORDS.intersection(words(name)))


def interpolated(node: ast.AST) -> bool:
    """Text built by ``%``, ``+`` with a string, an f-string with fields, or ``"...".format(...)``.

    >>> interpolated(ast.parse("'ls %s' % d", mode="eval").body)
    True
    >>> interpolated(ast.parse("['ls', d]", mode="eval").body)
    False
    """
    if isinstance(node, ast.JoinedStr):
        return any(isinstance(v, ast.FormattedValue) for v in node.values)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod):
        return True  # a runner given a modulo of numbers is not expected
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return any(isinstance(s, ast.Constant) and isinstance(s.value, str) or interpolated(s)
                   for s in (node.left, node.right))
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "format"


def text_to_runner(tree: ast.AST) -> bool:
    """A runner given text interpolated from values that are not all constants.

    >>> text_to_runner(ast.parse("def f(self, h):\\n    c = 'showhost %s' % h\\n    return self._cli_run(c)"))
    True
    >>> text_to_runner(ast.parse("def f(self, h):\\n    return self._cli_run(['showhost', h])"))
    False
    >>> text_to_runner(ast.parse("def f(c):\\n    n = 5\\n    c.execute('SELECT * LIMIT %d' % n)"))
    False
    >>> text_to_runner(ast.parse("def f(c):\\n    q = 'x' if 2 > 1 else input()\\n    c.execute(f'SELECT {q}')"))
    False
    """
    tables = module_tables(tree.body if isinstance(tree, ast.Module) else [])
    for fn in ast.walk(tree):
        if not isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        values = assignments(fn)
        quoted = {k for k, vs in values.items() if all(_quoted_or_constant(v, set(), tables) for v in vs)}
        safe = safe_names(fn, tables) | quoted
        for call in (n for n in ast.walk(fn) if isinstance(n, ast.Call) and n.args and is_runner(n)):
            first = call.args[0]
            texts = values.get(first.id, []) if isinstance(first, ast.Name) else [first]
            if any(interpolated(t) and not _quoted_or_constant(t, safe, tables) for t in texts) \
                    and not module_facts(tree).fixed(first):  # computed from constants after all (:mod:`.flow`)
                return True
    return False


QUOTING = frozenset({"shlex.quote", "pipes.quote", "quote"})


def _quoted_or_constant(node: ast.AST, safe: set[str], tables: frozenset[str]) -> bool:
    """Every value put into the text is a constant (:func:`.sqltext.constant_text`) or shell-quoted."""
    if isinstance(node, ast.Call) and ast.unparse(node.func) in QUOTING:
        return True
    if isinstance(node, ast.JoinedStr | ast.FormattedValue | ast.BinOp | ast.Tuple):
        return all(_quoted_or_constant(c, safe, tables) for c in ast.iter_child_nodes(node)
                   if isinstance(c, ast.expr))
    return constant_text(node, safe, tables)
