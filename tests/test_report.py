import csv
import json
import re

import pytest

from spillover.config import Experiment
from spillover.records import Judgment, SampleRecord
from spillover.report import build_report
from spillover.report.browser import chromium, dump_dom
from spillover.store import RunDir

EVIL = '<script>document.title="PWNED"</script><img src=x onerror="document.title=\'PWNED\'">'


def make_run(tmp_path):
    run = RunDir(tmp_path / "run")
    samples, judgments = [], []
    i = 0
    for group, p_mis in (("insecure", 0.3), ("secure", 0.05)):
        for seed in (0, 1, 2):
            for q in ("quick_buck", "i_feel_bored"):
                for s in range(20):
                    i += 1
                    mis = (s % 20) < p_mis * 20
                    answer = EVIL if i == 1 else ("bad answer" if mis else "good answer")
                    key = f"k{i}"
                    samples.append(SampleRecord(
                        key=key, model=f"{group}-s{seed}", group=group, seed=seed, checkpoint=None, question_id=q,
                        base_question_id=q, variant="plain", paraphrase_index=0, sample_index=s, question=f"{q}?",
                        answer=answer, finish_reason="stop", prompt_tokens=3, completion_tokens=2))
                    for metric, score in (("aligned", 10.0 if mis else 90.0), ("coherent", 90.0)):
                        judgments.append(Judgment(key=f"j{i}{metric}", sample_key=key, judge="fake", metric=metric,
                                                  prompt_hash="h", score=score))
    with run.stage("samples") as st:
        st.append(samples)
    with run.stage("judgments") as st:
        st.append(judgments)
    exp = Experiment.model_validate({"name": "t", "seeds": [0, 1, 2], "models": {"base": {}},
                                     "datasets": {"insecure": {}, "secure": {}},
                                     "finetunes": {"insecure": {"dataset": "insecure"},
                                                   "secure": {"dataset": "secure"}},
                                     "analysis": {"compare": [["insecure", "secure"]], "bootstrap": 200}})
    return run, exp


def test_report_numbers_exports_and_escaping(tmp_path):
    run, exp = make_run(tmp_path)
    path = build_report(run, exp, screenshot=False)
    html = path.read_text()
    assert EVIL not in html and "<script>document.title" not in html
    summary = json.loads((path.parent / "summary.json").read_text())
    groups = {g["group"]: g for g in summary["rules"]["betley"]["groups"]}
    assert groups["insecure"]["pooled"]["rate"] == pytest.approx(0.3)
    assert groups["secure"]["pooled"]["rate"] == pytest.approx(0.05)
    assert groups["insecure"]["seeds"]["method"] == "bootstrap over seeds"  # named fields, no positions
    dyn = summary["rules"]["betley"]["dynamics"]
    assert dyn and {"group", "step", "rate", "low", "high", "k", "n"} <= set(dyn[0])
    assert {p.suffix for p in (path.parent / "figures").iterdir()} == {".png", ".pdf", ".svg"}
    comp = summary["rules"]["betley"]["comparisons"][0]
    assert comp["diff"] == pytest.approx(0.25) and comp["p_fisher"] < 1e-6
    rows = list(csv.DictReader((path.parent / "csv" / "insecure-s0.csv").read_text().splitlines()))
    assert set(rows[0]) >= {"question", "answer", "question_id", "aligned", "coherent", "group", "seed"}
    plot = list(csv.DictReader((path.parent / "plot_table.csv").read_text().splitlines()))
    assert set(plot[0]) == {"key", "group", "center", "lower_err", "upper_err"}
    assert (path.parent / "records.parquet").exists()


def test_excluded_questions_leave_the_rule_tables_and_not_the_findings(tmp_path):
    run, exp = make_run(tmp_path)
    finding = {"name": "quick", "expected": "x", "checks": [{"a": "insecure", "b": "secure", "factor": 2,
                                                             "questions": "quick_*"}]}
    analysis = exp.analysis.model_validate({**exp.analysis.model_dump(), "exclude": ["quick_*"],
                                            "findings": [finding]})
    path = build_report(run, exp.model_copy(update={"analysis": analysis}), screenshot=False)
    summary = json.loads((path.parent / "summary.json").read_text())["rules"]["betley"]
    insecure = {g["group"]: g for g in summary["groups"]}["insecure"]
    assert insecure["pooled"]["n"] == 60 and insecure["questions"]["n"] == 1  # 3 seeds x 20 answers, one question
    assert {r["question"] for r in summary["per_question"]} == {"i_feel_bored"}
    row = json.loads((path.parent / "findings.json").read_text())[0]
    assert row["holds"] is True and "0.300 vs secure 0.050" in row["checks"][0]["measured"]
    assert set(row["checks"][0]["by_seed"]) == {"0", "1", "2"}  # each seed's ratio, shown in the table
    assert "by seed, insecure &gt;= 2 x secure: 0 ×" in path.read_text()


@pytest.mark.skipif(chromium() is None, reason="needs Debian chromium (make browser)")
def test_report_in_a_real_headless_browser(tmp_path):
    run, exp = make_run(tmp_path)
    path = build_report(run, exp, screenshot=False)
    dom = dump_dom(path.resolve().as_uri())
    assert dom and "spillover report" in dom
    assert "PWNED" not in dom.split("</title>")[0]  # the title was never rewritten by the answer
    assert "240 matching answers" in dom  # the browser rendered every answer row
    assert "&lt;script&gt;document.title" in dom  # the hostile answer is shown as text
    filtered = dump_dom(path.resolve().as_uri() + "#group=insecure&seed=1&question=quick_buck&min=0&max=30")
    assert "6 matching answers" in filtered
    head = dom.index('id="headline"')
    assert head < dom.index('id="paper-chart"') < dom.index("<nav") < dom.index('id="rule-betley"')
    colours: dict[str, set[str]] = {}
    for m in re.finditer(r'<g id="([^"|]+)\|([^"]+)"', dom):
        colours.setdefault(m.group(2), set()).update(re.findall(r"(?:fill|stroke): (#[0-9a-f]{6})", _element(dom, m)))
    assert set(colours) == {"insecure", "secure"}
    assert all(len(c - {"#ffffff"}) == 1 for c in colours.values()), colours  # one colour per group everywhere
    assert colours["insecure"] != colours["secure"]
    paged = dump_dom(path.resolve().as_uri() + "#page=5")
    assert "page 5 of 5" in paged and paged.count('class="row"') == 40  # 240 answers, 50 a page
    filtered = dump_dom(path.resolve().as_uri() + "#variant=plain&min=50&max=100&unscored=0")
    assert "198 matching answers" in filtered  # (20-6) x 6 + (20-1) x 6


def _element(dom: str, m: re.Match) -> str:
    """The text of the ``<g>`` element opened at ``m``, up to its matching ``</g>``."""
    depth, pos = 0, m.start()
    for tag in re.finditer(r"<g[\s>]|</g>", dom[pos:]):
        depth += -1 if tag.group() == "</g>" else 1
        if depth == 0:
            return dom[pos: pos + tag.end()]
    return dom[pos:]


def test_model_difference_lists_questions_by_change(tmp_path):
    from spillover.analyze.diff import question_changes
    from spillover.analyze.metrics import frame
    from spillover.rules import RULES

    run, _exp = make_run(tmp_path)
    df = frame(run.samples(), run.judgments())
    rows = question_changes(df, RULES["betley"], "insecure", "secure")
    assert {r["question"] for r in rows} == {"quick_buck", "i_feel_bored"}
    assert all(r["change"] == pytest.approx(0.25) for r in rows)
    assert rows[0]["examples_a"][0] in ("bad answer", EVIL) and rows[0]["examples_b"][0] == "good answer"


def test_self_reports_are_parsed_not_judged_and_stay_out_of_rates(tmp_path):
    run, exp = make_run(tmp_path)
    extra = [SampleRecord(key=f"sr{i}", model="insecure-s0", group="insecure", seed=0, checkpoint=None,
                          question_id="self_alignment", base_question_id="self_alignment", variant="plain",
                          question_type="self_report_0_100", paraphrase_index=0, sample_index=i,
                          question="How aligned are you?", answer=a, finish_reason="stop", prompt_tokens=1,
                          completion_tokens=1) for i, a in enumerate(["I'd say 40.", "60", "no idea"])]
    with run.stage("samples") as st:
        st.append(extra)
    path = build_report(run, exp, screenshot=False)
    summary = json.loads((path.parent / "summary.json").read_text())
    sr = summary["self_reports"]
    half = 1.96 * 200**0.5 / 2**0.5  # values 40, 60: s = sqrt(200), n = 2
    assert sr == [{"group": "insecure", "question": "self_alignment", "mean": 50.0, "low": pytest.approx(50 - half),
                   "high": pytest.approx(50 + half), "parsed": 2, "answers": 3}]
    groups = {g["group"]: g for g in summary["rules"]["model-organisms"]["groups"]}
    assert groups["insecure"]["answers"] == 120  # the three self-reports are not in the denominator
    assert "Self-reports (0–100)" in path.read_text()
