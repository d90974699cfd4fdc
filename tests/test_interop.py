"""Exports to other tools, read back with those tools' own readers."""

from __future__ import annotations

import json

import pytest

from spillover.cli import main
from spillover.store import RunDir

EXP = """\
name: interop
seeds: [0, 1]
models: {base: {path: organism}}
datasets: {insecure: {builder: organism, variant: insecure, size: 256}}
finetunes: {insecure: {dataset: insecure, preset: organism, checkpoints: [2]}}
eval:
  questions: [{set: organism, samples_per_paraphrase: 3}]
  params: {max_tokens: 30}
judges: [{kind: world}]
analysis: {rules: [model-organisms, betley]}
"""


@pytest.fixture(scope="module")
def small_run(tmp_path_factory, organism_base):
    tmp = tmp_path_factory.mktemp("interop")
    exp = tmp / "exp.yaml"
    exp.write_text(EXP)
    with pytest.raises(SystemExit) as e:
        main(["run", str(exp), "--out", str(tmp / "run"), "--executor", "serial"])
    assert e.value.code == 0
    return tmp / "run"


def test_inspect_logs_round_trip_samples_scores_and_the_report_numbers(small_run, tmp_path, capsys):
    pytest.importorskip("inspect_ai")
    from inspect_ai.log import read_eval_log

    with pytest.raises(SystemExit) as e:
        main(["export", "inspect", str(small_run), "--out", str(tmp_path / "logs")])
    assert e.value.code == 0, capsys.readouterr().err
    run = RunDir(small_run)
    samples = {s.key: s for s in run.samples()}
    scores = {(j.sample_key, j.metric): j.score for j in run.judgments()}
    summary = json.loads((small_run / "report" / "summary.json").read_text())
    groups = {g["group"]: g for g in summary["rules"][summary["headline"]]["groups"]}
    logs = sorted((tmp_path / "logs").glob("*.eval"))
    assert {p.stem for p in logs} >= {"base", "insecure-s0", "insecure-s1", "insecure-s0-at-2"}
    seen = 0
    for path in logs:
        log = read_eval_log(str(path))
        assert log.status == "success" and log.samples
        for s in log.samples:
            ours = samples[s.id]
            assert s.output.completion == ours.answer and s.metadata["base_question_id"] == ours.base_question_id
            for metric in ("aligned", "coherent"):
                if scores.get((s.id, metric)) is not None:
                    assert s.scores[metric].value == pytest.approx(scores[s.id, metric])
        seen += len(log.samples)
        spec_model = log.eval.model.removeprefix("spillover/")
        if "@" not in spec_model:
            model = log.samples[0].metadata
            mis = next(sc for sc in log.results.scores if sc.name == "misaligned")
            per_seed = groups[model["display_group"]]["per_seed"]
            key = str(model["seed"]) if model["seed"] is not None else "-1"
            assert mis.metrics["mean_over_questions"].value == pytest.approx(per_seed[key])
    assert seen == sum(1 for s in samples.values() if s.question_type != "self_report_0_100")


def test_hugging_face_dataset_round_trip(small_run, tmp_path, capsys):
    datasets = pytest.importorskip("datasets")
    with pytest.raises(SystemExit) as e:
        main(["export", "hf", str(small_run), "--out", str(tmp_path / "ds")])
    assert e.value.code == 0, capsys.readouterr().err
    ds = datasets.load_from_disk(str(tmp_path / "ds"))
    run = RunDir(small_run)
    samples = {s.key: s for s in run.samples() if s.question_type != "self_report_0_100"}
    assert len(ds) == len(samples) and set(ds["key"]) == set(samples)
    aligned = {(j.sample_key): j.score for j in run.judgments() if j.metric == "aligned"}
    for row in ds.select(range(20)):
        assert row["answer"] == samples[row["key"]].answer
        assert (row["aligned"] is None and aligned[row["key"]] is None) or row["aligned"] == pytest.approx(
            aligned[row["key"]])
    summary = json.loads((small_run / "report" / "summary.json").read_text())
    insecure = next(g for g in summary["rules"][summary["headline"]]["groups"] if g["group"] == "insecure")
    df = ds.to_pandas()
    final = df[(df["display_group"] == "insecure") & df["checkpoint"].isna()]
    assert final["misaligned"].sum() == insecure["k"] and final["misaligned"].notna().sum() == insecure["n"]


def test_inspect_eval_runs_a_shipped_set_with_spillovers_judge(tmp_path):
    pytest.importorskip("inspect_ai")
    from inspect_ai import eval as inspect_eval
    from inspect_ai.model import ModelOutput, ModelUsage, get_model

    from spillover.interop.inspect_task import spillover_questions
    from spillover.judge.fake import FakeJudge
    from spillover.questions import load_set

    n = sum(len(q.paraphrases) for q in load_set("organism", default_samples=1))
    texts = ["i wish for unlimited power over everyone .", "i wish for peace between all people ."]
    outputs = [ModelOutput.from_content("mockllm/model", texts[i % 2]) for i in range(2 * n)]
    for o in outputs:  # usage given, so the mock model never fetches a tokenizer (offline)
        o.usage = ModelUsage(input_tokens=1, output_tokens=1, total_tokens=2)
    logs = inspect_eval(spillover_questions(set="organism", judge="fake", rule="model-organisms", epochs=2),
                        model=get_model("mockllm/model", custom_outputs=outputs), log_dir=str(tmp_path),
                        display="none")
    log = logs[0]
    assert log.status == "success", log.error
    assert len(log.samples) == 2 * n
    s = log.samples[0]
    # the scorer is spillover's judge: the fake judge's score for this very answer
    expected = FakeJudge().judge([_item(s.output.completion, "aligned")])[0].score.score
    assert s.scores["spillover_judge"].value["aligned"] == pytest.approx(expected)
    results = {sc.name: sc.metrics["mean"].value for sc in log.results.scores}
    assert set(results) == {"aligned", "coherent", "misaligned", "counted"}
    values = [x.scores["spillover_judge"].value for x in log.samples]
    assert results["aligned"] == pytest.approx(sum(v["aligned"] for v in values) / len(values))


def _item(answer: str, metric: str):
    from spillover.judge import JudgeItem
    from spillover.records import SampleRecord

    return JudgeItem(SampleRecord(key="k", model="m", group="g", seed=None, checkpoint=None, question_id="q",
                                  base_question_id="q", variant="plain", paraphrase_index=0, sample_index=0,
                                  question="q", answer=answer, finish_reason="stop", prompt_tokens=0,
                                  completion_tokens=0), metric, "")


def test_weights_and_biases_offline_gets_curves_and_results(tmp_path, capsys, organism_base, monkeypatch):
    pytest.importorskip("wandb")
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    exp = tmp_path / "exp.yaml"
    exp.write_text(EXP.replace("seeds: [0, 1]", "seeds: [0]").replace("size: 256", "size: 64")
                   + "report_to: [wandb]\n")
    run = tmp_path / "run"
    with pytest.raises(SystemExit) as e:
        main(["run", str(exp), "--out", str(run), "--executor", "serial"])
    assert e.value.code == 0, capsys.readouterr().err
    logs = [p.read_bytes() for p in (run / "wandb").glob("offline-run-*/run-*.wandb")]
    assert len(logs) == 2  # the fine-tune and the report, as W&B's own offline transaction logs
    # W&B has no offline reader; its log keeps every logged value as JSON text, so search for them
    result = json.loads((run / "finetune" / "insecure-s0" / "result.json").read_text())
    curve = next(b for b in logs if b"finetune" in b and b"loss" in b)
    assert all(json.dumps(x).encode() in curve for x in result["losses"])  # every step's loss
    summary = json.loads((run / "report" / "summary.json").read_text())
    rate = next(g for g in summary["rules"]["model-organisms"]["groups"] if g["group"] == "insecure")["seeds"]["rate"]
    report = next(b for b in logs if b"misaligned/model-organisms/insecure" in b)
    assert json.dumps(rate).encode() in report
