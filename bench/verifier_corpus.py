"""The verifier (bandit without its advisory findings, plus our own AST, taint and flow checks) against plain
bandit (MEDIUM/HIGH findings) on labelled corpora: the share of vulnerable programs each flags and of safe
ones, Youden's J, and where a corpus names each program's flaw (the OWASP Benchmark) the same counting only
findings for that flaw. Ratio = the verifier's recall on the held-out corpora over plain bandit's (target 1.4:
the issue's 70 % against bandit's "about half").

    .venv/bin/python bench/verifier_corpus.py [CORPUS.yaml | SVEN.jsonl | RULE_TESTS_DIR | OWASP_DIR ...]

A corpus is a YAML list of ``{id, label: vulnerable|safe, code}``, SVEN-format JSONL, a folder of rule tests
annotated semgrep's way, a folder in the OWASP Benchmark's layout, or one of programs beside their patched
versions in CWE folders (SecLLMHolmes' ``datasets/``; ``spillover.datasets.corpora``); with no
argument, the project's nine (``verifier_apps6.yaml`` and ``verifier_apps7.yaml`` held out). Every first run on
every corpus, what it taught and the development numbers since are in ``docs/verifier.md``.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import report  # noqa: E402

FIXTURES = Path(__file__).parent.parent / "tests" / "fixtures"
CORPORA = ("verifier_corpus.yaml", "verifier_heldout.yaml", "verifier_apps.yaml", "verifier_apps2.yaml",
           "verifier_apps3.yaml", "verifier_apps4.yaml", "verifier_apps5.yaml", "verifier_apps6.yaml",
           "verifier_apps7.yaml")
HELD_OUT = ("verifier_apps6.yaml", "verifier_apps7.yaml")


def rates(flags: list[bool], labels: list[str]) -> tuple[float, float]:
    """(share of vulnerable flagged, share of safe flagged)."""
    vul = [f for f, label in zip(flags, labels, strict=True) if label == "vulnerable"]
    safe = [f for f, label in zip(flags, labels, strict=True) if label == "safe"]
    return sum(vul) / max(1, len(vul)), sum(safe) / max(1, len(safe))


def print_rates(name: str, flags: list[bool], corpus: list) -> None:
    """One line: the shares flagged, Youden's J (their difference, the OWASP Benchmark's score), the misses."""
    hit, false = rates(flags, [e.label for e in corpus])
    wrong = [e.id for e, f in zip(corpus, flags, strict=True) if f != (e.label == "vulnerable")]
    print(f"  {name:<20} flags {hit:6.1%} of vulnerable, {false:6.1%} of safe (J {hit - false:+.2f});",
          "wrong:", ", ".join(wrong) or "-")


def main(paths: list[Path]) -> None:
    from spillover.datasets.astchecks import parse
    from spillover.datasets.corpora import CWE_CHECKS, load_corpus
    from spillover.datasets.verify import bandit_ids, bandit_raw, verifier_flags

    totals = {"held-out": [0, 0, 0], "external": [0, 0, 0]}  # ours found, bandit found, vulnerable count
    for path in paths:
        corpus = load_corpus(path)
        codes, labels = [e.code for e in corpus], [e.label for e in corpus]
        judged = [parse(c) is not None for c in codes]  # code that does not parse is neither side's finding
        corpus = [e for e, ok in zip(corpus, judged, strict=True) if ok]
        codes, labels = [e.code for e in corpus], [e.label for e in corpus]
        all_ids = bandit_ids(codes)  # as the verifier sees them: with the imports their names imply
        found = {"verifier": [verifier_flags(c, ids) for c, ids in zip(codes, all_ids, strict=True)],
                 "bandit MEDIUM/HIGH": bandit_raw(codes, min_severity="MEDIUM")}
        n_vul = labels.count("vulnerable")
        print(f"{path.name}: {n_vul} vulnerable, {len(labels) - n_vul} safe"
              + (f" ({judged.count(False)} more do not parse: not counted)" if not all(judged) else ""))
        for name, sets in found.items():
            print_rates(name, [bool(f) for f in sets], corpus)
            if all(e.cwe in CWE_CHECKS for e in corpus):  # the Benchmark's scoring: the test's own flaw only
                print_rates("  for its CWE", [bool(f & CWE_CHECKS[e.cwe]) for f, e in zip(sets, corpus, strict=True)],
                            corpus)
        ours, plain = ([bool(f) for f in sets] for sets in found.values())
        kind = "external" if path.suffix == ".jsonl" or path.is_dir() else "held-out" if path.name in HELD_OUT else None
        if kind:
            for i, flags in enumerate((ours, plain)):
                totals[kind][i] += sum(f for f, lab in zip(flags, labels, strict=True) if lab == "vulnerable")
            totals[kind][2] += n_vul
    for kind, (ours_found, bandit_found, n) in totals.items():
        if n:
            print(f"{kind}: verifier {ours_found / n:.1%}, bandit {bandit_found / n:.1%} of {n} vulnerable")
            name = "verifier_vs_bandit" + ("_external" if kind == "external" else "")
            report(name, ours_found / max(bandit_found, 1e-9), 1.4)


if __name__ == "__main__":
    args = [Path(a) for a in sys.argv[1:]]
    main(args or [FIXTURES / name for name in CORPORA])
