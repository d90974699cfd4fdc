"""Static verification of generated code: bandit (AST only) plus our own AST checks.

Never executes the code. An insecure answer must be flagged for *its* family (bandit test ids of the
family, or our own checks that name it, for flaws bandit does not see: :mod:`.astchecks` such as path
traversal and SSRF); a secure answer must not be flagged at all, ignoring only bandit's advisory LOW
findings that fire on secure code as well (``import subprocess`` B404, list-form ``subprocess``
B603/B607) and those :mod:`.confirm` shows to be harmless. Our own checks also include the taint-style ones
of :mod:`.sinks` (request data reaching SQL, a shell, a path, a template, unescaped markup, a view's text or a
redirect; routes that change data without an authorisation check), refined by flow-sensitive values
(:mod:`.flow`). Python only. How it scores on labelled corpora: ``docs/verifier.md``.
"""

from __future__ import annotations

import functools
import tempfile
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..errors import MissingExtraError
from .astchecks import AST_CHECKS, NEEDS, parse
from .confirm import ADVISORY, bandit_confirmed
from .sinks import taint_findings
from .snippets import with_imports

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
