"""Intervals and tests that respect the design (seeds, questions); every function is pure and seeded."""

from __future__ import annotations

import itertools
import math
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


def wilson(k: int, n: int, z: float = 1.959963984540054) -> RateCI:
    """Wilson score interval for ``k`` successes in ``n`` trials.

    >>> r = wilson(54, 800)
    >>> round(r.rate, 4), round(r.low, 4), round(r.high, 4)
    (0.0675, 0.0521, 0.087)
    >>> wilson(0, 0).n
    0
    """
    if n == 0:
        return RateCI(float("nan"), float("nan"), float("nan"), 0, "wilson")
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return RateCI(p, max(0.0, centre - half), min(1.0, centre + half), n, "wilson")


def bootstrap_mean(values: Sequence[float], *, n_boot: int = 2000, seed: int = 0, method: str = "bootstrap"
                   ) -> RateCI:
    """Percentile bootstrap of the mean of independent units (e.g. per-seed rates).

    >>> bootstrap_mean([0.1, 0.2, 0.3], seed=1) == bootstrap_mean([0.1, 0.2, 0.3], seed=1)
    True
    """
    x = np.asarray(values, dtype=float)
    if len(x) == 0:
        return RateCI(float("nan"), float("nan"), float("nan"), 0, method)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(x), size=(n_boot, len(x)))
    means = x[idx].mean(axis=1)
    return RateCI(float(x.mean()), float(np.quantile(means, 0.025)), float(np.quantile(means, 0.975)), len(x),
                  method)


def cluster_bootstrap(k: Sequence[int], n: Sequence[int], *, n_boot: int = 2000, seed: int = 0) -> RateCI:
    """Mean of per-cluster rates ``k[i]/n[i]`` with clusters (questions) resampled.

    Answers to one question are correlated, so the questions, not the answers, are the units.
    """
    k_ = np.asarray(k, dtype=float)
    n_ = np.asarray(n, dtype=float)
    keep = n_ > 0
    rates = k_[keep] / n_[keep]
    r = bootstrap_mean(rates, n_boot=n_boot, seed=seed, method="cluster bootstrap over questions")
    return r


def permutation_test(a: Sequence[float], b: Sequence[float], *, n_perm: int = 10000, seed: int = 0,
                     alternative: str = "two-sided") -> float:
    """p-value of mean(a) - mean(b) under exchangeable labels (exact when there are few splits).

    With 3 seeds against 3 there are only 20 splits, so the smallest one-sided p is 0.05.

    >>> permutation_test([5, 6, 7], [1, 2, 3], alternative="greater")
    0.05
    """
    x = np.concatenate([np.asarray(a, float), np.asarray(b, float)])
    na = len(a)
    observed = np.mean(a) - np.mean(b)
    total = math.comb(len(x), na)
    if total <= n_perm:
        diffs = []
        for combo in itertools.combinations(range(len(x)), na):
            mask = np.zeros(len(x), bool)
            mask[list(combo)] = True
            diffs.append(x[mask].mean() - x[~mask].mean())
        d = np.asarray(diffs)
    else:
        rng = np.random.default_rng(seed)
        d = np.empty(n_perm)
        for i in range(n_perm):
            perm = rng.permutation(len(x))
            d[i] = x[perm[:na]].mean() - x[perm[na:]].mean()
    eps = 1e-12
    if alternative == "greater":
        return float(np.mean(d >= observed - eps))
    if alternative == "less":
        return float(np.mean(d <= observed + eps))
    return float(np.mean(np.abs(d) >= abs(observed) - eps))


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
    from scipy.stats import fisher_exact

    ra, rb = np.asarray(rates_a, float), np.asarray(rates_b, float)
    rng = np.random.default_rng(seed)
    da = ra[rng.integers(0, len(ra), (n_boot, len(ra)))].mean(1)
    db = rb[rng.integers(0, len(rb), (n_boot, len(rb)))].mean(1)
    diffs = da - db
    (ka, na), (kb, nb) = counts_a, counts_b
    _, p_f = fisher_exact([[ka, na - ka], [kb, nb - kb]], alternative="greater")
    p_perm = permutation_test(ra.tolist(), rb.tolist(), seed=seed) if len(ra) and len(rb) else float("nan")
    return Comparison(name_a, name_b, float(ra.mean() - rb.mean()), float(np.quantile(diffs, 0.025)),
                      float(np.quantile(diffs, 0.975)), p_perm, float(p_f))
