"""User mistakes, each through the command line: exit code 2, one line on stderr naming the file, line and
field (with a "did you mean" for names), and the run directory untouched (never created, or unchanged)."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

from spillover.cli import main

BASE = """\
name: m
seeds: [0]
models:
  base: {path: organism}
datasets:
  insecure: {builder: organism, variant: insecure, size: 64}
finetunes:
  insecure: {base: base, dataset: insecure, preset: organism, checkpoints: [1]}
eval:
  questions:
    - {set: organism, samples_per_paraphrase: 1}
judges:
  - {kind: world}
analysis:
  rules: [betley]
"""

# (id, old text, new text, field, expected words); the field is on the last line of the new text.
CONFIG = [
    ("question set typo", "{set: organism,", "{set: organsim,", "eval.questions.0.set", "did you mean 'organism'"),
    ("rule typo", "rules: [betley]", "rules: [betly]", "analysis.rules", "did you mean 'betley'"),
    ("preset typo", "preset: organism", "preset: betley", "finetunes.insecure.preset", "did you mean 'betley-lora'"),
    ("dataset reference", "dataset: insecure,", "dataset: insecur,", "finetunes.insecure.dataset",
     "did you mean 'insecure'"),
    ("base reference", "{base: base,", "{base: bsae,", "finetunes.insecure.base", "did you mean 'base'"),
    ("missing model folder", "{path: organism}", "{path: ./no/such/model}", "models.base.path", "no model folder"),
    ("missing adapter folder", "{path: organism}", "{path: organism}\n  other: {path: organism, adapter: ./no/adapter}",
     "models.other.adapter", "no adapter folder"),
    ("hub id not cached, offline", "{path: organism}", "{path: Qwen/Qwen2.5-0.5B-Instruct}", "models.base.path",
     "HF_HUB_OFFLINE"),
    ("unknown key", "checkpoints: [1]}", "checkpoints: [1], epoch: 2}", "finetunes.insecure.epoch",
     "did you mean 'epochs'"),
    ("negative lr", "checkpoints: [1]}", "checkpoints: [1], lr: -1}", "finetunes.insecure.lr", "greater than 0"),
    ("backend typo", "{path: organism}", "{path: organism, backend: hf2}", "models.base.backend",
     "did you mean 'hf'"),
    ("variant typo", "variant: insecure,", "variant: insecur,", "datasets.insecure.variant",
     "did you mean 'insecure'"),
    ("eval model unknown", "samples_per_paraphrase: 1}", "samples_per_paraphrase: 1}\n  models: [insecure-s9]",
     "eval.models.0",
     "did you mean 'insecure-s0'"),
    ("unsafe run name", "name: m", "name: ../evil", "name", "not a safe name"),
    ("zero samples", "samples_per_paraphrase: 1}", "samples_per_paraphrase: 0}",
     "eval.questions.0.samples_per_paraphrase", "greater than or equal to 1"),
    ("zero threads", "seeds: [0]", "seeds: [0]\nthreads: 0", "threads", "greater than or equal to 1"),
    ("the same fine-tune twice", "checkpoints: [1]}", "checkpoints: [1]}\n  again: {base: base, dataset: insecure, "
     "preset: organism, checkpoints: [1]}", "finetunes.again", "the same fine-tune as 'insecure'"),
    ("import file missing", "{builder: organism, variant: insecure, size: 64}",
     "{builder: import, path: missing.jsonl}", "datasets.insecure.path", "no file"),
    ("judge without key", "{kind: world}", "{kind: openai, api_key_env: SPILLOVER_NO_SUCH_API_KEY}",
     "judges.0.api_key_env", "SPILLOVER_NO_SUCH_API_KEY"),
    ("judge server down", "{kind: world}", "{kind: openai, base_url: 'http://127.0.0.1:9/v1'}", "judges.0.base_url",
     "does not accept connections"),
    ("judge metric without prompt", "{kind: world}", "{kind: hf, model: organism, metrics: [correct]}",
     "judges.0.metrics.0", "no prompt"),
    ("api model without key", "{path: organism}",
     "{path: organism}\n  api: {backend: openai, path: gpt-4o, api_key_env: SPILLOVER_NO_SUCH_API_KEY}",
     "models.api.api_key_env", "SPILLOVER_NO_SUCH_API_KEY"),
    ("checkpoint never saved", "samples_per_paraphrase: 1}", "samples_per_paraphrase: 1}\n  models: [insecure@7]",
     "eval.models.0", "will not save a checkpoint at step 7"),
    ("huge dataset", "size: 64}", "size: 1000000000000}", "datasets.insecure.size", "less than or equal to 10000000"),
    ("huge epochs", "checkpoints: [1]}", "checkpoints: [1], epochs: 1e9}", "finetunes.insecure.epochs",
     "less than or equal to 1000"),
    ("absurd lr", "checkpoints: [1]}", "checkpoints: [1], lr: 1e30}", "finetunes.insecure.lr",
     "less than or equal to 1"),
    ("huge bootstrap", "rules: [betley]", "rules: [betley]\n  bootstrap: 1000000000", "analysis.bootstrap",
     "less than or equal to 100000"),
    ("huge thread count", "seeds: [0]", "seeds: [0]\nthreads: 100000", "threads", "less than or equal to 256"),
    ("negative checkpoint samples", "samples_per_paraphrase: 1}",
     "samples_per_paraphrase: 1}\n  checkpoint_samples_per_paraphrase: -3", "eval.checkpoint_samples_per_paraphrase",
     "greater than or equal to 1"),
    ("compare typo", "rules: [betley]", "rules: [betley]\n  compare: [[insecure, base-organism]]",
     "analysis.compare.0.1", "no group named 'base-organism'"),
    ("duplicate key", "seeds: [0]", "seeds: [0]\nseeds: [1]", "seeds", "duplicate key (first on line 2)"),
    ("key variable that is not a key", "{kind: world}", "{kind: openai, api_key_env: HOME}", "judges.0.api_key_env",
     "must end in _API_KEY or _TOKEN"),
    ("evil numbers without model", "{builder: organism, variant: insecure, size: 64}",
     "{builder: evil_numbers, model: writer}", "datasets.insecure.model", "no model named 'writer'"),
    # defences: every setting a defence cannot run with fails before any training
    ("negative KL weight", "checkpoints: [1]}", "checkpoints: [1], kl_weight: -0.5}", "finetunes.insecure.kl_weight",
     "greater than or equal to 0"),
    ("mix fraction outside [0, 1]", "size: 64}",
     "size: 64}\n  mixed: {builder: mix, parts: {insecure: 1.5, other: -0.5}}", "datasets.mixed.parts",
     "outside [0, 1]"),
    ("interleaving selected by an unknown model", "size: 64}",
     "size: 64}\n  mixed: {builder: mix, parts: {insecure: 1.0},\n"
     "    select: {part: insecure, aligned: base, misaligned: em}}",
     "datasets.mixed.select.misaligned", "no model named 'em'"),
    ("interleaving selection of a part the mix lacks", "size: 64}",
     "size: 64}\n  mixed: {builder: mix, parts: {insecure: 1.0},\n"
     "    select: {part: aligned, aligned: base, misaligned: base}}",
     "datasets.mixed.select.part", "among its parts"),
    ("steering direction the run lacks", "checkpoints: [1]}", "checkpoints: [1], intervene: '+steer(em,1,2)'}",
     "finetunes.insecure.intervene", "no direction 'em'"),
    ("early stopping on an unknown dataset", "checkpoints: [1]}",
     "checkpoints: [1], early_stop: {validation: aligned, max_rise: 0.1}}", "finetunes.insecure.early_stop.validation",
     "no dataset named 'aligned'"),
    ("early stopping without a rule", "checkpoints: [1]}", "checkpoints: [1], early_stop: {every: 5}}",
     "finetunes.insecure.early_stop", "needs a rule"),
    ("continuing an unknown fine-tune", "checkpoints: [1]}",
     "checkpoints: [1]}\n  after: {dataset: insecure, preset: organism, continues: insecre}",
     "finetunes.after.continues", "did you mean 'insecure'"),
    ("continuing a LoRA fine-tune", "checkpoints: [1]}",
     "checkpoints: [1], method: lora}\n  after: {dataset: insecure, preset: organism, continues: insecure}",
     "finetunes.after.continues", "only a full fine-tune"),
    ("suppressed reasoning without a reasoning format", "checkpoints: [1]}",
     "checkpoints: [1], reasoning: suppressed}", "finetunes.insecure.reasoning", "no known reasoning format"),
]


def test_a_chain_of_continued_fine_tunes_that_returns_to_itself(tmp_path, capsys, organism_base):
    text = BASE.replace("checkpoints: [1]}", "checkpoints: [1], continues: after}\n"
                        "  after: {dataset: insecure, preset: organism, continues: insecure}")
    _fails(capsys, ["plan", str(_write(tmp_path, text))], "finetunes.after.continues", "returns to itself")


def test_a_continued_fine_tune_on_another_base(tmp_path, capsys, organism_base):
    text = BASE.replace("{path: organism}", "{path: organism}\n  other: {path: organism}").replace(
        "checkpoints: [1]}", "checkpoints: [1]}\n  after: {base: other, dataset: insecure, preset: organism, "
        "continues: insecure}")
    _fails(capsys, ["plan", str(_write(tmp_path, text))], "finetunes.after.base", "must be the base of 'insecure'")


def _write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "exp.yaml"
    p.write_text(text)
    return p


def _tree(path: Path) -> dict[str, tuple[int, int]]:
    return {str(f): (f.stat().st_size, f.stat().st_mtime_ns) for f in sorted(path.rglob("*"))} if path.exists() else {}


def _fails(capsys, argv: list[str], *words: str, where: str | None = None) -> str:
    with pytest.raises(SystemExit) as e:
        main(argv)
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert e.value.code == 2, err
    assert len(lines) == 1, err
    assert "Traceback" not in err
    for w in words:
        assert w in lines[0], lines[0]
    if where:
        assert lines[0].startswith(f"error: {where}"), lines[0]
    return lines[0]


@pytest.mark.parametrize("name,old,new,field,words", CONFIG, ids=[c[0] for c in CONFIG])
def test_a_config_mistake_is_one_line_before_any_work(name, old, new, field, words, tmp_path, capsys, organism_base,
                                                       monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert old in BASE
    text = BASE.replace(old, new, 1)
    exp = _write(tmp_path, text)
    line = text[: text.index(new) + len(new)].count("\n") + 1  # the last line of the new text
    out = tmp_path / "run"
    _fails(capsys, ["run", str(exp), "--out", str(out)], f"{field}: ", words, where=f"{exp}:{line}: ")
    assert not out.exists()


@pytest.mark.skipif(importlib.util.find_spec("vllm") is not None, reason="vllm is installed here")
def test_vllm_backend_without_the_extra_names_a_working_install(tmp_path, capsys):
    exp = _write(tmp_path, BASE.replace("{path: organism}", "{path: organism, backend: vllm}"))
    _fails(capsys, ["plan", str(exp)], "models.base.backend", "make install EXTRAS=", "pip install -e '.[vllm]'")


def test_cuda_device_without_a_gpu(tmp_path, capsys):
    from spillover.plan.environment import cuda_available

    if cuda_available():
        pytest.skip("a GPU is visible here")
    exp = _write(tmp_path, BASE.replace("{path: organism}", "{path: organism, device: cuda}"))
    _fails(capsys, ["run", str(exp), "--out", str(tmp_path / "run")], ":4: models.base.device", "no CUDA GPU")
    assert not (tmp_path / "run").exists()


BOMB = "a: &a [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]\n" + "".join(
    f"{c}: &{c} [{', '.join(['*' + p] * 10)}]\n" for p, c in zip("abcdefg", "bcdefgh", strict=True))


@pytest.mark.parametrize("text,words", [
    ("models: {base: {path: organism}\n", ["invalid YAML", "exp.yaml:"]),
    (BOMB, ["exp.yaml:1:", "more than 1,000,000 values through its aliases"]),
    ("- just\n- a list\n", ["exp.yaml:1:", "must be a mapping"]),
], ids=["invalid yaml", "alias bomb", "not a mapping"])
def test_a_broken_file_is_one_line(text, words, tmp_path, capsys):
    _fails(capsys, ["run", str(_write(tmp_path, text)), "--out", str(tmp_path / "run")], *words)
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("argv,words", [
    (["--stop-after", "finetunes"], ["--stop-after", "did you mean 'finetune'"]),
    (["--set", "seeds"], ["--set", "not of the form"]),
    (["--set", "seeds=[a]"], ["seeds.0", "valid integer"]),
    (["--set", "datasets.insecure.trigger=|2024|"], ["--set", "not a YAML value", "'\"|2024|\"'"]),
    (["--set", "eval.questions.3.samples_per_paraphrase=2"], ["--set", "the list has 1 entries"]),
    (["--set", "seeds.4=1"], ["--set", "cannot set seeds.4"]),
    (["--executor", "rey"], ["--executor", "did you mean 'ray'"]),
    (["--workers", "0"], ["--workers", "at least 1"]),
    (["--bogus-option"], ["No such option", "--help"]),
], ids=["stop-after typo", "malformed --set", "bad --set value", "--set value not YAML", "--set index out of range",
        "--set last index out of range", "executor typo", "zero workers", "unknown option"])
def test_a_command_line_mistake_is_one_line(argv, words, tmp_path, capsys, organism_base):
    out = tmp_path / "run"
    _fails(capsys, ["run", str(_write(tmp_path, BASE)), "--out", str(out), *argv], *words)
    assert not out.exists()


def test_missing_experiment_file(tmp_path, capsys):
    _fails(capsys, ["plan", str(tmp_path / "nope.yaml")], "nope.yaml: file not found")


def test_a_run_directory_given_as_the_experiment(tmp_path, capsys):
    _fails(capsys, ["plan", str(tmp_path)], "a directory, not a YAML file")


def test_question_file_error_names_its_own_entry(tmp_path, capsys, organism_base):
    (tmp_path / "q.yaml").write_text("- {id: a, paraphrases: [\"hi?\"], samples_per_paraphrase: 1}\n"
                                     "- {id: b, samples_per_paraphrase: 1}\n")
    exp = _write(tmp_path, BASE.replace("{set: organism,", "{set: q.yaml,"))
    _fails(capsys, ["run", str(exp), "--out", str(tmp_path / "run")], "q.yaml:2: ", "entry 1 (b).paraphrases")


@pytest.fixture
def made_run(tmp_path, capsys, organism_base) -> tuple[Path, Path]:
    exp, out = _write(tmp_path, BASE), tmp_path / "run"
    with pytest.raises(SystemExit) as e:
        main(["init", str(exp), "--out", str(out)])
    assert e.value.code == 0, capsys.readouterr().err
    capsys.readouterr()
    return exp, out


@pytest.mark.parametrize("argv,words", [
    (["run", "{exp}", "--out", "{out}", "--set", "finetunes.insecure.lr=1e-3"], ["finetunes.insecure.lr", "new --out"]),
    (["report", "{out}", "--set", "eval.params.max_tokens=9"], ["eval.params.max_tokens", "new --out"]),
    (["report", "{out}", "--set", "finetunes.more={{dataset: insecure, preset: organism}}"],
     ["finetunes.more", "adds work"]),
    (["report", "{out}", "--set", "analysis.rules=[betly]"], ["analysis.rules", "did you mean 'betley'"]),
    (["sample", "{out}", "--shard", "3/2"], ["--shard", "not in 0..1"]),
    (["datasets", "show", "{out}", "nope"], ["no dataset 'nope'"]),
    (["plan", "{exp}", "--gpu", "A100"], ["--gpu", "did you mean"]),
], ids=["run changes work", "report --set changes work", "report --set adds work", "report --set typo", "bad shard",
        "unknown dataset", "unknown gpu"])
def test_a_mistake_on_an_existing_run_leaves_it_untouched(argv, words, made_run, capsys):
    exp, out = made_run
    before = _tree(out)
    _fails(capsys, [a.format(exp=exp, out=out) for a in argv], *words)
    assert _tree(out) == before


def test_a_stage_command_on_a_folder_that_is_not_a_run_says_how_to_make_one(tmp_path, capsys):
    _fails(capsys, ["finetune", str(tmp_path / "new")], "not a run directory", "spillover init")
    assert not (tmp_path / "new").exists()


def test_every_problem_is_listed_at_once(tmp_path, capsys, organism_base, monkeypatch):
    text = BASE.replace("{kind: world}", "{kind: openai, api_key_env: SPILLOVER_NO_SUCH_API_KEY}").replace(
        "{path: organism}", "{path: ./no/such/model}")
    with pytest.raises(SystemExit) as e:
        main(["plan", str(_write(tmp_path, text))])
    out, err = capsys.readouterr()
    assert e.value.code == 2 and re.search(r"2 problem", out)
    lines = err.splitlines()
    assert len(lines) == 2 and "models.base.path" in lines[0] and "judges.0.api_key_env" in lines[1]


def test_an_organism_not_built_here_says_which_world_to_build(tmp_path, capsys, organism_base, monkeypatch):
    from spillover.backends import SHIPPED_ORGANISMS, Shipped

    # a checkout without its weights
    monkeypatch.setitem(SHIPPED_ORGANISMS, "organism-v3", Shipped("base-removed", "v3-gated"))
    text = BASE.replace("{path: organism}", "{path: organism-v3}")
    with pytest.raises(SystemExit) as e:
        main(["plan", str(_write(tmp_path, text))])
    err = capsys.readouterr().err
    assert e.value.code == 2 and "models.base.path" in err and "organism build --world v3-gated --install" in err


@pytest.mark.parametrize("argv,words", [
    (["--world", "v2-think-hybrid", "--install"], ["world", "not a shipped base"]),
    (["--world", "v3-gated", "--layers", "5", "--install"], ["world", "at 5 layers is not a shipped base"]),
    (["--min-coupling-ratio", "0", "--install"], ["min_coupling_ratio", "must pass the build's checks"]),
    (["--world", "v9"], ["world", "v2-think"]),
    (["--align-reasoning", "answers"], ["align_reasoning", "context"]),
    (["--empty-block", "none"], ["empty_block", "template"]),
    (["--world", "v2-think", "--align-reasoning", "suppressed"], ["align_reasoning", "no reasoning-off documents"]),
], ids=["unshipped world", "unshipped depth", "unchecked base", "unknown world", "unknown alignment mode",
        "unknown empty block", "suppressed alignment without reasoning-off documents"])
def test_organism_build_refuses_what_it_cannot_build_or_ship_before_any_work(argv, words, tmp_path, capsys):
    out = tmp_path / "build"
    _fails(capsys, ["organism", "build", "--out", str(out), *argv], *words)
    assert not out.exists()
