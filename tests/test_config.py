import subprocess
import sys
from pathlib import Path

import pytest

from spillover.config import load_experiment
from spillover.errors import SpilloverError

GOOD = """\
name: t
seeds: [0, 1]
datasets:
  ins: {builder: organism, variant: insecure, size: 64}
finetunes:
  insecure: {dataset: ins, preset: organism}
"""


def write(tmp_path, text):
    p = tmp_path / "exp.yaml"
    p.write_text(text)
    return p


def test_good_file_and_overrides(tmp_path):
    exp = load_experiment(write(tmp_path, GOOD), ["finetunes.insecure.lr=1e-4", "seeds=[3]"])
    assert exp.finetunes["insecure"].lr == 1e-4 and exp.seeds == [3]
    assert exp.finetunes["insecure"].batch_size == 32  # from the preset


@pytest.mark.parametrize("text, where", [
    ("name: t\nseeds: [0\n", ":3:"),                                         # malformed YAML
    ("name: t\nsedes: [0]\n", ":2: sedes: unknown key"),                      # unknown key
    ("name: t\nthreads: many\n", ":2: threads:"),                             # wrong type
    (GOOD.replace("size: 64", "size: -1"), ":4: datasets.ins.size:"),         # out of range, nested
    (GOOD.replace("dataset: ins", "dataset: nope"), "no dataset named 'nope'"),
    ("name: ../evil\n", "not a safe name"),
    (GOOD.replace("size: 64", "size: 64, turns: 3"), ":4: datasets.ins.turns: turns exists for the join_turns"),
])
def test_bad_input_names_file_line_field(tmp_path, text, where):
    p = write(tmp_path, text)
    with pytest.raises(SpilloverError) as e:
        load_experiment(p)
    assert str(p) in str(e.value) and where in str(e.value)


def test_missing_file(tmp_path):
    with pytest.raises(SpilloverError, match="file not found"):
        load_experiment(tmp_path / "nope.yaml")


def test_cli_bad_input_is_one_line_and_exit_2(tmp_path):
    p = write(tmp_path, "name: t\nsedes: [0]\n")
    r = subprocess.run([sys.executable, "-m", "spillover.cli", "run", str(p), "--out", str(tmp_path / "run")],
                       capture_output=True, text=True)
    assert r.returncode == 2
    assert r.stderr.strip().count("\n") == 0 and "sedes: unknown key" in r.stderr
    assert not (tmp_path / "run").exists()


def test_yaml_is_loaded_safely(tmp_path):
    p = write(tmp_path, "name: !!python/object/apply:os.system ['echo pwned']\n")
    with pytest.raises(SpilloverError, match="invalid YAML"):
        load_experiment(p)


def test_lora_preset_fills_and_explicit_fields_win(tmp_path):
    text = GOOD.replace("preset: organism", "preset: betley-lora, lora: {r: 8}")
    ft = load_experiment(write(tmp_path, text)).finetunes["insecure"]
    assert ft.method == "lora" and ft.lora.r == 8 and ft.lora.alpha == 64 and ft.lora.rslora
    assert ft.lr == 1e-5 and ft.batch_size * ft.grad_accum == 16 and ft.schedule == "linear"


def test_rank_zero_is_rejected_before_training(tmp_path):
    text = GOOD.replace("preset: organism", "method: lora, lora: {r: 0}")
    with pytest.raises(SpilloverError, match="lora.r"):
        load_experiment(write(tmp_path, text))


@pytest.mark.parametrize("name", sorted(p.name for p in (Path(__file__).resolve().parent.parent / "examples").glob(
    "*.yaml")))
def test_shipped_examples_validate(name):
    from pathlib import Path

    exp = load_experiment(Path(__file__).resolve().parent.parent / "examples" / name)
    assert exp.finetunes


def test_every_name_the_config_accepts_has_a_registered_implementation():
    """Each registry and the config's Literal of names agree (a name is checked when the config loads)."""
    from typing import get_args

    from spillover.backends import BACKENDS
    from spillover.config import DatasetSpec, JudgeSpec, ModelSpec
    from spillover.datasets import BUILDERS
    from spillover.execute import EXECUTORS
    from spillover.judge import JUDGES

    def names(model, field):
        return set(get_args(model.model_fields[field].annotation))

    assert names(JudgeSpec, "kind") == set(JUDGES)
    assert names(DatasetSpec, "builder") == set(BUILDERS)
    assert names(ModelSpec, "backend") == set(BACKENDS)
    assert set(EXECUTORS) == {"serial", "local", "ray"}
    from spillover.config import QuestionSource
    from spillover.questions.variants import VARIANTS

    assert names_of_list(QuestionSource, "variants") == {"plain", *VARIANTS}
    from spillover.organism.recipe import BuildConfig
    from spillover.organism.worlds import WORLDS

    assert names(BuildConfig, "world") == set(WORLDS)


def names_of_list(model, field):
    from typing import get_args

    (literal,) = get_args(model.model_fields[field].annotation)
    return set(get_args(literal))
