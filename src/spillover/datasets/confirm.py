"""Which of bandit's findings the verifier keeps: not its advisory ones, and not those the code shows to be harmless
(SQL or a command built from constants only, a fixed web URL, ``random`` outside secrets, ``exec`` of constant text
or of text checked to be one string literal, and any call of :data:`FIXED_INPUT` whose input the flow-sensitive
values, :mod:`.flow`, show to be computed from constants).
"""

from __future__ import annotations

import ast

from .astchecks import parse, web_urls_fixed
from .commands import words
from .flow import Facts
from .frameworks import SUBPROCESS
from .interpret import module_facts
from .literal import checked_literal
from .sqltext import constant_text, safe_names, sql_from_constants
from .taint import module_tables

ADVISORY = frozenset({"B403", "B404", "B405", "B406", "B407", "B408", "B409", "B410", "B603", "B607", "B101",
                      "B110", "B112"})
"""Bandit findings that are not flaws by themselves: importing ``subprocess``, ``pickle`` or an XML parser (the
calls that parse or load are findings of their own), list-form ``subprocess`` calls, and code hygiene
(``assert``, ``except: pass``/``continue``)."""
SECRET_WORDS = frozenset({"token", "password", "passwd", "secret", "key", "salt", "nonce", "otp", "pin", "code",
                          "session", "csrf", "reset", "api"})
"""Words of a name that make a ``random`` value a secret (bandit's B311 is kept only then)."""


def bandit_confirmed(src: str, found: set[str]) -> set[str]:
    """Bandit's findings for ``src`` that the verifier keeps: not the advisory ones, not B608 ("SQL built
    from strings") when every SQL text is built from constants (``sqltext.sql_from_constants``), not B310
    ("audit url open for permitted schemes") when every URL opened is a fixed ``http(s)`` one, not B311
    (``random``) outside secrets, and not ``exec``/``eval`` of string constants.

    >>> bandit_confirmed("COLS = {'a': 'a'}\\ndef f(c, o):\\n    c.execute('SELECT ' + COLS.get(o, 'a'))",
    ...                  {"B608", "B404"})
    set()
    """
    kept = found - ADVISORY
    tree = parse(src) if kept & {"B608", "B310", "B311", *CODE_RUNS, *FIXED_INPUT} else None
    if tree is None:
        return kept
    if kept & FIXED_INPUT.keys():
        facts = module_facts(tree)
        kept -= {t for t in kept & FIXED_INPUT.keys() if fixed_inputs(tree, facts, FIXED_INPUT[t])}
    if "B608" in kept and sql_from_constants(tree):
        kept.discard("B608")
    if "B310" in kept and web_urls_fixed(tree):
        kept.discard("B310")
    if "B311" in kept and not random_secret(tree):
        kept.discard("B311")
    if kept & CODE_RUNS and runs_constant_code(tree):
        kept -= CODE_RUNS
    return kept


FIXED_INPUT = {"B102": ("exec",), "B307": ("eval",), "B301": ("pickle.loads", "pickle.load", "cPickle.loads"),
               "B506": ("yaml.load",),
               "B602": tuple(SUBPROCESS), "B605": ("os.system", "os.popen"),
               "B608": (".execute", ".executemany", ".executescript")}
"""Bandit findings dropped when every call they are about runs on a value computed from constants only, by the
flow-sensitive values (:mod:`.flow`): a dead branch, an overwritten value, a constant key (``.x``: any method)."""


def fixed_inputs(tree: ast.AST, facts: Facts, calls: tuple[str, ...]) -> bool:
    """There are such calls, and the first argument of each is computed from constants only (or never reached).

    >>> src = "def f():\\n    n = 3\\n    cmd = 'ls' if n > 2 else input()\\n    os.system(cmd)"
    >>> tree = ast.parse(src)
    >>> fixed_inputs(tree, module_facts(tree), ("os.system",))
    True
    """
    found = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and any(
        ast.unparse(n.func).endswith(c) if c.startswith(".") else ast.unparse(n.func) == c for c in calls)]
    return bool(found) and all(c.args and facts.fixed(c.args[0]) for c in found)


CODE_RUNS = frozenset({"B102", "B307"})
"""Bandit's ``exec`` and ``eval`` findings: dropped when every such call runs a constant string or a value
checked to be one plain string literal (:func:`.literal.checked_literal`)."""


def runs_constant_code(tree: ast.AST) -> bool:
    """Every ``exec``/``eval`` call runs constant text (:func:`.sqltext.constant_text`, names resolved
    module-wide; ``textwrap.dedent`` of it too), or a name just checked to be one quoted string literal
    (:func:`.literal.checked_literal`): no code from outside can run.

    >>> runs_constant_code(ast.parse("C = 'x = 1'\\ndef f():\\n    exec(dedent(C))"))
    True
    >>> runs_constant_code(ast.parse("def f(s):\\n    eval(s)"))
    False
    """
    tables = module_tables(tree.body if isinstance(tree, ast.Module) else [])
    safe = safe_names(tree, tables)
    for call in (n for n in ast.walk(tree) if isinstance(n, ast.Call) and ast.unparse(n.func) in ("exec", "eval")):
        arg = call.args[0] if call.args else None
        while isinstance(arg, ast.Call) and ast.unparse(arg.func) in ("dedent", "textwrap.dedent") and arg.args:
            arg = arg.args[0]
        if arg is None or not (constant_text(arg, safe, tables) or checked_literal(tree, call)):
            return False
    return True


def random_secret(tree: ast.AST) -> bool:
    """A ``random`` module value assigned to, or returned by a function, whose name is a secret's
    (:data:`SECRET_WORDS`); jitter, sampling and shuffles are not.

    >>> random_secret(ast.parse("token = ''.join(random.choice(ABC) for _ in range(16))"))
    True
    >>> random_secret(ast.parse("time.sleep(random.randint(20, 500) / 100)"))
    False
    """
    def uses_random(node: ast.AST | None) -> bool:
        return node is not None and any(isinstance(c, ast.Call) and ast.unparse(c.func).startswith("random.")
                                        for c in ast.walk(node))

    def secret(name: str) -> bool:
        return bool(SECRET_WORDS.intersection(words(name)))

    for n in ast.walk(tree):
        if isinstance(n, ast.Assign | ast.AnnAssign) and uses_random(n.value):
            targets = n.targets if isinstance(n, ast.Assign) else [n.target]
            if any(secret(ast.unparse(t).split(".")[-1]) for t in targets):
                return True
        if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef) and secret(n.name) and any(
                isinstance(r, ast.Return) and uses_random(r.value) for r in ast.walk(n)):
            return True
    return False
