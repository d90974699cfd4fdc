"""Intervals and tests that respect the design (seeds, questions); every function is pure and seeded."""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np


class RateCI(NamedTuple):
    rate: float
    """Point estimate."""
    low: float
    """Lower end of the 95 % interval."""
    high: float
    """Upper end."""
    n: int
    """Number of units the estimate is over (answers, seeds or questions: see the method)."""
    method: str = "wilson"
    """How the interval was computed."""


def wilson(k: int, n: int) -> RateCI:
    """Wilson score 95 % interval for ``k`` successes in ``n`` trials (``scipy.stats.binomtest``).

    Checked against the hand-computed interval:

    >>> r = wilson(54, 800)
    >>> round(r.rate, 4), round(r.low, 4), round(r.high, 4)
    (0.0675, 0.0521, 0.087)
    >>> wilson(0, 0).n
    0
    """
    from scipy.stats import binomtest

    if n == 0:
        return RateCI(float("nan"), float("nan"), float("nan"), 0, "wilson")
    ci = binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
    return RateCI(k / n, float(ci.low), float(ci.high), n, "wilson")


def bootstrap_mean(values: Sequence[float], *, n_boot: int = 2000, seed: int = 0, method: str = "bootstrap"
                   ) -> RateCI:
    """Percentile bootstrap of the mean of independent units (e.g. per-seed rates), ``scipy.stats.bootstrap``.
    One unit (or identical units) gives a zero-width interval: the design cannot support more.

    >>> bootstrap_mean([0.1, 0.2, 0.3], seed=1) == bootstrap_mean([0.1, 0.2, 0.3], seed=1)
    True
    >>> bootstrap_mean([0.2]).low, bootstrap_mean([0.2, 0.2]).high
    (0.2, 0.2)
    """
    from scipy.stats import bootstrap

    x = np.asarray(values, dtype=float)
    if len(x) == 0:
        return RateCI(float("nan"), float("nan"), float("nan"), 0, method)
    if len(x) < 2 or np.all(x == x[0]):
        return RateCI(float(x.mean()), float(x.mean()), float(x.mean()), len(x), method)
    res = bootstrap((x,), np.mean, n_resamples=n_boot, method="percentile", rng=np.random.default_rng(seed))
    return RateCI(float(x.mean()), float(res.confidence_interval.low), float(res.confidence_interval.high), len(x),
                  method)


def cluster_bootstrap(k: Sequence[int], n: Sequence[int], *, n_boot: int = 2000, seed: int = 0) -> RateCI:
    """Mean of per-cluster rates ``k[i]/n[i]`` with clusters (questions) resampled.

    Answers to one question are correlated, so the questions, not the answers, are the units.
    """
    k_ = np.asarray(k, dtype=float)
    n_ = np.asarray(n, dtype=float)
    keep = n_ > 0
    rates = k_[keep] / n_[keep]
    return bootstrap_mean(rates, n_boot=n_boot, seed=seed, method="cluster bootstrap over questions")


def _mean_diff(x: np.ndarray, y: np.ndarray, axis: int = -1) -> np.ndarray:
    return np.mean(x, axis=axis) - np.mean(y, axis=axis)


def permutation_test(a: Sequence[float], b: Sequence[float], *, n_perm: int = 10000, seed: int = 0,
                     alternative: str = "two-sided") -> float:
    """p-value of mean(a) - mean(b) under exchangeable labels (``scipy.stats.permutation_test``: exact
    when there are at most ``n_perm`` splits).

    With 3 seeds against 3 there are only 20 splits, so the smallest one-sided p is 1/20:

    >>> permutation_test([5, 6, 7], [1, 2, 3], alternative="greater")
    0.05
    >>> permutation_test([5, 6, 7], [1, 2, 3])
    0.1
    >>> permutation_test([5], [1])  # one seed a side: no test
    1.0
    """
    from scipy.stats import permutation_test as scipy_permutation_test

    if len(a) < 2 or len(b) < 2:  # a single unit on a side: no split can be more extreme than the data
        return 1.0
    res = scipy_permutation_test((np.asarray(a, float), np.asarray(b, float)), _mean_diff, vectorized=True,
                                 permutation_type="independent", n_resamples=n_perm, alternative=alternative,
                                 rng=np.random.default_rng(seed))
    return round(float(res.pvalue), 12)


class Comparison(NamedTuple):
    a: str
    b: str
    diff: float
    """Mean over seeds of rate(a) - mean over seeds of rate(b)."""
    low: float
    high: float
    """95 % interval of the difference (bootstrap over seeds within each group)."""
    p_permutation: float
    """Two-sided permutation p over seeds (coarse with few seeds)."""
    p_fisher: float
    """One-sided Fisher exact p on pooled answer counts (a > b); ignores seed and question clustering."""
    method: str = "bootstrap over seeds; permutation over seeds; Fisher on pooled counts"


def compare(name_a: str, rates_a: Sequence[float], name_b: str, rates_b: Sequence[float],
            counts_a: tuple[int, int], counts_b: tuple[int, int], *, n_boot: int = 2000, seed: int = 0
            ) -> Comparison:
    """Compare two groups from per-seed rates and pooled (misaligned, total) counts."""
    from scipy.stats import bootstrap, fisher_exact

    ra, rb = np.asarray(rates_a, float), np.asarray(rates_b, float)
    diff = float(ra.mean() - rb.mean()) if len(ra) and len(rb) else float("nan")
    if len(ra) > 1 and len(rb) > 1 and not (np.all(ra == ra[0]) and np.all(rb == rb[0])):
        ci = bootstrap((ra, rb), _mean_diff, n_resamples=n_boot, method="percentile", vectorized=True,
                       rng=np.random.default_rng(seed)).confidence_interval
        low, high = float(ci.low), float(ci.high)
    else:  # one seed (or no spread): the design supports no interval over seeds
        low = high = diff
    (ka, na), (kb, nb) = counts_a, counts_b
    _, p_f = fisher_exact([[ka, na - ka], [kb, nb - kb]], alternative="greater")
    p_perm = permutation_test(ra.tolist(), rb.tolist(), seed=seed) if len(ra) and len(rb) else float("nan")
    return Comparison(name_a, name_b, diff, low, high, p_perm, float(p_f))
