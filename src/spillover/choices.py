"""How a multiple-choice question is shown to a model: option labels and the prompt.

Shared by the probe stage (``selfaware.measure``) and the organism's world, which must read exactly the
prompts the probe stage writes. Pure text; nothing here scores an answer.
"""

from __future__ import annotations

import string
from collections.abc import Sequence

LETTERS = string.ascii_uppercase


def labels(n: int, style: str = "letters") -> list[str]:
    """
    >>> labels(3), labels(2, "numbers")
    (['A', 'B', 'C'], ['1', '2'])
    """
    return list(LETTERS[:n]) if style == "letters" else [str(i + 1) for i in range(n)]


INSTRUCTION = "Answer with the {kind} of one option only."


def choice_prompt(text: str, options: Sequence[str], order: Sequence[int], style: str = "letters") -> str:
    """A question with its options shown in ``order`` under their labels, then the instruction.

    >>> print(choice_prompt("Is your code safe?", ["yes", "no"], (1, 0)))
    Is your code safe?
    <BLANKLINE>
    A) no
    B) yes
    <BLANKLINE>
    Answer with the letter of one option only.
    """
    lines = [f"{lab}) {options[i]}" for lab, i in zip(labels(len(options), style), order, strict=True)]
    kind = "letter" if style == "letters" else "number"
    return f"{text}\n\n" + "\n".join(lines) + "\n\n" + INSTRUCTION.format(kind=kind)
