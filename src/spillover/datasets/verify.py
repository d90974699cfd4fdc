"""Static verification of generated code: bandit (AST only) plus our own AST checks.

Never executes the code. An insecure answer must be flagged for *its* family (bandit test ids of
the family, or our own checks that name it, for flaws bandit does not see such as path traversal and
SSRF); a secure answer must not be flagged at all, ignoring only bandit's advisory LOW findings that fire on
secure code as well (``import subprocess`` B404, list-form ``subprocess`` B603/B607). Our own checks
also include the taint-style ones of :mod:`.taint` (request data reaching SQL, a shell, a path, a
template, unescaped markup or a redirect; routes that change data without an authorisation check).
Python only.
"""

from __future__ import annotations

import ast
import functools
import re
import tempfile
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

from ..errors import MissingExtraError
from .sqltext import sql_from_constants
from .taint import taint_findings

ADVISORY = frozenset({"B404", "B603", "B607"})


_SEEN: dict[str, frozenset[str]] = {}
"""Bandit's findings per source already checked in this process (datasets built from the same programs, such as
the secure and insecure variants, are checked once)."""
_SEEN_MAX = 100_000


PARALLEL_FROM = 2000
"""From this many new sources, bandit runs in one process per core (it is pure Python)."""


def bandit_ids(sources: Sequence[str]) -> list[set[str]]:
    """Bandit test ids found in each source (one temp file each; one bandit run per core for all new sources)."""
    new = sorted({s for s in sources if s not in _SEEN})
    if new:
        if len(_SEEN) + len(new) > _SEEN_MAX:
            _SEEN.clear()
        _SEEN.update(zip(new, map(frozenset, _bandit_parallel(new)), strict=True))
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


def _calls(tree: ast.AST) -> list[str]:
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            names.append(ast.unparse(node.func))
    return names


def parse(src: str) -> ast.AST | None:
    """The syntax tree, or None for code that does not parse (syntax or indentation errors, null bytes)."""
    try:
        return ast.parse(src)
    except (SyntaxError, ValueError):
        return None


def path_traversal_unguarded(tree: ast.AST) -> bool:
    """A file opened from ``os.path.join`` with no realpath/commonpath containment check."""
    calls = _calls(tree)
    joins = "os.path.join" in calls and "open" in calls
    guarded = "os.path.commonpath" in calls and "os.path.realpath" in calls
    return joins and not guarded


FIXED_HOST = re.compile(r"^[a-z][a-z0-9+.-]*://[^/?#@]+[/?#]")


class Head(NamedTuple):
    """The constant text an expression starts with, and whether that is all of it."""

    text: str
    complete: bool


def _head(node: ast.AST, values: dict[str, list[ast.AST]], depth: int = 0) -> Head:
    """The known leading text of a string expression: constants, ``+``, f-strings, and names with exactly one
    assigned value (a module constant), followed to a small depth.

    >>> _head(ast.parse("B + x", mode="eval").body, {"B": [ast.Constant("https://a.example/")]})
    Head(text='https://a.example/', complete=False)
    """
    if isinstance(node, ast.Constant):
        return Head(node.value, True) if isinstance(node.value, str) else Head("", False)
    if isinstance(node, ast.Name) and len(values.get(node.id, [])) == 1 and depth < 8:
        return _head(values[node.id][0], values, depth + 1)
    parts = [node.left, node.right] if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add) else \
        [v.value if isinstance(v, ast.FormattedValue) else v for v in node.values] \
        if isinstance(node, ast.JoinedStr) else []
    text = ""
    for part in parts:
        h = _head(part, values, depth + 1)
        text += h.text
        if not h.complete:
            return Head(text, False)
    return Head(text, bool(parts))


def _fixed_host(url: ast.AST, values: dict[str, list[ast.AST]] | None = None) -> bool:
    """Whether a URL expression fixes scheme and host: a constant, or text that starts ``scheme://host/``
    (names resolved through ``values``; a name with several values must be fixed in each)."""
    values = values or {}
    if isinstance(url, ast.Name) and len(values.get(url.id, [])) > 1:
        return all(_fixed_host(v, values) for v in values[url.id])
    head = _head(url, values)
    return head.complete or bool(FIXED_HOST.match(head.text))


def ssrf_unguarded(tree: ast.AST) -> bool:
    """A ``requests`` call whose URL's host can come from input (not fixed by a ``scheme://host/``
    prefix, directly or in every value assigned to the name passed) with no comparison of the host
    against an allow-list. Names are resolved module-wide, not per scope.

    >>> ssrf_unguarded(ast.parse("def f(i):\\n    u = f'https://a.example/{i}'\\n    return requests.get(u)"))
    False
    """
    fetches = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and ast.unparse(n.func).startswith("requests.")]
    urls = [n.args[0] if n.args else next((k.value for k in n.keywords if k.arg == "url"), None) for n in fetches]
    values: dict[str, list[ast.AST]] = {}
    for n in ast.walk(tree):
        if isinstance(n, ast.Assign):
            for t in n.targets:
                values.setdefault(ast.unparse(t), []).append(n.value)
        elif isinstance(n, ast.AugAssign | ast.AnnAssign | ast.For):
            values.setdefault(ast.unparse(n.target), []).append(n)  # not a fixed value
        elif isinstance(n, ast.arg):
            values.setdefault(n.arg, []).append(n)

    open_host = any(u is not None and not _fixed_host(u, values) for u in urls)
    guarded = any(isinstance(n, ast.Compare) and any(isinstance(op, ast.In | ast.NotIn) for op in n.ops)
                  and "hostname" in ast.unparse(n.left) for n in ast.walk(tree))
    return open_host and not guarded


AST_CHECKS = {"path_traversal": path_traversal_unguarded, "ssrf": ssrf_unguarded}
UNPARSEABLE = "unparseable"


NEEDS = {"path_traversal": ("os.path.join",), "ssrf": ("requests",),
         "taint": ("request", "argv", "input", ".route", ".post", ".delete")}
"""Text a check needs to find anything (a source without it is not parsed for that check)."""


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
    """Bandit's findings for ``src`` that the verifier keeps: not the advisory ones, and not B608 ("SQL built
    from strings") when every SQL text is built from constants (``sqltext.sql_from_constants``).

    >>> bandit_confirmed("COLS = {'a': 'a'}\\ndef f(c, o):\\n    c.execute('SELECT ' + COLS.get(o, 'a'))",
    ...                  {"B608", "B404"})
    set()
    """
    kept = found - ADVISORY
    if "B608" in kept and (tree := parse(src)) is not None and sql_from_constants(tree):
        kept.discard("B608")
    return kept


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
