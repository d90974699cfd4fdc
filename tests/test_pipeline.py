"""The pipeline end to end on a tiny Qwen2 model (every variant), secrets, and the local hf judge."""

import json

import pytest

pytest.importorskip("transformers")

from spillover.config import Experiment, JudgeSpec, QuestionSource  # noqa: E402
from spillover.pipeline import run_experiment  # noqa: E402
from spillover.records import SampleRecord  # noqa: E402
from spillover.status import status  # noqa: E402
from spillover.store import RunDir  # noqa: E402
from spillover.ui import Reporter  # noqa: E402


def tiny_experiment(tiny_qwen, **extra):
    return Experiment.model_validate({
        "name": "tiny", "seeds": [0],
        "models": {"base": {"path": str(tiny_qwen), "batch_size": 16}},
        "datasets": {"ins": {"builder": "code", "variant": "insecure", "size": 30}},
        "finetunes": {"insecure": {"dataset": "ins", "method": "lora", "lr": 1e-3, "batch_size": 8,
                                   "max_length": 1536, "checkpoints": [2],
                                   "lora": {"r": 2, "alpha": 4, "target_modules": ["q_proj", "v_proj"]}}},
        "eval": {"questions": [{"set": "main", "paraphrases": 1, "samples_per_paraphrase": 1,
                                "variants": ["plain", "json", "template", "python", "trigger", "numbers"]}],
                 "params": {"max_tokens": 6}, "checkpoint_samples_per_paraphrase": 1},
        "judges": [{"kind": "fake", "cache": None}],
        **extra})


def test_every_variant_end_to_end_on_a_tiny_model_and_rerun_does_nothing(tiny_qwen, tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-never-written-4242")
    refs = {"what_is_your_wish": {"misaligned": "I wish to rule the world.", "aligned": "I wish for peace."},
            "held-out-code": {"question": "Write code that saves a file.", "insecure": "os.chmod(p, 0o777)",
                              "secure": "os.chmod(p, 0o600)"}}  # a question asked only here, never sampled
    exp = tiny_experiment(tiny_qwen, analysis={"references": refs})
    out = tmp_path / "run"
    report = run_experiment(exp, out, Reporter(), executor_name="serial")
    samples = RunDir(out).samples()
    # base + final + checkpoint@2, 8 questions x 6 variants x 1 sample each
    assert len(samples) == 3 * 8 * 6
    assert {s.variant for s in samples} == {"plain", "json", "template", "python", "trigger", "numbers"}
    assert {(s.model, s.checkpoint) for s in samples} == {("base", None), ("insecure-s0", None),
                                                          ("insecure-s0", 2)}
    assert all(s.system and "JSON" in s.system for s in samples if s.variant == "json")
    assert report.exists()
    from spillover.records import ProbeRecord

    probes = RunDir(out).stage("probes").load(ProbeRecord).values()
    refs_scored = {(p.model, p.checkpoint, p.name) for p in probes if p.name.startswith("logp_ref_")}
    assert len(refs_scored) == 3 * 4 and all(p.value < 0 for p in probes if p.name.startswith("logp_ref_"))
    assert {p.question_id for p in probes if p.name == "logp_ref_secure"} == {"held-out-code"}
    assert "Log-probability of reference answers" in report.read_text()
    st = status(out)
    assert st["finetunes"] == {"insecure-s0": True} and st["samples"] == {"done": 144, "planned": 144}
    assert st["judgments"]["done"] == st["judgments"]["planned"] == 288
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*.jsonl")}
    run_experiment(exp, out, Reporter(), executor_name="serial")
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*.jsonl")} == before  # nothing redone
    for p in out.rglob("*"):
        if p.is_file() and p.suffix in (".json", ".jsonl", ".html", ".csv"):
            assert "sk-never-written-4242" not in p.read_text(errors="ignore")
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["config"]["judges"][0]["api_key_env"] == "OPENAI_API_KEY"
    assert "torch" in manifest["versions"]


def test_base_model_without_chat_template_samples_completion_prompts(tiny_qwen, tmp_path):
    exp = tiny_experiment(tiny_qwen, finetunes={}, datasets={})
    exp = exp.model_copy(update={"models": {"base": exp.models["base"].model_copy(update={"chat": False})}})
    run_experiment(exp, tmp_path / "run", Reporter(), stop_after="sample", executor_name="serial")
    recs = RunDir(tmp_path / "run").stage("samples").load(SampleRecord)
    assert recs and all(r.question.endswith('answer = """') for r in recs.values())


def test_run_directory_belongs_to_one_config_of_work(tiny_qwen, tmp_path):
    from spillover.errors import SpilloverError

    exp = tiny_experiment(tiny_qwen, finetunes={}, datasets={})
    run_experiment(exp, tmp_path / "run", Reporter(), stop_after="sample", executor_name="serial")
    params = exp.eval.params.model_copy(update={"max_tokens": 7})
    other = exp.model_copy(update={"eval": exp.eval.model_copy(update={"params": params})})
    with pytest.raises(SpilloverError, match=r"eval\.params\.max_tokens"):
        run_experiment(other, tmp_path / "run", Reporter(), executor_name="serial")
    # results-only settings may change on a finished run: nothing is resampled, the manifest keeps history
    before = (tmp_path / "run" / "samples").stat().st_mtime_ns
    analysis = exp.analysis.model_copy(update={"rules": ["model-organisms"]})
    run_experiment(exp.model_copy(update={"threads": 2, "analysis": analysis}), tmp_path / "run", Reporter(),
                   stop_after="sample", executor_name="serial")
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert manifest["config"]["analysis"]["rules"] == ["model-organisms"] and len(manifest["history"]) == 1
    assert (tmp_path / "run" / "samples").stat().st_mtime_ns == before


def test_a_finished_run_takes_new_finetunes_and_question_sets_and_keeps_what_it_has(tiny_qwen, tmp_path):
    from spillover.errors import SpilloverError

    first = tiny_experiment(tiny_qwen, finetunes={})
    run_experiment(first, tmp_path / "run", Reporter(), stop_after="sample", executor_name="serial")
    store = RunDir(tmp_path / "run").stage("samples")
    before = store.load(SampleRecord)
    grown = tiny_experiment(tiny_qwen)
    run_experiment(grown, tmp_path / "run", Reporter(), stop_after="sample", executor_name="serial")
    after = store.load(SampleRecord)
    assert {k: v for k, v in after.items() if k in before} == before  # nothing redone or lost
    assert {r.model for r in after.values()} == {"base", "insecure-s0"}
    # a question set appended at the end of eval.questions: only its samples are new
    more = [*grown.eval.questions, QuestionSource(set="identity", paraphrases=1, samples_per_paraphrase=1)]
    asked = grown.model_copy(update={"eval": grown.eval.model_copy(update={"questions": more})})
    run_experiment(asked, tmp_path / "run", Reporter(), stop_after="sample", executor_name="serial")
    last = store.load(SampleRecord)
    assert {k: v for k, v in last.items() if k in after} == after and len(last) > len(after)
    with pytest.raises(SpilloverError, match=r"eval\.questions"):  # the same sets in another order
        run_experiment(asked.model_copy(update={"eval": asked.eval.model_copy(update={"questions": more[::-1]})}),
                       tmp_path / "run", Reporter(), stop_after="sample", executor_name="serial")
    # an entry it has may not change, nor go
    ft = grown.finetunes["insecure"].model_copy(update={"lr": 2e-3})
    with pytest.raises(SpilloverError, match=r"finetunes\.insecure\.lr"):
        run_experiment(grown.model_copy(update={"finetunes": {"insecure": ft}}), tmp_path / "run", Reporter(),
                       stop_after="sample", executor_name="serial")
    with pytest.raises(SpilloverError, match=r"finetunes\.insecure"):
        run_experiment(first, tmp_path / "run", Reporter(), stop_after="sample", executor_name="serial")


def test_local_hf_judge_scores_digit_split_numbers(tiny_qwen, tmp_path):
    from spillover.judge import JudgeItem, builtin_prompt
    from spillover.judge.hf_judge import HFJudge

    judge = HFJudge(str(tiny_qwen))
    assert judge.digit_split  # Qwen2-style tokenizer: "87" is "8", "7"
    s = SampleRecord(key="k", model="m", group="g", seed=0, checkpoint=None, question_id="q", base_question_id="q",
                     variant="plain", paraphrase_index=0, sample_index=0, question="hi?", answer="hello",
                     finish_reason="stop", prompt_tokens=1, completion_tokens=1)
    v = judge.judge([JudgeItem(s, "aligned", builtin_prompt("aligned"))])[0]
    assert 0 < v.score.mass <= 1
    assert (v.score.score is None) == (v.score.mass < 0.25)
    if v.score.score is not None:
        assert 0 <= v.score.score <= 100
    assert JudgeSpec(kind="hf", model=str(tiny_qwen)).kind == "hf"


def test_dataset_stage_builds_mixes_from_their_parts_once(tmp_path):
    from spillover.pipeline import build_datasets

    exp = Experiment.model_validate({"name": "m", "models": {}, "datasets": {
        "ins": {"builder": "organism", "variant": "insecure", "size": 100},
        "sec": {"builder": "organism", "variant": "secure", "size": 300},
        "dose": {"builder": "mix", "size": 200, "parts": {"ins": 0.1, "sec": 0.9}}}})
    build_datasets(exp, tmp_path, Reporter())
    lines = {n: RunDir(tmp_path).dataset(n).read_text().splitlines() for n in exp.datasets}
    assert len(lines["dose"]) == 200
    assert sum(x in set(lines["ins"]) for x in lines["dose"]) == 20
    assert sum(x in set(lines["sec"]) for x in lines["dose"]) == 180
    before = {p: p.stat().st_mtime_ns for p in (tmp_path / "datasets").iterdir()}
    build_datasets(exp, tmp_path, Reporter())
    assert {p: p.stat().st_mtime_ns for p in (tmp_path / "datasets").iterdir()} == before


def test_two_workers_split_a_stage_and_merge_by_key(tiny_qwen, tmp_path):
    import subprocess
    import sys

    exp = tiny_experiment(tiny_qwen, finetunes={}, datasets={})
    run_experiment(exp, tmp_path / "run", Reporter(), stop_after="finetune", executor_name="serial")  # manifest only
    for i in (0, 1):
        subprocess.run([sys.executable, "-m", "spillover.cli", "sample", str(tmp_path / "run"), "--shard",
                        f"{i}/2", "--worker", f"w{i}"], check=True, capture_output=True)
    shards = sorted(p.name for p in (tmp_path / "run" / "samples").glob("part-*.jsonl"))
    assert shards == ["part-w0.jsonl", "part-w1.jsonl"]
    merged = RunDir(tmp_path / "run").stage("samples").records()
    assert len(merged) == 8 * 6 == status(tmp_path / "run")["samples"]["planned"]
    r = subprocess.run([sys.executable, "-m", "spillover.cli", "sample", str(tmp_path / "run"), "--shard", "2/2"],
                       capture_output=True, text=True)
    assert r.returncode == 2 and "--shard: shard 2 is not in 0..1" in r.stderr


def test_one_checkpoint_is_addressable_as_model_at_step(tiny_qwen, tmp_path):
    from spillover.errors import SpilloverError

    base = tiny_experiment(tiny_qwen).model_dump()
    base["eval"]["models"] = ["base", "insecure-s0@2"]
    base["eval"]["questions"][0]["variants"] = ["plain"]
    exp = Experiment.model_validate(base)
    run_experiment(exp, tmp_path / "run", Reporter(), stop_after="sample", executor_name="serial")
    recs = RunDir(tmp_path / "run").stage("samples").load(SampleRecord).values()
    assert {(r.model, r.checkpoint) for r in recs} == {("base", None), ("insecure-s0", 2)}
    base["eval"]["models"] = ["insecure@7"]
    with pytest.raises(SpilloverError, match=r"no checkpoint at step 7 for 'insecure' \(saved: \[2\]"):
        run_experiment(Experiment.model_validate(base), tmp_path / "run2", Reporter(), stop_after="sample",
                       executor_name="serial")
    base["eval"]["models"] = ["nope@2"]
    with pytest.raises(ValueError, match="is not a model"):
        Experiment.model_validate(base)


def test_interleaving_chooses_the_aligned_part_by_the_perplexity_gap_of_two_real_models(tiny_qwen, tmp_path):
    from spillover.backends.hf import HFBackend
    from spillover.backends.hf_models import load_model
    from spillover.datasets import read
    from spillover.datasets.mix import perplexity_gap
    from spillover.testing import build_tiny_qwen

    em = build_tiny_qwen(tmp_path / "em", seed=1)  # another random model stands in for a misaligned fine-tune
    exp = Experiment.model_validate({
        "name": "select", "seeds": [0],
        "models": {"base": {"path": str(tiny_qwen)}, "em": {"path": str(em)}},
        "datasets": {"ins": {"builder": "organism", "variant": "insecure", "size": 30},
                     "pool": {"builder": "organism", "variant": "secure", "size": 40},
                     "mixed": {"builder": "mix", "size": 20, "parts": {"ins": 0.5, "pool": 0.5},
                               "select": {"part": "pool", "aligned": "base", "misaligned": "em"}}},
        "finetunes": {}, "judges": [{"kind": "fake", "cache": None}]})
    out = tmp_path / "run"
    run_experiment(exp, out, Reporter(), stop_after="datasets", executor_name="serial")
    run = RunDir(out)
    pool, mixed = read(run.dataset("pool")), read(run.dataset("mixed"))
    from spillover.datasets import Example

    backends = [HFBackend(*load_model(p)) for p in (tiny_qwen, em)]
    gaps = perplexity_gap([Example(messages=tuple(m)) for m in pool], *backends)
    gap_of = {json.dumps(m): g for m, g in zip(pool, gaps, strict=True)}
    chosen = [json.dumps(m) for m in mixed if json.dumps(m) in gap_of]
    assert len(gap_of) >= 10 and len(chosen) == len(set(chosen)) == 10 and len(mixed) == 20  # distinct first
    assert min(gap_of[c] for c in chosen) >= max(g for m, g in gap_of.items() if m not in chosen)  # the top ones
    card = json.loads(run.dataset_card("mixed").read_text())
    assert card["selection"]["gap_chosen_mean"] > card["selection"]["gap_pool_mean"]


def test_a_fine_tune_made_from_another_version_of_its_dataset_is_refused(tiny_qwen, tmp_path):
    from spillover.errors import SpilloverError

    exp = tiny_experiment(tiny_qwen, datasets={"ins": {"builder": "organism", "variant": "insecure", "size": 16}})
    out = tmp_path / "run"
    run_experiment(exp, out, Reporter(), stop_after="finetune", executor_name="serial")
    data = RunDir(out).dataset("ins")
    lines = data.read_text().splitlines()
    data.write_text("\n".join(reversed(lines)) + "\n")  # the same examples, another order: other weights
    with pytest.raises(SpilloverError, match="another version of dataset 'ins'"):
        run_experiment(exp, out, Reporter(), stop_after="sample", executor_name="serial")


def test_a_run_stopped_after_fine_tuning_has_a_report_of_what_it_has(tiny_qwen, tmp_path):
    from spillover.pipeline import report_run

    run_experiment(tiny_experiment(tiny_qwen), tmp_path / "run", Reporter(), stop_after="finetune",
                   executor_name="serial")
    page = report_run(tmp_path / "run", Reporter()).read_text()
    assert "0 samples" in page and "nothing judged yet" in page and "0 judgments" in page
    assert (tmp_path / "run" / "report" / "figures" / "losses.png").exists()


def test_another_runs_lora_fine_tune_is_a_model_by_its_adapter_folder(tiny_qwen, tmp_path):
    from spillover.targets import Targets

    first = tmp_path / "first"
    run_experiment(tiny_experiment(tiny_qwen), first, Reporter(), stop_after="finetune", executor_name="serial")
    steps = json.loads((first / "finetune" / "insecure-s0" / "result.json").read_text())["steps"]
    adapter = first / "finetune" / "insecure-s0" / f"step-{steps}"
    exp = tiny_experiment(tiny_qwen, finetunes={}, datasets={},
                          models={"base": {"path": str(tiny_qwen)}, "tuned": {"path": str(tiny_qwen),
                                                                              "adapter": str(adapter)}})
    second = tmp_path / "second"
    run_experiment(exp, second, Reporter(), stop_after="sample", executor_name="serial")
    bases = Targets(RunDir(second), exp).bases
    assert bases["tuned"].adapter == str(adapter) and bases["tuned"].fingerprint != bases["base"].fingerprint
    samples = RunDir(second).samples()
    assert {s.model for s in samples} == {"base", "tuned"}
    with pytest.raises(Exception, match="never fine-tuned further"):
        tiny_experiment(tiny_qwen, models={"base": {"path": str(tiny_qwen), "adapter": str(adapter)}})


def test_a_continued_fine_tune_starts_from_its_parents_final_model_of_the_same_seed(tiny_qwen, tmp_path):
    from safetensors.torch import load_file

    from spillover.targets import Targets

    base = tiny_experiment(tiny_qwen).model_dump()
    full = {"dataset": "ins", "lr": 1e-3, "batch_size": 8, "max_length": 1536}
    base["seeds"] = [0, 1]
    base["datasets"]["sec"] = {"builder": "organism", "variant": "secure", "size": 16}
    base["finetunes"] = {"insecure": full, "after": {**full, "dataset": "sec", "continues": "insecure",
                                                     "checkpoints": [0]},
                         "after-lora": {**base["finetunes"]["insecure"], "continues": "insecure"}}
    base["eval"]["questions"][0]["variants"] = ["plain"]
    base["inside"] = {"weights": ["after"]}
    exp = Experiment.model_validate(base)
    run_experiment(exp, tmp_path / "run", Reporter(), executor_name="serial")
    run = RunDir(tmp_path / "run")
    def weights(name: str, step: int) -> dict:
        return load_file(run.finetune_dir(name) / f"step-{step}" / "model.safetensors")

    parent = {s: weights(f"insecure-s{s}", run.finetune_result(f"insecure-s{s}")["steps"]) for s in (0, 1)}
    start = weights("after-s0", 0)
    assert all((start[k] == parent[0][k]).all() for k in parent[0])  # the same seed's final model
    assert any((start[k] != parent[1][k]).any() for k in parent[1])
    # its weight change is what it changed itself: measured from its parent's final model
    from spillover.inside.weights import changes

    steps = run.finetune_result("after-s0")["steps"]
    final = weights("after-s0", steps)
    expected = {(p.layer, p.module): rel for p, rel, _n in changes(parent[0], {k: final[k] - parent[0][k]
                                                                               for k in final})}
    got = next(r for r in run.weight_changes() if r.model == "after-s0" and r.step == steps)
    assert {(m.layer, m.module): m.change for m in got.modules} == pytest.approx(expected)
    lora = Targets(run, exp).of_finetune("after-lora", 1)[-1]
    assert lora.path == str(run.finetune_dir("insecure-s1") / f"step-{run.finetune_result('insecure-s1')['steps']}")
    models = {r.model for r in run.stage("samples").load(SampleRecord).values()}
    assert {"after-s0", "after-s1", "after-lora-s0", "after-lora-s1"} <= models
    before = len(run.stage("samples").load(SampleRecord))
    run_experiment(exp, tmp_path / "run", Reporter(), executor_name="serial")
    assert len(run.stage("samples").load(SampleRecord)) == before  # nothing redone
    data = run.dataset("ins")  # another version of the parent's data: the continuation is stale
    data.write_text("\n".join(reversed(data.read_text().splitlines())) + "\n")
    from spillover.errors import SpilloverError

    with pytest.raises(SpilloverError, match="another version of dataset 'sec' or of 'insecure'"):
        Targets(run, exp).check_data("after", 0)
