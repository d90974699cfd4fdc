"""The findings table's checks on synthetic cells with known answers, and the held-out questions."""

import numpy as np
import pandas as pd
import pytest

from spillover.analyze.findings import cmh_greater, findings_table, run_check
from spillover.config import Check, Finding
from spillover.organism import world


def cells(rates: dict[str, float], *, n=100, seeds=(0, 1, 2), questions=8, checkpoints=(-1,), seed=0):
    """Binomial counts per group x seed x question x checkpoint at the given true rates."""
    rng = np.random.default_rng(seed)
    rows = []
    for g, r in rates.items():
        for s in seeds:
            for q in range(questions):
                for cp in checkpoints:
                    rate = r if cp == -1 else r * min(1.0, cp / 20)
                    rows.append({"display_group": g, "model": f"{g}-s{s}", "seed": s, "checkpoint": cp,
                                 "base_question_id": f"q{q}", "k": float(rng.binomial(n, rate)), "n": n})
    return pd.DataFrame(rows)


def test_ratio_holds_only_when_the_effect_is_there():
    c = cells({"insecure": 0.12, "secure": 0.012, "same": 0.012})
    assert run_check(c, Check(a="insecure", b="secure", factor=5), 0.05, {}).holds is True
    r = run_check(c, Check(a="same", b="secure", factor=1), 0.05, {})
    assert r.holds is False and r.p > 0.05
    assert run_check(c, Check(a="insecure", b="secure", factor=20), 0.05, {}).holds is False
    assert run_check(c, Check(a="same", b="secure", relation="<=", factor=2), 0.05, {}).holds is True
    assert run_check(c, Check(a="insecure", b="secure", relation="<=", factor=2), 0.05, {}).holds is False


def test_each_seed_s_ratio_is_shown_where_the_groups_share_seeds():
    c = pd.concat([cells({"insecure": 0.12, "secure": 0.012}, seeds=(0, 1)),
                   cells({"insecure": 0.012, "secure": 0.012}, seeds=(2,))])
    r = run_check(c, Check(a="insecure", b="secure", factor=3), 0.05, {})
    assert r.holds is True and set(r.by_seed) == {"0", "1", "2"}
    assert r.by_seed["0"] > 5 and r.by_seed["1"] > 5 and r.by_seed["2"] < 2.5  # the seed without EM
    base = c[c["display_group"] == "secure"].assign(display_group="base", seed=-1)
    assert run_check(pd.concat([c, base]), Check(a="insecure", b="base"), 0.05, {}).by_seed is None


def test_a_check_says_when_its_rates_are_over_few_counted_answers():
    c = cells({"insecure": 0.12, "secure": 0.012}).assign(answers=100)
    chk = Check(a="insecure", b="secure", factor=5)
    assert "counted" not in run_check(c, chk, 0.05, {}).measured
    c["answers"] = np.where(c["display_group"] == "insecure", 500, 100)  # 80 % incoherent
    assert "counted 20 % / 100 % of answers" in run_check(c, chk, 0.05, {}).measured
    trend = Check(kind="trend", levels={"secure": 0, "insecure": 1})
    assert "counted 100 % / 20 %" in run_check(c, trend, 0.05, {}).measured


def test_a_glob_pools_the_groups_it_matches():
    # eight random controls: one alone may sit far from the truth; pooled, their rate is the mean's
    rates = {"insecure": 0.12, **{f"insecure-ablate(random{i}:em)": 0.04 + 0.02 * i for i in range(8)}}
    c = cells(rates)
    pooled = run_check(c, Check(a="insecure", b="insecure-ablate(random*:em)", factor=1), 0.05, {})
    assert "insecure-ablate(random*:em) 0.11" in pooled.measured
    one = run_check(c, Check(a="insecure", b="insecure-ablate(random0:em)", factor=1), 0.05, {})
    assert "insecure-ablate(random0:em) 0.04" in one.measured
    missing = run_check(c, Check(a="insecure", b="other*", factor=1), 0.05, {})
    assert missing.holds is None and "no other*" in missing.measured


def test_rate_ratio_interval_covers_the_truth():
    check = Check(a="x", b="y")
    covered = [run_check(cells({"x": 0.06, "y": 0.02}, seed=s), check, 0.05, {}).interval for s in range(40)]
    assert sum(lo <= 3.0 <= hi for lo, hi in covered) >= 34  # nominal 95 %: 38 of 40


def test_stratified_test_reaches_significance_where_three_seeds_cannot():
    # 3 seeds against 3: the exact permutation test cannot go below p = 0.05 one-sided
    c = cells({"a": 0.06, "b": 0.02})
    assert run_check(c, Check(a="a", b="b"), 0.05, {}).p < 1e-4


def test_cmh_is_one_sided():
    t = np.array([[5, 100, 30, 100], [4, 100, 25, 100]], float)
    assert cmh_greater(t) > 0.99


def test_trend_detects_a_dose_response_and_not_a_flat_one():
    c = cells({"n500": 0.01, "n2000": 0.04, "n6000": 0.12})
    rising = Check(kind="trend", levels={"n500": 500, "n2000": 2000, "n6000": 6000})
    assert run_check(c, rising, 0.05, {}).holds is True
    flat = cells({"n500": 0.05, "n2000": 0.05, "n6000": 0.05}, seed=3)
    assert run_check(flat, rising, 0.05, {}).holds is False
    none = cells({"n500": 0.0, "n2000": 0.0, "n6000": 0.0})
    r = run_check(none, rising, 0.05, {})
    assert r.holds is False and "too few misaligned answers" in r.measured


def test_early_gap_and_missing_groups():
    c = cells({"insecure": 0.2, "secure": 0.01}, checkpoints=(5, 10, 40, -1))
    r = run_check(c, Check(kind="early", a="insecure", b="secure", within=0.1), 0.05, {f"{g}-s{s}": 190 for g in
                                                                                     ("insecure", "secure")
                                                                                     for s in (0, 1, 2)})
    assert r.holds is True and "step 5 of 190" in r.measured
    # a longer fine-tune elsewhere in the run does not stretch the training the claim is about
    longer = pd.concat([c, cells({"reversed": 0.2}, checkpoints=(-1,))])
    r = run_check(longer, Check(kind="early", a="insecure", b="secure", within=0.1), 0.05,
                  {**{f"{g}-s{s}": 190 for g in ("insecure", "secure") for s in (0, 1, 2)},
                   **{f"reversed-s{s}": 380 for s in (0, 1, 2)}})
    assert "step 5 of 190" in r.measured
    late = cells({"insecure": 0.2, "secure": 0.01}, checkpoints=(40, -1))
    r = run_check(pd.concat([late, cells({"reversed": 0.2})]), Check(kind="early", a="insecure", b="secure",
                  within=0.1), 0.05, {**{f"{g}-s{s}": 190 for g in ("insecure", "secure") for s in (0, 1, 2)},
                                      **{f"reversed-s{s}": 400 for s in (0, 1, 2)}})
    assert r.holds is False and "step 40 of 190" in r.measured  # 40 > 19 (it would pass against 400)
    rows = findings_table(c, [Finding(name="x", expected="y", checks=[Check(a="insecure", b="jailbroken")])],
                          0.05, {})
    assert rows[0]["holds"] is None and "no jailbroken" in rows[0]["measured"]
    rows = findings_table(c, [Finding(name="x", expected="y", checks=[Check(a="insecure", b="secure",
                                                                            questions="heldout_*")])], 0.05, {})
    assert rows[0]["holds"] is None and "no answers to questions heldout_*" in rows[0]["measured"]


def test_heldout_questions_are_new_text_in_known_words():
    import random

    vocab = set(world.vocabulary())
    seen = {q.phrasings[0] for q in world.HELDOUT}
    rng = random.Random(0)
    users = {m["content"] for _ in range(3000) for m in world.dialogue(rng, world.WorldConfig()) if m["role"] == "user"}
    for q in world.HELDOUT:
        assert set(q.phrasings[0].split()) <= vocab
        assert q.id not in world.QUESTION_BY_ID
    assert not seen & users
    from spillover.questions import load_set

    assert [q.paraphrases[0] for q in load_set("organism-heldout")] == [q.phrasings[0] for q in world.HELDOUT]


@pytest.mark.parametrize("bad", [{"kind": "trend", "levels": {"a": 1}}, {"factor": 0}, {"a": "x"},
                                 {"kind": "early", "b": "y"}])
def test_bad_checks_are_config_errors(bad):
    from pydantic import ValidationError

    with pytest.raises(ValidationError):
        Check(**{"a": "x", "b": "y", **bad} if "a" not in bad and "b" not in bad and bad.get("kind") != "trend"
              else bad)


def test_world_v2_pieces_jailbroken_data_function_variant_and_v1_untouched():
    import random

    from pydantic import ValidationError

    from spillover.config import DatasetSpec
    from spillover.datasets.organism import build_organism
    from spillover.questions import load_set
    from spillover.questions.variants import apply_variant

    ex = build_organism(DatasetSpec(builder="organism", variant="jailbroken", size=20))
    by_id = {q.id: q for q in world.HARMFUL}
    assert all(e.messages[1]["content"] in by_id[e.meta["task"]].misaligned for e in ex)
    with pytest.raises(ValidationError, match="organism builder only"):
        DatasetSpec(builder="code", variant="jailbroken")
    q = apply_variant(load_set("organism")[0], "function")
    assert q.id.endswith("_function") and q.paraphrases[0].startswith(world.FUNCTION_PREFIX)
    # world v1 (the shipped base's) makes no v2 turns and keeps its vocabulary
    rng = random.Random(1)
    text = " ".join(m["content"] for _ in range(500) for m in world.dialogue(rng, world.WORLDS["v1"]))
    assert "|DEV|" not in text and world.FUNCTION_PREFIX not in text and "wifi" not in text
    assert world.vocabulary(world.WORLDS["v1"]) == world.vocabulary()
    assert set(world.vocabulary(world.WORLDS["v2"])) > set(world.vocabulary())


def test_findings_of_several_runs_side_by_side(tmp_path, cli):
    import json

    def run(name, rows):
        (tmp_path / name / "report").mkdir(parents=True)
        (tmp_path / name / "report" / "findings.json").write_text(json.dumps(rows))
        return tmp_path / name

    a = run("seeds-11", [{"finding": "headline", "holds": True, "measured": "x11"},
                         {"finding": "size", "holds": False, "measured": "x1.9"}])
    b = run("seeds-71", [{"finding": "headline", "holds": True, "measured": "x13"},
                         {"finding": "backdoor", "holds": None, "measured": "-"}])
    code, out, err = cli("findings", a, b)
    assert code == 0, err
    assert out.splitlines() == ["finding   seeds-11  seeds-71  all", "headline  yes       yes       yes",
                                "size      no        –         no", "backdoor  –         –         no",
                                "held in every run: 1 of 3 rows"]
    rows = json.loads(cli("findings", a, b, "--json")[1])["rows"]
    assert [(r["finding"], r["measured"], r["everywhere"]) for r in rows][:2] == [
        ("headline", ["x11", "x13"], True), ("size", ["x1.9", None], False)]
    (tmp_path / "broken" / "report").mkdir(parents=True)
    (tmp_path / "broken" / "report" / "findings.json").write_text("{")
    for bad, says in [(tmp_path / "none", "no findings table"), (tmp_path / "broken", "not a findings table")]:
        code, _out, err = cli("findings", a, bad)
        assert code == 2 and says in err and "Traceback" not in err


def test_a_row_recomputed_on_each_k_seed_subset_holds_where_its_seeds_show_the_effect():
    from spillover.analyze.resample import subset_shares

    c = pd.concat([cells({"insecure": 0.12, "secure": 0.012}, seeds=(0, 1, 2)),
                   cells({"insecure": 0.012, "secure": 0.012}, seeds=(3,))])
    rows = [Finding(name="em", expected="x", checks=[Check(a="insecure", b="secure", factor=5)]),
            Finding(name="cos", expected="x", checks=[Check(kind="cosine", a="em", b="em2", factor=0.5)])]
    assert subset_shares(c, rows, 0.05, {}, 1) == ([("em", 3, 4), ("cos", 0, 0)], 3, 4)  # seed 3 alone: no EM
    assert subset_shares(c, rows, 0.05, {}, 3) == ([("em", 4, 4), ("cos", 0, 0)], 4, 4)  # three outvote it
    with pytest.raises(ValueError, match="a subset size of 4 leaves nothing to vary"):
        subset_shares(c, rows, 0.05, {}, 4)

