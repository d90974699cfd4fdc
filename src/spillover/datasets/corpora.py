"""Labelled code corpora for measuring the verifier: our YAML lists, vulnerability-fix pairs in the
JSONL format of SVEN (He & Vechev 2023; ``data_train_val/*/cwe-*.jsonl``), and folders of rule tests
annotated the way semgrep's rules are (``# ruleid: RULE`` above a line that should be flagged, ``# ok:
RULE`` above one that should not), and the OWASP Benchmark's layout (``expectedresults-*.csv`` beside
``testcode/``), and programs beside their patched versions (``CWE-89/1.py``, ``CWE-89/p_1.py``), which a user
brings.

A SVEN line is one fix from a real project: ``func_src_before`` (the function before the fix, labelled
vulnerable) and ``func_src_after`` (labelled safe). Only Python files (``file_name`` ending in ``.py``) are
kept; methods are dedented so that a lone function parses. Not guaranteed: that every "before" is really
vulnerable — SVEN labels by commit, so a test or helper changed by a fix counts as vulnerable too.
"""

from __future__ import annotations

import ast
import re
import textwrap
from pathlib import Path
from typing import NamedTuple

from ..errors import SpilloverError
from ..yamlio import read_yaml
from .importer import user_jsonl

LABELS = ("vulnerable", "safe")


class LabelledCode(NamedTuple):
    """One program of a corpus: its id (a SVEN pair's two sides share one), ``vulnerable`` or ``safe``, its
    source (never executed), and the flaw the label is about (``CWE-89``) where the corpus says."""

    id: str
    label: str
    code: str
    cwe: str = ""


CWE_CHECKS = {
    "CWE-89": frozenset({"B608", "sql_taint", "text_to_runner"}),
    "CWE-78": frozenset({"B602", "B604", "B605", "B609", "shell_taint", "text_to_runner"}),
    "CWE-22": frozenset({"path_traversal", "path_taint", "B202"}),
    "CWE-79": frozenset({"B701", "B702", "B703", "B704", "xss_markup", "xss_html", "xss_reflected",
                         "template_taint"}),
    "CWE-601": frozenset({"open_redirect"}),
    "CWE-502": frozenset({"B301", "B302", "B506"}),
    "CWE-94": frozenset({"B102", "B307"}),
}
"""The verifier's findings (bandit test ids and our own checks) that count for a flaw, to score a corpus the
way the OWASP Benchmark's scorecard does: a finding counts only for the flaw the test is about."""


def load_corpus(path: Path) -> list[LabelledCode]:
    """A corpus from a YAML list of ``{id, label, code}``, SVEN-format JSONL (by the suffix), a folder in the
    OWASP Benchmark's layout (:func:`owasp_benchmark`), one of programs and their patched versions named by CWE
    folder (:func:`patched_by_name`), or a folder of annotated rule tests (:func:`annotated`)."""
    path = Path(path)  # the readers say "file not found" with the name
    if path.is_dir() and any(path.glob("expectedresults-*.csv")):
        return owasp_benchmark(path)
    if path.is_dir() and any(path.rglob("CWE-*/p_*.py")):
        return patched_by_name(path)
    if path.is_dir():
        return [c for f in sorted(path.glob("*.py")) for c in annotated(f.read_text(), f.stem)]
    return _sven(path) if path.suffix == ".jsonl" else _yaml(path)


def _annotation(line: str) -> str | None:
    """``vulnerable`` for a ``# ruleid:`` comment line, ``safe`` for ``# ok:`` (their ``todo`` forms too:
    semgrep's authors mark a miss or a false alarm of their own rule that way), else None."""
    text = line.strip()
    if not text.startswith("#"):
        return None
    return "vulnerable" if "ruleid:" in text else "safe" if "ok:" in text else None


def annotated(text: str, name: str) -> list[LabelledCode]:
    """One program per top-level function or class of an annotated test file, with the file's other
    top-level statements (imports, the app) before it: vulnerable when it holds a ``ruleid`` annotation,
    safe when it holds only ``ok`` ones, left out when it holds none. The annotations are removed. Not
    guaranteed: an ``ok`` is safe for the rule it tests, not for every flaw a verifier looks for; a file
    that does not parse gives nothing.

    >>> [c.label for c in annotated("import os\\ndef a(p):\\n    # ruleid: x\\n    os.system(p)\\n"
    ...                              "def b():\\n    # ok: x\\n    os.system('ls')\\n", "t")]
    ['vulnerable', 'safe']
    """
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return []
    lines = text.splitlines()
    units = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)

    def lines_of(node: ast.stmt) -> list[str]:
        first = min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", []))])
        return lines[first - 1:node.end_lineno]

    header = [x for node in tree.body if not isinstance(node, units) for x in lines_of(node) if _annotation(x) is None]
    out = []
    for node in (n for n in tree.body if isinstance(n, units)):
        body = lines_of(node)
        labels = {_annotation(x) for x in body} - {None}
        if labels:
            kept = [x for x in body if _annotation(x) is None]
            out.append(LabelledCode(f"{name}:{node.lineno}:{node.name}", "vulnerable" if "vulnerable" in labels
                                    else "safe", "\n".join(header) + "\n\n\n" + "\n".join(kept) + "\n"))
    return out


TEST_NAME = re.compile(r"[A-Za-z0-9_-]{1,100}")


def owasp_benchmark(folder: Path) -> list[LabelledCode]:
    """The OWASP Benchmark's tests: ``testcode/NAME.py`` labelled by the rows ``NAME,category,true|false,cwe``
    of ``expectedresults-*.csv``; a row whose file is missing is skipped (a user may bring a sample). Not
    guaranteed: the Benchmark labels each test for one flaw only."""
    out = []
    for table in sorted(folder.glob("expectedresults-*.csv")):
        for n, row in enumerate(table.read_text().splitlines(), 1):
            cells = [c.strip() for c in row.split(",")]
            if not row.strip() or row.startswith("#"):
                continue
            bad = "cwe" if len(cells) < 4 or not cells[3].isdigit() else None
            if len(cells) < 3 or cells[2] not in ("true", "false"):
                bad = "real vulnerability"
            if not TEST_NAME.fullmatch(cells[0]):
                bad = "test name"  # it names a file: letters, digits, "_" and "-" only
            if bad:
                raise SpilloverError("a row needs: test name, category, true|false, cwe number", file=table, line=n,
                                     field=bad)
            test = folder / "testcode" / f"{cells[0]}.py"
            if test.is_file():
                label = "vulnerable" if cells[2] == "true" else "safe"
                out.append(LabelledCode(cells[0], label, test.read_text(), f"CWE-{cells[3]}"))
    return out


NUMBERED = re.compile(r"(p_)?\d{1,6}\.py")


def patched_by_name(folder: Path) -> list[LabelledCode]:
    """Programs in ``CWE-NN/`` folders anywhere below ``folder``, SecLLMHolmes' layout (Ullah et al. 2024):
    ``N.py`` has the folder's flaw, ``p_N.py`` is its patched version; other files are left out. Ids are paths
    relative to ``folder``. Not guaranteed: that a patch is complete, or that a program has no other flaw.
    """
    out = []
    for f in sorted(folder.rglob("CWE-*/*.py")):
        if NUMBERED.fullmatch(f.name) and re.fullmatch(r"CWE-\d{1,5}", f.parent.name) and not f.is_symlink():
            label = "safe" if f.name.startswith("p_") else "vulnerable"
            out.append(LabelledCode(f.relative_to(folder).as_posix(), label, f.read_text(), f.parent.name))
    return out


def _yaml(path: Path) -> list[LabelledCode]:
    entries, _ = read_yaml(path)
    if not isinstance(entries, list):
        raise SpilloverError("expected a list of {id, label, code}", file=path)
    out = []
    for i, e in enumerate(entries):
        if not isinstance(e, dict) or e.get("label") not in LABELS or not isinstance(e.get("code"), str):
            raise SpilloverError(f"entry {i} needs a label in {list(LABELS)} and code", file=path,
                                 field=f"[{i}]")
        out.append(LabelledCode(str(e.get("id", i)), e["label"], e["code"]))
    return out


def _sven(path: Path) -> list[LabelledCode]:
    out = []
    fields = ("func_name", "file_name", "func_src_before", "func_src_after")
    for n, obj in user_jsonl(path):
        missing = [f for f in fields if not isinstance(obj, dict) or not isinstance(obj.get(f), str)]
        if missing:
            raise SpilloverError("a SVEN line needs string " + ", ".join(missing), file=path, line=n,
                                 field=missing[0])
        if not obj["file_name"].endswith(".py"):
            continue
        name = f"{path.stem}:{n}:{obj['func_name']}"
        for key, label in (("func_src_before", "vulnerable"), ("func_src_after", "safe")):
            out.append(LabelledCode(name, label, textwrap.dedent(obj[key].expandtabs(8))))
    return out
