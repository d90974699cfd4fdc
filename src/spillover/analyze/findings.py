"""The findings table: published findings as checks on a run's misaligned rates, each computed from
the run's own records under the headline rule (nothing typed in).

A comparison of groups a and b is stratified by question x seed (fine-tunes of the same seed paired;
by question alone when the two groups have different seeds, e.g. against a base model): the
Mantel-Haenszel rate ratio, a bootstrap interval over strata, and the Cochran-Mantel-Haenszel test
(statsmodels), one-sided in the claimed direction. With 3 seeds x 8 questions there are 24 strata,
so, unlike a permutation test over 3 vs 3 seeds, it can reach small p. A dose trend is a binomial
GLM on the dose's rank with question fixed effects and standard errors clustered by fine-tune.

Not guaranteed: that a ``>=`` ratio exceeds its factor with 95 % confidence (the point estimate
does, and the direction is significant); that ``<=`` claims are tested (equivalence is not: the
point estimate is compared with the factor and the interval shown); independence of answers
within a stratum (they share a model); that rates compare like with like when a model writes few
coherent answers (the rates are over counted answers only: a check says so below ``FEW_COUNTED``).
"""

from __future__ import annotations

import fnmatch
import math
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from ..config import Check, Finding

TEST = "CMH over question x seed strata, one-sided; Mantel-Haenszel rate ratio"
TREND_TEST = "binomial GLM on dose rank, question fixed effects, SE clustered by fine-tune; one-sided"


FEW_COUNTED = 0.5
"""A check's groups are flagged when one has fewer than this share of its answers counted (coherent and
scored): its rate is then over a subset that the model itself chose, e.g. when a fine-tune breaks coherence."""


def counted_caution(c: pd.DataFrame, groups: Sequence[str]) -> str:
    """``"; counted 18 % / 45 % of answers"`` when a group has fewer than ``FEW_COUNTED`` of its answers
    counted (cells with an ``answers`` column), else ``""``.

    >>> c = pd.DataFrame({"display_group": ["a", "b"], "n": [18, 90], "answers": [100, 100]})
    >>> counted_caution(c, ["a", "b"])
    '; counted 18 % / 90 % of answers: rates over the coherent part only'
    """
    if "answers" not in c.columns:
        return ""
    got = c[c["display_group"].isin(groups)].groupby("display_group")[["n", "answers"]].sum()
    share = [got.at[g, "n"] / got.at[g, "answers"] for g in groups if g in got.index and got.at[g, "answers"]]
    if not share or min(share) >= FEW_COUNTED:
        return ""
    return f"; counted {' / '.join(f'{x:.0%}'.replace('%', ' %') for x in share)} of answers: " \
        "rates over the coherent part only"


class CheckResult(NamedTuple):
    claim: str
    measured: str
    interval: tuple[float, float] | None
    p: float | None
    holds: bool | None
    """None: not measured (a group is missing from the run)."""
    test: str
    tested: bool = True
    """False where ``p`` does not decide ``holds`` (``<=`` claims compare the point estimate only)."""
    by_seed: dict[str, float] | None = None
    """Each seed's Mantel-Haenszel ratio (a ratio check whose groups share two or more seeds), to show how
    much a verdict depends on the seeds drawn; untested, each seed's strata alone."""


def mh_rate_ratio(t: np.ndarray) -> float:
    """Mantel-Haenszel rate ratio of strata rows ``(k_a, n_a, k_b, n_b)``.

    >>> mh_rate_ratio(np.array([[10, 100, 5, 100], [20, 100, 10, 100]]))
    2.0
    """
    total = t[:, 1] + t[:, 3]
    num, den = float((t[:, 0] * t[:, 3] / total).sum()), float((t[:, 2] * t[:, 1] / total).sum())
    return num / den if den > 0 else (math.inf if num > 0 else math.nan)


def cmh_greater(t: np.ndarray) -> float:
    """One-sided CMH p-value for rate(a) > rate(b) over strata rows ``(k_a, n_a, k_b, n_b)``.

    >>> round(cmh_greater(np.array([[30, 100, 5, 100], [25, 100, 4, 100]])), 8) < 1e-6
    True
    """
    from statsmodels.stats.contingency_tables import StratifiedTable

    t = t[(t[:, 0] + t[:, 2] > 0) & (t[:, 0] + t[:, 2] < t[:, 1] + t[:, 3])]  # strata with no variance
    if not len(t):
        return 1.0
    tables = [np.array([[ka, na - ka], [kb, nb - kb]]) for ka, na, kb, nb in t]
    st = StratifiedTable(tables)
    p = float(st.test_null_odds(correction=True).pvalue)
    with np.errstate(divide="ignore"):  # no events in b: the pooled log odds is +inf, its sign still right
        return p / 2 if st.logodds_pooled > 0 else 1 - p / 2


def strata(c: pd.DataFrame, a: str, b: str) -> np.ndarray:
    """Rows ``(k_a, n_a, k_b, n_b)`` per question x seed (or per question when seeds differ)."""
    da, db = c[c["display_group"] == a], c[c["display_group"] == b]
    by = ["base_question_id", "seed"] if set(da["seed"]) == set(db["seed"]) else ["base_question_id"]
    j = pd.merge(da.groupby(by)[["k", "n"]].sum(), db.groupby(by)[["k", "n"]].sum(), left_index=True,
                 right_index=True, suffixes=("_a", "_b"))
    j = j[(j["n_a"] > 0) & (j["n_b"] > 0)]
    return j[["k_a", "n_a", "k_b", "n_b"]].to_numpy(float)


def ratio_by_seed(c: pd.DataFrame, a: str, b: str) -> dict[str, float] | None:
    """Each seed's Mantel-Haenszel ratio of a to b over its question strata, when a and b have the same two or
    more seeds (else None).

    >>> c = pd.DataFrame({"display_group": ["a", "b"] * 2, "seed": [1, 1, 2, 2], "base_question_id": "q",
    ...                   "k": [4, 2, 3, 3], "n": [10] * 4})
    >>> ratio_by_seed(c, "a", "b")
    {'1': 2.0, '2': 1.0}
    """
    seeds = set(c.loc[c["display_group"] == a, "seed"])
    if len(seeds) < 2 or seeds != set(c.loc[c["display_group"] == b, "seed"]):
        return None
    return {f"{s:g}": round(mh_rate_ratio(strata(c[c["seed"] == s], a, b)), 4) for s in sorted(seeds)}


def _bootstrap_rr(t: np.ndarray, n_boot: int, seed: int) -> tuple[float, float]:
    idx = np.random.default_rng(seed).integers(0, len(t), (n_boot, len(t)))
    total = t[:, 1] + t[:, 3]
    num, den = (t[:, 0] * t[:, 3] / total)[idx].sum(1), (t[:, 2] * t[:, 1] / total)[idx].sum(1)
    with np.errstate(divide="ignore", invalid="ignore"):
        rr = np.where(den > 0, num / np.where(den > 0, den, 1), np.inf)
    # no interpolation: inf - inf would be nan where b has no events in some resamples
    return float(np.quantile(rr, 0.025, method="lower")), float(np.quantile(rr, 0.975, method="higher"))


def _rate(t: np.ndarray, k: int, n: int) -> float:
    return float(t[:, k].sum() / t[:, n].sum())


def check_ratio(c: pd.DataFrame, chk: Check, alpha: float, n_boot: int = 2000, seed: int = 0) -> CheckResult:
    claim = f"{chk.a} {chk.relation} {chk.factor:g} x {chk.b}"
    t = strata(c, chk.a, chk.b)
    if not len(t):
        return CheckResult(claim, "not measured (no shared questions)", None, None, None, TEST)
    rr, p = mh_rate_ratio(t), cmh_greater(t)
    low, high = _bootstrap_rr(t, n_boot, seed)
    holds = (rr >= chk.factor and p < alpha) if chk.relation == ">=" else rr <= chk.factor
    measured = f"{chk.a} {_rate(t, 0, 1):.3f} vs {chk.b} {_rate(t, 2, 3):.3f}: ratio {rr:.2f}" \
        + counted_caution(c, [chk.a, chk.b])
    return CheckResult(claim, measured, (low, high), p, bool(holds), TEST, chk.relation == ">=",
                       ratio_by_seed(c, chk.a, chk.b))


def check_trend(c: pd.DataFrame, chk: Check, alpha: float) -> CheckResult:
    import statsmodels.api as sm

    levels = dict(sorted(chk.levels.items(), key=lambda kv: kv[1]))
    claim = "rate rises with dose: " + " < ".join(levels)
    d = c[c["display_group"].isin(levels) & (c["n"] > 0)]
    rates = d.groupby("display_group")[["k", "n"]].sum()
    measured = " / ".join(f"{g} {rates.at[g, 'k'] / rates.at[g, 'n']:.3f}" for g in levels if g in rates.index) \
        + counted_caution(c[c["display_group"].isin(levels)], list(levels))
    d = d[d.groupby("base_question_id")["k"].transform("sum") > 0]  # no information on the slope
    if d["display_group"].nunique() < 2:
        return CheckResult(claim, f"{measured}; too few misaligned answers to fit a trend", None, None, False,
                           TREND_TEST)
    rank = {g: float(i) for i, g in enumerate(levels)}
    x = pd.get_dummies(d["base_question_id"], drop_first=True, dtype=float)
    x.insert(0, "dose", d["display_group"].map(rank))
    fit = sm.GLM(np.column_stack([d["k"], d["n"] - d["k"]]), sm.add_constant(x, has_constant="add"),
                 family=sm.families.Binomial()).fit(cov_type="cluster",
                                                    cov_kwds={"groups": pd.factorize(d["model"])[0]})
    slope, p2 = float(fit.params["dose"]), float(fit.pvalues["dose"])
    p = p2 / 2 if slope > 0 else 1 - p2 / 2
    ci = fit.conf_int().loc["dose"]
    return CheckResult(claim, f"{measured}; log-odds per level {slope:+.2f}", (float(ci[0]), float(ci[1])), p,
                       bool(slope > 0 and p < alpha), TREND_TEST)


def check_early(c: pd.DataFrame, chk: Check, alpha: float, steps: dict[str, int]) -> CheckResult:
    """a > b significant at a checkpoint within the first ``within`` of a's training (its own length: other,
    longer fine-tunes of the run do not stretch it)."""
    c = c[c["display_group"].isin([chk.a, chk.b])]
    d = c.assign(step=[steps.get(m, 0) if cp == -1 else int(cp) for m, cp in zip(c["model"], c["checkpoint"],
                                                                                     strict=True)])
    last = int(d.loc[d["display_group"] == chk.a, "step"].max())
    claim = f"{chk.a} > {chk.b} within the first {chk.within:.0%} of training"
    for step in sorted(set(d.loc[d["display_group"] == chk.a, "step"])):
        t = strata(d[d["step"] == step], chk.a, chk.b)
        p = cmh_greater(t) if len(t) else 1.0
        if p < alpha:
            return CheckResult(claim, f"first significant at step {step} of {last}", None, p,
                               step <= chk.within * last, TEST)
    return CheckResult(claim, f"never significant in {last} steps", None, None, False, TEST)


OUTSIDE_CELLS = ("cosine", "leads", "recall", "report", "elicitation")
"""Check kinds read from records other than the rate cells (directions, traces, monitor scores)."""


def matches(ids: pd.Series, chk: Check) -> pd.Series:
    """Which question ids a check counts: ``questions`` and none of ``exclude``."""
    return any_glob(ids, [chk.questions]) & ~any_glob(ids, chk.exclude)


def any_glob(ids: pd.Series, globs: list[str]) -> pd.Series:
    """Which ids match one of ``globs`` (case-sensitive, ``fnmatch`` patterns)."""
    return ids.map(lambda s: any(fnmatch.fnmatchcase(s, g) for g in globs)).astype(bool)


def pooled(c: pd.DataFrame, chk: Check) -> pd.DataFrame:
    """Cells with every display group that a glob in ``a`` or ``b`` matches renamed to the glob: the groups
    are pooled (e.g. ``insecure-ablate(random*:em)``, a control averaged over its random draws).

    >>> c = pd.DataFrame({"display_group": ["x-r1", "x-r2", "x"]})
    >>> list(pooled(c, Check(a="x", b="x-r*"))["display_group"])
    ['x-r*', 'x-r*', 'x']
    """
    for pattern in (chk.a, chk.b):
        if "*" in pattern or "?" in pattern:
            hit = c["display_group"].map(lambda g, pattern=pattern: fnmatch.fnmatchcase(g, pattern))
            c = c.assign(display_group=c["display_group"].where(~hit, pattern))
    return c


def _missing(c: pd.DataFrame, chk: Check) -> list[str]:
    groups = set(c["display_group"])
    wanted = list(chk.levels) if chk.kind == "trend" else [chk.a, chk.b]
    return [g for g in wanted if g not in groups]


def run_check(c: pd.DataFrame, chk: Check, alpha: float, steps: dict[str, int],
              other: Callable[[Check], CheckResult] | None = None) -> CheckResult:
    """One check on cells ``c`` (all checkpoints) of the headline rule; ``other`` runs the checks on
    other records (``OUTSIDE_CELLS``)."""
    if chk.kind in OUTSIDE_CELLS:
        return other(chk) if other else CheckResult(chk.kind, "not measured", None, None, None, "")
    c = pooled(c[matches(c["base_question_id"], chk)], chk)
    if c.empty:
        where = chk.questions + (f" except {', '.join(chk.exclude)}" if chk.exclude else "")
        return CheckResult(chk.kind, f"not measured: no answers to questions {where}", None, None, None, "")
    if missing := _missing(c, chk):
        return CheckResult(chk.kind, f"not measured: no {', '.join(missing)} in this run", None, None, None, "")
    if chk.kind == "early":
        return check_early(c, chk, alpha, steps)
    final = c[c["checkpoint"] == -1]
    return check_trend(final, chk, alpha) if chk.kind == "trend" else check_ratio(final, chk, alpha)


def findings_table(c: pd.DataFrame, findings: Sequence[Finding], alpha: float, steps: dict[str, int],
                   other: Callable[[Check], CheckResult] | None = None) -> list[dict[str, Any]]:
    """``[{finding, source, expected, measured, interval, p, holds, test, checks}]``: a finding holds
    when every check holds, is not measured when any check is not, and its p is the largest of its
    tested checks' (``<=`` claims are not tested)."""
    rows = []
    for f in findings:
        res = [run_check(c, chk, alpha, steps, other) for chk in f.checks]
        holds = None if any(r.holds is None for r in res) else all(r.holds for r in res)
        ps = [r.p for r in res if r.p is not None and r.tested]
        rows.append({"finding": f.name, "source": f.source, "expected": f.expected,
                     "measured": "; ".join(r.measured for r in res),
                     "interval": [r.interval for r in res], "p": max(ps) if ps else None, "holds": holds,
                     "test": "; ".join(sorted({r.test for r in res if r.test})),
                     "checks": [r._asdict() for r in res]})
    return rows
