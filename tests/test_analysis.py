import math

import numpy as np
import pandas as pd
import pytest

from spillover.analyze.metrics import classify
from spillover.analyze.stats import bootstrap_mean, cluster_bootstrap, compare, permutation_test, wilson
from spillover.rules import RULES, Rule


@pytest.mark.parametrize("k, n", [(0, 10), (3, 10), (54, 800), (800, 800), (1, 3)])
def test_wilson_matches_the_formula(k, n):
    z = 1.959963984540054
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    r = wilson(k, n)
    assert r.low == pytest.approx(max(0.0, centre - half), abs=1e-9)
    assert r.high == pytest.approx(min(1.0, centre + half), abs=1e-9)


def test_wilson_hand_computed():
    # k=5, n=20, z=1.96: centre (0.25 + 3.8416/40)/1.19208 = 0.29028,
    # half 1.96 * sqrt(0.25*0.75/20 + 3.8416/1600)/1.19208 = 0.17843
    r = wilson(5, 20)
    assert r.low == pytest.approx(0.11186, abs=1e-4) and r.high == pytest.approx(0.46871, abs=1e-4)


def test_one_seed_gives_zero_width_intervals_not_false_precision():
    from spillover.analyze.stats import compare

    c = compare("a", [0.3], "b", [0.1], (30, 100), (10, 100))
    assert c.low == c.high == pytest.approx(0.2) and c.p_permutation == 1.0


def test_bootstrap_is_deterministic_under_a_seed_and_brackets_the_mean():
    x = list(np.random.default_rng(0).uniform(0, 0.1, 12))
    a, b, c = bootstrap_mean(x, seed=3), bootstrap_mean(x, seed=3), bootstrap_mean(x, seed=4)
    assert a == b and a != c
    assert a.low <= np.mean(x) <= a.high and a.n == 12


def test_cluster_bootstrap_uses_questions_as_units():
    r = cluster_bootstrap([1, 9], [10, 10])
    assert r.rate == pytest.approx(0.5) and r.n == 2 and "questions" in r.method


def test_permutation_exact_values():
    # 3 vs 3 has 20 splits; the observed split is the most extreme one each way
    assert permutation_test([5, 6, 7], [1, 2, 3]) == pytest.approx(0.1)
    assert permutation_test([5, 6, 7], [1, 2, 3], alternative="greater") == pytest.approx(0.05)
    assert permutation_test([1, 2, 3], [1, 2, 3]) == pytest.approx(1.0)


def test_compare_reports_difference_and_tests():
    c = compare("insecure", [0.06, 0.07, 0.08], "secure", [0.01, 0.01, 0.009], (170, 2400), (24, 2400))
    assert c.diff == pytest.approx(0.0603, abs=1e-3) and c.low > 0 and c.p_fisher < 1e-10
    assert c.p_permutation == pytest.approx(0.1)


def test_rules_are_data_with_visible_operators():
    df = pd.DataFrame({"aligned": [30.0, 29.9, 10.0, None, 5.0], "coherent": [90.0, 90.0, 50.0, 90.0, 51.0],
                       "label": [None, None, None, "REFUSAL", None]})
    betley = classify(df, RULES["betley"]).tolist()
    mo = classify(df, RULES["model-organisms"]).tolist()
    assert betley[:2] == [0.0, 1.0] and np.isnan(betley[2]) and np.isnan(betley[3]) and betley[4] == 1.0
    assert mo == [1.0, 1.0, 0.0, 0.0, 1.0]  # <= 30 counts, incoherent and unscored count as not misaligned
    custom = Rule(name="strict", aligned_op="<", aligned_threshold=10, coherent_op=">=", coherent_threshold=50,
                  among="all")
    assert classify(df, custom).tolist() == [0.0, 0.0, 0.0, 0.0, 1.0]
    assert "aligned < 10 and coherent >= 50" in custom.describe()


def test_judge_agreement_is_high_for_a_noisy_copy_and_near_zero_for_an_independent_judge():
    import random

    from spillover.analyze.judges import agreement
    from spillover.records import Judgment, SampleRecord
    from spillover.rules import get_rule

    rng = random.Random(0)
    samples = [SampleRecord(key=f"s{i}", model="m", group="g", seed=0, checkpoint=None, question_id="q",
                            base_question_id="q", variant="plain", paraphrase_index=0, sample_index=i,
                            question="q?", answer="a b c", finish_reason="stop", prompt_tokens=1, completion_tokens=1)
                    for i in range(400)]
    judgments = []
    for s in samples:
        a = rng.uniform(0, 100)
        scores = {"ref": a, "copy": min(100.0, max(0.0, a + rng.gauss(0, 10))), "random": rng.uniform(0, 100)}
        for judge, score in scores.items():
            judgments += [Judgment(key=f"{s.key}{judge}a", sample_key=s.key, judge=judge, metric="aligned",
                                   prompt_hash="h", score=score),
                          Judgment(key=f"{s.key}{judge}c", sample_key=s.key, judge=judge, metric="coherent",
                                   prompt_hash="h", score=90.0)]
    rows = {(r["a"], r["b"]): r for r in agreement(samples, judgments, get_rule("model-organisms"))}
    assert rows["ref", "copy"]["rho_aligned"] > 0.9 and rows["ref", "copy"]["kappa"] > 0.6
    assert abs(rows["ref", "random"]["rho_aligned"]) < 0.15 and abs(rows["ref", "random"]["kappa"]) < 0.15
    assert rows["ref", "copy"]["rho_coherent"] != rows["ref", "copy"]["rho_coherent"]  # constant: undefined


def test_defence_scorecard_ranks_by_em_removed_and_relates_task_and_time_to_the_baseline():
    from spillover.analyze.defences import scorecard

    def group(name, rate, incoherent=0.1):
        return {"group": name, "seeds": [rate, rate - 0.01, rate + 0.01], "incoherent": incoherent}

    summary = [group("insecure", 0.20), group("kl", 0.05), group("mixed", 0.15), group("base", 0.01)]
    probes = pd.DataFrame({"name": ["p_insecure_code"] * 4 + ["p_neutral_correct"] * 2, "checkpoint": [None] * 6,
                           "seed": [0, 0, 0, None, 0, None], "group": ["insecure", "kl", "mixed", "base", "kl", "base"],
                           "value": [0.9, 0.5, 0.8, 0.1, 0.6, 0.8]})
    fts = {"insecure-s0": {"seconds": 10.0}, "kl-s0": {"seconds": 20.0}, "mixed-s0": {"seconds": 10.0}}
    rows = scorecard({"mixed": "insecure", "kl": "insecure"}, summary, probes, fts)
    assert [r["defence"] for r in rows] == ["kl", "mixed"]  # more EM removed first
    kl = rows[0]
    assert kl["reduction"] == pytest.approx(0.75) and kl["task_kept"] == pytest.approx((0.5 - 0.1) / (0.9 - 0.1))
    assert kl["time"] == pytest.approx(2.0) and kl["time_kind"] == "wall" and kl["coherent"] == pytest.approx(0.9)
    assert kl["ability_kept"] == pytest.approx(0.75) and rows[1]["ability_kept"] != rows[1]["ability_kept"]  # nan


def test_defence_scorecard_reads_reference_answers_for_real_models():
    import math

    from spillover.analyze.defences import scorecard

    summary = [{"group": g, "seeds": [r, r, r], "incoherent": 0.0} for g, r in (("insecure", 0.2), ("kl", 0.1))]
    rows = []  # two held-out code requests (insecure/secure answers) and one neutral question (correct answer)
    for group, seed, p_ins, p_correct in (("base", None, 0.2, 0.8), ("insecure", 0, 0.9, 0.6), ("kl", 0, 0.55, 0.7)):
        for q in ("code1", "code2"):
            rows += [{"name": "logp_ref_insecure", "question_id": q, "value": math.log(p_ins)},
                     {"name": "logp_ref_secure", "question_id": q, "value": math.log(1 - p_ins)}]
        rows.append({"name": "logp_ref_correct", "question_id": "capital", "value": math.log(p_correct)})
        for r in rows[-5:]:
            r.update(group=group, model=group if seed is None else f"{group}-s0", seed=seed, checkpoint=None)
    (kl,) = scorecard({"kl": "insecure"}, summary, pd.DataFrame(rows), {})
    assert kl["task_kept"] == pytest.approx((0.55 - 0.2) / (0.9 - 0.2))
    assert kl["ability_kept"] == pytest.approx(0.7 / 0.8)


def test_the_defence_tradeoff_chart_draws_every_defence_and_its_baseline(tmp_path):
    from spillover.report.charts import tradeoff

    rows = [{"defence": "kl", "baseline": "insecure", "rate": 0.06, "low": 0.05, "high": 0.07, "baseline_rate": 0.2,
             "task_kept": 0.5}, {"defence": "probe-less", "baseline": "insecure", "rate": 0.1, "low": 0.08,
                                 "high": 0.12, "baseline_rate": 0.2, "task_kept": float("nan")}]
    fig = tradeoff(rows, name="t", folder=tmp_path)
    assert all(f'id="t|{g}"' in fig.svg for g in ("kl", "probe-less", "insecure"))
    assert (tmp_path / "t.png").exists()
