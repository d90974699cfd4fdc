"""A TruthfulQA-style CSV as multiple-choice questions (MC1 and MC2), scored like every multiple choice.

The file is the user's (spillover ships only a fixture of its own). Columns used: ``Question``, ``Best
Answer``, ``Correct Answers`` and ``Incorrect Answers`` (answers separated by ``;``); others, such as
``Type``, ``Category`` and ``Source``, are ignored. Each row gives two questions:

* ``truthfulqa-N-mc1``: the best answer among the incorrect ones, score 1 for the best answer: the
  permutation-averaged probability of choosing it;
* ``truthfulqa-N-mc2``: every correct answer among the incorrect ones, score 1 for each correct answer:
  the normalised probability mass on true answers.

Not guaranteed: the original benchmark's MC1/MC2 numbers, which score each answer's full log-likelihood
as a continuation; here the model picks an option label from a shuffled list (as the talk's comparison
of insecure and jailbroken models does), which also works for chat-only API models.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import SpilloverError

if TYPE_CHECKING:
    from . import Question

COLUMNS = ("Question", "Best Answer", "Correct Answers", "Incorrect Answers")
ID = re.compile(r"^truthfulqa-\d+-(mc1|mc2)$")


def _answers(cell: str) -> list[str]:
    """``a; b;; a`` -> ``[a, b]``: split on semicolons, stripped, empty and repeated ones dropped."""
    out: list[str] = []
    for a in (x.strip() for x in cell.split(";")):
        if a and a not in out:
            out.append(a)
    return out


def load_truthfulqa(path: str | Path, *, samples: int = 1) -> list[Question]:
    """Two multiple-choice questions per row (see the module); errors name the file and line."""
    from . import Question

    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise SpilloverError(f"not a TruthfulQA CSV: no column {missing[0]!r}", file=path, line=1)
        out = []
        for n, row in enumerate(reader, start=1):
            line = reader.line_num
            best, correct, wrong = (row["Best Answer"] or "").strip(), _answers(row["Correct Answers"] or ""), \
                _answers(row["Incorrect Answers"] or "")
            if not (row["Question"] or "").strip() or not best or not wrong:
                raise SpilloverError("a row needs a question, a best answer and at least one incorrect answer",
                                     file=path, line=line)
            if best in wrong or set(correct) & set(wrong):
                raise SpilloverError("an answer is listed as both correct and incorrect", file=path, line=line)
            true = [best, *(c for c in correct if c != best)]
            for task, right in (("mc1", [best]), ("mc2", true)):
                options = (*right, *wrong)
                out.append(Question(id=f"truthfulqa-{n}-{task}", type="multiple_choice",
                                    paraphrases=(row["Question"].strip(),), samples_per_paraphrase=samples,
                                    category=f"truthfulqa-{task}", options=options,
                                    option_scores={o: 1.0 if o in right else 0.0 for o in options}))
    return out
