"""The verifier (bandit without its advisory findings, plus our own AST and taint checks) against plain bandit
(MEDIUM/HIGH findings) on labelled corpora of our own that the generator never produced: the share of
vulnerable programs each flags, and of safe ones. Ratio = the verifier's recall on the held-out corpora over
plain bandit's (target 1.4: the issue's 70 % against bandit's "about half").

    .venv/bin/python bench/verifier_corpus.py [CORPUS.yaml | SVEN.jsonl | RULE_TESTS_DIR ...]

A corpus is a YAML list of ``{id, label: vulnerable|safe, code}``, SVEN-format JSONL, or a folder of rule
tests annotated semgrep's way (``spillover.datasets.corpora.annotated``); with no argument, the project's nine.
``verifier_apps6.yaml`` and ``verifier_apps7.yaml`` are held out (never used to change a check). The others
are development sets: each was labelled before the verifier first ran on it, and that first run then led to
refinements. First runs (verifier / bandit MEDIUM+HIGH, share of vulnerable flagged and of safe flagged):
``verifier_apps2.yaml`` 100 % & 30 % / 50 % & 10 %; ``verifier_apps3.yaml`` 82 % & 18 % / 55 % & 0 %;
``verifier_apps4.yaml`` (FastAPI, Django, flaws no check modelled then) 64 % & 9 % / 36 % & 0 %;
``verifier_apps5.yaml`` (Flask, FastAPI, Django, command line) 73 % & 9 % / 55 % & 18 %. The held-out
``verifier_apps6.yaml``'s first run: 79 % & 0 % / 57 % & 0 % (ratio 1.38), ``verifier_apps7.yaml``'s (written
after it, checks unchanged): 92 % & 0 % / 25 % & 0 %; both together 85 % & 0 % / 42 % & 0 % (ratio 2.0).
``verifier_corpus.yaml`` was written together with the checks; ``verifier_heldout.yaml`` and
``verifier_apps.yaml`` before the allow-list and constant-SQL refinements. A number on code the checks have
not seen needs a new corpus.

External corpora are yours to bring: SVEN's vulnerability-fix pairs (``data_train_val/val/cwe-*.jsonl`` of
eth-sri/sven; Python functions before and after a real fix, ``spillover.datasets.corpora``) are scored the same
way and summed on their own line, with their own ratio. First run on SVEN's validation split (38 Python pairs
of CWE-022/078/079/089): verifier 58 % of vulnerable, 11 % of safe; bandit 53 % and 3 % (ratio 1.10). Both
found the SQL built from strings (19 of 20 pairs) and the shell=True call; neither saw commands passed to a
project's own wrappers, nor XSS or path fixes that live in a helper. SVEN's split is a development set since:
it led to ``commands.text_to_runner`` (text interpolated into a call named like a runner) and to bandit's
hygiene findings (assert, ``except: pass``) and ``random`` outside secrets no longer counting; after them 68 %
of vulnerable, 8 % of safe (3 fixes still flagged: a validation helper not recognised, an unauthorised
delete route whose SQL fix is the labelled point, a table name from configuration).

Held out after those changes: the Python pairs of SafeCoder's validation split (``data_train_val/val/
sec-new-desc.jsonl`` of eth-sri/SafeCoder, 14 pairs of CWE-022/078/079/089/327/377/502; same format), run
once with the prediction written down before: verifier 57 % of vulnerable at 29 % of their fixes, bandit
43 % at 14 % (ratio 1.33); the target (70 % at 7 %) is missed. Why: three ``yaml.load`` functions came
without their module's ``import yaml``, which bandit needs to resolve the call; two fixes that change
something outside the function (test set-up, a table name from ``self``) leave it flagged; one pair is
Python 2 (unparseable on both sides, counted as flagged); and requests without a timeout and a path
joined in test code are flagged on both sides. SafeCoder's split is a development set since: bandit now sees
a snippet with the imports its names imply (``snippets.with_imports``), a URL built by ``"...".format`` keeps
its fixed host, and code that does not parse is not counted (it is neither tool's finding). After them:
SafeCoder 77 % at 23 % (13 parsed pairs; bandit 46 % at 15 %), SVEN 68 % at 8 %; both together 71 % at 10 %.
Second external corpus, held out after those changes: the Flask security tests of the semgrep rules
(``python/flask/security/injection/*.py``, ``open-redirect.py`` and ``insecure-deserialization.py`` of
semgrep/semgrep-rules; each top-level function with its file's other top-level statements, labelled by its
``# ruleid:`` / ``# ok:`` annotations, which are removed; 73 vulnerable, 21 safe; converted and run once, the
prediction written down before): **verifier 67 % at 29 %, bandit 48 % at 14 %** (ratio 1.40). Misses: flaws
no check models (NaN and CSV injection, 5; a user-chosen host inside returned HTML, 10), list-form commands
whose program comes from the request (3), and request data read as ``flask.request.args`` rather than
``request.args`` (path and HTML sinks, 9). False alarms: ``exec`` of a constant (bandit's B102, 2), a fetch of
a constant that is not a URL (1), HTML with request data in a link's path (2), one more. Since then a
development set too: request data read through the module (``flask.request.args``) is a source, HTML built
from request data read inline counts, ``exec``/``eval`` of a string constant does not: 89 % at 29 % (the six
"safe" functions flagged send request data inside HTML, or fetch without a timeout: safe for the rule they
test, not for every check). Third external corpus, held out after all that: the Django tests of the same
rules (every file in the subfolders of ``python/django/security/injection/``, 14 files; top-level classes are
units too; 57 vulnerable, 11 safe; run once, prediction written down before): **verifier 89 % at 36 %,
bandit 74 % at 36 %** (ratio 1.21): the recall target holds on held-out real-framework code, the false-alarm
target does not (4 of 11: ``exec`` of a dedented constant, 3; a fixed ``/tmp`` path, bandit's B108, 1).
After that run, constant text run through ``textwrap.dedent`` counts as constant: 89 % at 9 % there.
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
