"""Static verification of generated code: bandit (AST only) plus our own AST checks.

Never executes the code. An insecure answer must be flagged for *its* family (bandit test ids of the
family, or our own checks that name it, for flaws bandit does not see: :mod:`.astchecks` such as path
traversal and SSRF); a secure answer must not be flagged at all, ignoring only bandit's advisory LOW
findings that fire on secure code as well (``import subprocess`` B404, list-form ``subprocess``
B603/B607). Our own checks also include the taint-style ones of :mod:`.taint` (request data reaching
SQL, a shell, a path, a template, unescaped markup or a redirect; routes that change data without an
authorisation check). Python only.
"""

from __future__ import annotations

import ast
import functools
import tempfile
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..errors import MissingExtraError
from .astchecks import AST_CHECKS, NEEDS, parse, web_urls_fixed
from .commands import words
from .flow import Facts
from .frameworks import SUBPROCESS
from .interpret import module_facts
from .sinks import taint_findings
from .snippets import with_imports
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


_SEEN: dict[str, frozenset[str]] = {}
"""Bandit's findings per source already checked in this process (datasets built from the same programs, such as
the secure and insecure variants, are checked once)."""
_SEEN_MAX = 100_000


PARALLEL_FROM = 2000
"""From this many new sources, bandit runs in one process per core (it is pure Python)."""


def bandit_ids(sources: Sequence[str]) -> list[set[str]]:
    """Bandit test ids found in each source, as bandit sees it with the imports its names imply
    (:func:`.snippets.with_imports`; one temp file each, one bandit run per core for all new sources)."""
    new = sorted({s for s in sources if s not in _SEEN})
    if new:
        if len(_SEEN) + len(new) > _SEEN_MAX:
            _SEEN.clear()
        _SEEN.update(zip(new, map(frozenset, _bandit_parallel([with_imports(s) for s in new])), strict=True))
    return [set(_SEEN[s]) for s in sources]


def _bandit_parallel(sources: list[str]) -> list[set[str]]:
    import multiprocessing as mp
    import os

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    if len(sources) < PARALLEL_FROM or cores < 2 or "fork" not in mp.get_all_start_methods():
        return bandit_raw(sources)
    from concurrent.futures import ProcessPoolExecutor

    size = -(-len(sources) // cores)
    chunks = [sources[i: i + size] for i in range(0, len(sources), size)]
    # fork: the children only run bandit, and spawn would re-run a caller's unguarded script
    with ProcessPoolExecutor(len(chunks), mp_context=mp.get_context("fork")) as pool:
        return [ids for part in pool.map(bandit_raw, chunks) for ids in part]


SEVERITIES = ("LOW", "MEDIUM", "HIGH")


def bandit_raw(sources: Sequence[str], min_severity: str = "LOW") -> list[set[str]]:
    """Bandit's test ids per source, counting findings of ``min_severity`` or worse."""
    try:
        from bandit.core import config, manager
    except ImportError:
        raise MissingExtraError("codecheck", "verifying generated code") from None
    import logging

    logging.getLogger("bandit").setLevel(logging.ERROR)
    with tempfile.TemporaryDirectory() as d:
        paths = []
        for i, src in enumerate(sources):
            p = Path(d) / f"s{i}.py"
            p.write_text(src)
            paths.append(str(p))
        m = manager.BanditManager(config.BanditConfig(), "file", quiet=True)
        m.discover_files(paths)
        m.run_tests()
        found: dict[str, set[str]] = {}
        for issue in m.get_issue_list():
            if SEVERITIES.index(str(issue.severity)) >= SEVERITIES.index(min_severity):
                found.setdefault(issue.fname, set()).add(issue.test_id)
        return [found.get(p, set()) for p in paths]


UNPARSEABLE = "unparseable"


def own_checks(src: str) -> set[str]:
    """Names of our own AST checks (and taint findings) that flag ``src``; ``{"unparseable"}`` when it does
    not parse (never raises: external code is often fragments).

    >>> own_checks("def f(:\\n  pass")
    {'unparseable'}
    >>> own_checks("import requests\\ndef f(u):\\n    return requests.get(u, timeout=5)")
    {'ssrf'}
    """
    return set(_own_checks(src))


@functools.lru_cache(maxsize=50_000)
def _own_checks(src: str) -> frozenset[str]:
    tree = parse(src)
    if tree is None:
        return frozenset({UNPARSEABLE})
    found = {name for name, check in AST_CHECKS.items() if any(n in src for n in NEEDS[name]) and check(tree)}
    return frozenset(found | (taint_findings(tree) if any(n in src for n in NEEDS["taint"]) else set()))


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
"""Bandit's ``exec`` and ``eval`` findings: dropped when every such call runs a constant string."""


def runs_constant_code(tree: ast.AST) -> bool:
    """Every ``exec``/``eval`` call runs constant text (:func:`.sqltext.constant_text`, names resolved
    module-wide; ``textwrap.dedent`` of it too): nothing from outside can reach it.

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
        if arg is None or not constant_text(arg, safe, tables):
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


def verifier_flags(src: str, found: set[str]) -> set[str]:
    """Everything the verifier reports for ``src`` given bandit's findings ``found``: confirmed bandit ids and
    the names of our own checks."""
    return bandit_confirmed(src, found) | own_checks(src)


def verify_pairs(pairs: Sequence[tuple[Any, str, str]]) -> tuple[list[bool], dict[str, Any]]:
    """Check (family, secure, insecure) triples; returns keep flags and a verification report."""
    distinct = sorted({s for _f, a, b in pairs for s in (a, b)})
    index = {s: i for i, s in enumerate(distinct)}
    ids = bandit_ids(distinct)
    keep: list[bool] = []
    per_family: dict[str, Counter[str]] = {}
    for fam, secure, insecure in pairs:
        c = per_family.setdefault(fam.name, Counter())
        ins_ok = bool(bandit_confirmed(insecure, ids[index[insecure]]) & fam.bandit or own_checks(insecure) & fam.own)
        sec_any = bool(verifier_flags(secure, ids[index[secure]]))  # every check, not the family's
        c["examples"] += 1
        c["insecure_flagged_for_family"] += ins_ok
        c["secure_flagged"] += sec_any
        ok = ins_ok and not sec_any
        c["kept"] += ok
        keep.append(ok)
    total: Counter[str] = Counter()
    for c in per_family.values():
        total.update(c)
    report = {"method": "bandit (AST only; B608 dropped where the SQL text is built from constants) + own AST and "
                        "taint checks; an insecure answer must be flagged for its family, a secure answer must pass "
                        "every check; never executed",
              "advisory_ignored": sorted(ADVISORY), "families": {k: dict(v) for k, v in sorted(per_family.items())},
              "total": dict(total)}
    return keep, report
