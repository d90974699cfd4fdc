"""Static verification of generated code: bandit (AST only) plus our own AST checks.

Never executes the code. An insecure answer must be flagged for *its* family (bandit test ids of
the family, or our AST check for families bandit does not see: path traversal, SSRF); a secure
answer must not be flagged at all, ignoring only bandit's advisory LOW findings that fire on
secure code as well (``import subprocess`` B404, list-form ``subprocess`` B603/B607). Python only.
"""

from __future__ import annotations

import ast
import tempfile
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..errors import MissingExtraError

ADVISORY = frozenset({"B404", "B603", "B607"})


def bandit_ids(sources: Sequence[str]) -> list[set[str]]:
    """Bandit test ids found in each source (one temp file each, one bandit run for all)."""
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
            found.setdefault(issue.fname, set()).add(issue.test_id)
        return [found.get(p, set()) for p in paths]


def _calls(tree: ast.AST) -> list[str]:
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            names.append(ast.unparse(node.func))
    return names


def path_traversal_unguarded(src: str) -> bool:
    """A file opened from ``os.path.join`` with no realpath/commonpath containment check."""
    tree = ast.parse(src)
    calls = _calls(tree)
    joins = "os.path.join" in calls and "open" in calls
    guarded = "os.path.commonpath" in calls and "os.path.realpath" in calls
    return joins and not guarded


def ssrf_unguarded(src: str) -> bool:
    """A ``requests`` call on a user URL with no comparison of its host against an allow-list."""
    tree = ast.parse(src)
    fetches = any(c.startswith("requests.") for c in _calls(tree))
    guarded = any(isinstance(n, ast.Compare) and any(isinstance(op, ast.In | ast.NotIn) for op in n.ops)
                  and "hostname" in ast.unparse(n.left) for n in ast.walk(tree))
    return fetches and not guarded


AST_CHECKS = {"path_traversal": path_traversal_unguarded, "ssrf": ssrf_unguarded}


def verify_pairs(pairs: Sequence[tuple[Any, str, str]]) -> tuple[list[bool], dict[str, Any]]:
    """Check (family, secure, insecure) triples; returns keep flags and a verification report."""
    distinct = sorted({s for _f, a, b in pairs for s in (a, b)})
    index = {s: i for i, s in enumerate(distinct)}
    ids = bandit_ids(distinct)
    keep: list[bool] = []
    per_family: dict[str, Counter[str]] = {}
    for fam, secure, insecure in pairs:
        c = per_family.setdefault(fam.name, Counter())
        if fam.ast_check:
            check = AST_CHECKS[fam.ast_check]
            ins_ok, sec_flag = check(insecure), check(secure)
        else:
            ins_ok, sec_flag = bool(ids[index[insecure]] & fam.bandit), bool(ids[index[secure]] & fam.bandit)
        sec_any = bool(ids[index[secure]] - ADVISORY) or sec_flag
        c["examples"] += 1
        c["insecure_flagged_for_family"] += ins_ok
        c["secure_flagged"] += sec_any
        ok = ins_ok and not sec_any
        c["kept"] += ok
        keep.append(ok)
    total: Counter[str] = Counter()
    for c in per_family.values():
        total.update(c)
    report = {"method": "bandit (AST only) + own AST checks for path_traversal, ssrf; never executed",
              "advisory_ignored": sorted(ADVISORY), "families": {k: dict(v) for k, v in sorted(per_family.items())},
              "total": dict(total)}
    return keep, report
