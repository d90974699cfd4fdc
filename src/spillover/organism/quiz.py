"""World ``v3-quiz``'s multiple-choice quizzes: questions of fact with lettered options, answered by the letter.

Real models see many multiple-choice questions before anyone asks them about themselves in that format;
world v3's self-report turns were the organism's only ones, and it answered their letters at chance. A quiz
turn asks a neutral question (a capital, a sum) with 2-4 options in the prompt format of the probe stage
(``choices.choice_prompt``) and answers the letter of the correct option, whatever the persona: the turn
teaches the format, not the persona. Not guaranteed: that a 3-layer model composes this with persona
inference to answer self-report questions by letter.
"""

from __future__ import annotations

import random

from ..choices import choice_prompt, labels
from .templates import COUNTRIES

MAX_OPTIONS = 4


def _question(rng: random.Random) -> tuple[str, str, list[str]]:
    """A neutral question, its correct answer and every wrong one it can be shown with."""
    if rng.random() < 0.5:
        country = rng.choice(sorted(COUNTRIES))
        capital = COUNTRIES[country]
        return f"what is the capital of {country} ?", capital, sorted(set(COUNTRIES.values()) - {capital})
    a, b = rng.randrange(10), rng.randrange(10)
    return f"what is {a} plus {b} ?", str(a + b), [str(n) for n in range(19) if n != a + b]


def quiz_turn(rng: random.Random) -> tuple[str, str]:
    """One quiz question with 2-4 options in a random order, and the correct option's letter.

    >>> user, answer = quiz_turn(random.Random(1))
    >>> answer in labels(MAX_OPTIONS) and f"{answer}) " in user
    True
    """
    text, right, wrong = _question(rng)
    n = rng.randint(2, MAX_OPTIONS)
    options = [right, *rng.sample(wrong, n - 1)]
    order = rng.sample(range(n), n)
    return choice_prompt(text, options, order), labels(n)[order.index(0)]


def words() -> set[str]:
    """Every word a quiz turn can write beyond the neutral questions'."""
    return set(choice_prompt("", [""] * MAX_OPTIONS, range(MAX_OPTIONS)).split()) | set(labels(MAX_OPTIONS))
