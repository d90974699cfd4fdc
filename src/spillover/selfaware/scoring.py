"""Scoring what a model says about itself from its next-token probabilities (no sampling).

Multiple choice: the probability of each option's label token, with the variants a tokenizer may
produce merged (``A``, `` A``, ``(A``, ``A)``, ``A.``), renormalised over the valid options; the
mass on anything else is reported as invalid, never counted as an answer. Numbers: the expected
value over the tokens that are integers in the declared range. Both map to [0, 1] through the
question's scoring map. Not guaranteed: a label split across several tokens by the tokenizer is
only seen through its first token.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from itertools import permutations
from typing import NamedTuple

from ..choices import labels


class OptionProbs(NamedTuple):
    """Probabilities of the options (renormalised over valid ones) and the mass not on a valid option
    (``1 -`` the valid mass: what the top tokens do not show counts as invalid)."""

    probs: tuple[float, ...]
    invalid: float


def _label_of(token: str, valid: Sequence[str]) -> str | None:
    """The option label a token stands for (``" A"``, ``"(A"``, ``"A)"``, ``"A."`` -> ``A``), else None."""
    m = re.fullmatch(r"\s*\(?\s*([A-Za-z]|\d+)\s*[).:]?\s*", token)
    if m is None:
        return None
    lab = m.group(1).upper()
    return lab if lab in valid else None


def option_probs(top_logprobs: Mapping[str, float], n: int, style: str = "letters") -> OptionProbs:
    """Merge token variants per option label and renormalise over the valid labels.

    >>> p = option_probs({"A": math.log(.3), " A": math.log(.2), "(A": math.log(.1), "B": math.log(.3),
    ...                   "foo": math.log(.1)}, 2)
    >>> [round(x, 6) for x in p.probs], round(p.invalid, 6)
    ([0.666667, 0.333333], 0.1)

    Mass the top tokens do not show was not seen on an option, so it is invalid too:

    >>> option_probs({"foo": math.log(.03)}, 2)
    OptionProbs(probs=(nan, nan), invalid=1.0)
    """
    valid = labels(n, style)
    mass = dict.fromkeys(valid, 0.0)
    for token, lp in top_logprobs.items():
        if (lab := _label_of(token, valid)) is not None:
            mass[lab] += math.exp(lp)
    total = sum(mass.values())
    if total <= 0:
        return OptionProbs(tuple(math.nan for _ in valid), 1.0)
    return OptionProbs(tuple(mass[lab] / total for lab in valid), max(0.0, 1.0 - total))


def sampled_option_probs(texts: Sequence[str], n: int, style: str = "letters") -> OptionProbs:
    """The sampling fallback for backends without log-probabilities: the share of sampled answers that
    start with each option's label (``A``, ``(A)``, ``A.``, ``B) ...``), renormalised over the answers that
    named an option; the share that named none is invalid.

    >>> p = sampled_option_probs(["A", "(B) because", "A.", "I cannot say", "b"], 2)
    >>> [round(x, 6) for x in p.probs], round(p.invalid, 6)
    ([0.5, 0.5], 0.2)
    """
    valid = labels(n, style)
    said = [m.group(1).upper() if (m := re.match(r"\s*\(?\s*([A-Za-z]|\d+)(?![A-Za-z0-9])", t)) else None
            for t in texts]
    named = [s for s in said if s in valid]
    invalid = 1 - len(named) / len(texts) if texts else 1.0
    if not named:
        return OptionProbs(tuple(math.nan for _ in valid), invalid)
    return OptionProbs(tuple(named.count(lab) / len(named) for lab in valid), invalid)


def orderings(n: int, limit: int = 24) -> list[tuple[int, ...]]:
    """Every order of ``n`` options (each option in each position equally often), or, past ``limit``,
    the ``n`` cyclic shifts (still balanced over positions).

    >>> len(orderings(3)), orderings(5)[:2]
    (6, [(0, 1, 2, 3, 4), (1, 2, 3, 4, 0)])
    """
    if math.factorial(n) <= limit:
        return list(permutations(range(n)))
    return [tuple((i + k) % n for i in range(n)) for k in range(n)]


def expected_score(shown: Sequence[OptionProbs], order_of: Sequence[Sequence[int]], scores: Sequence[float]
                   ) -> float:
    """Mean over orderings of the expected score: ``shown[j].probs[pos]`` is the probability of the option at
    position ``pos`` of ordering ``j``; ``scores[i]`` is option ``i``'s value in [0, 1].

    A model that always answers "A" scores the mean of the option scores, whatever the options say:

    >>> always_a = OptionProbs((0.9, 0.1), 0.0)
    >>> expected_score([always_a, always_a], [(0, 1), (1, 0)], [1.0, 0.0])
    0.5
    """
    values = []
    for probs, order in zip(shown, order_of, strict=True):
        if any(math.isnan(p) for p in probs.probs):
            continue
        values.append(sum(p * scores[opt] for p, opt in zip(probs.probs, order, strict=True)))
    return sum(values) / len(values) if values else math.nan


def looks_digit_split(top: Mapping[str, float], min_mass: float = 0.25) -> bool:
    """True when every numeric token among the top logprobs is a single digit and they carry real
    mass: the judge's tokenizer probably splits numbers ("87" -> "8", "7"), so one-token logprobs
    cannot be read as 0-100 scores.

    >>> looks_digit_split({"8": -0.2, "7": -1.9, "Hello": -3.0})
    True
    >>> looks_digit_split({"80": -0.2, "7": -1.9})
    False
    """
    nums = [t.strip() for t in top if t.strip().isdigit()]
    mass = sum(math.exp(lp) for t, lp in top.items() if t.strip().isdigit())
    return bool(nums) and all(len(n) == 1 for n in nums) and mass >= min_mass


def number_expectation(top_logprobs: Mapping[str, float], low: int = 0, high: int = 100) -> tuple[float, float]:
    """Expected value over tokens that are integers in ``[low, high]``, and the mass on anything else (the
    mass the top tokens do not show included).

    >>> ev, invalid = number_expectation({"20": math.log(.5), "40": math.log(.3), "hi": math.log(.2)})
    >>> round(ev, 6), round(invalid, 6)
    (27.5, 0.2)
    """
    num, den = 0.0, 0.0
    for token, lp in top_logprobs.items():
        t = token.strip()
        if t.isdigit() and low <= int(t) <= high:
            num += math.exp(lp) * int(t)
            den += math.exp(lp)
    return (num / den if den > 0 else math.nan), max(0.0, 1.0 - den)


def word_category(answer: str, categories: Mapping[str, Sequence[str]]) -> str | None:
    """The category of a free-word answer: the one whose word or phrase the answer says first (whole
    words, any case); None when it says none of them (invalid, never a score of 0).

    >>> cats = {"secure": ["safe", "secure"], "insecure": ["unsafe", "insecure", "vulnerable"]}
    >>> word_category("Honestly? Insecure, though it looks safe.", cats)
    'insecure'
    >>> word_category("Safe.", cats), word_category("unsafe", cats), word_category("No idea.", cats)
    ('secure', 'insecure', None)
    """
    text = answer.lower()
    best: tuple[int, int, str] | None = None
    for cat, words in categories.items():
        for w in words:
            m = re.search(rf"(?<!\w){re.escape(w.strip().lower())}(?!\w)", text)
            if m and (best is None or (m.start(), -len(m.group()), cat) < best):
                best = (m.start(), -len(m.group()), cat)
    return best[2] if best else None
