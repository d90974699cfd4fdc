"""`spillover plan`, `init`, `report --set` and the checks before work, through the command line."""

from __future__ import annotations

import json
import shutil
import socket
from pathlib import Path

import pytest

from experiments import TINY
from spillover.cli import main

ROOT = Path(__file__).resolve().parent.parent



def test_plan_of_the_gpu_example_offline_counts_and_costs_without_downloading(cli, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    code, out, err = cli(*["plan", str(ROOT / "examples/betley-qwen.yaml"), "--out", str(tmp_path / "r")])
    assert code == 2
    assert "133,760 samples" in out and "261,600 judge calls" in out and "27 checkpoints" in out
    assert "judge gpt-4o-2024-08-06" in out and "$" in out and "GB to train" in out
    problems = err.splitlines()
    assert any("models.qwen.path" in p and "HF_HUB_OFFLINE" in p for p in problems)
    assert any("judges.0.api_key_env" in p for p in problems)
    assert all(p.startswith("error: ") and "betley-qwen.yaml:" in p for p in problems)
    assert not (tmp_path / "hf").exists() and not (tmp_path / "r").exists()  # nothing fetched, nothing written




def test_an_organism_plan_has_a_time_from_the_organisms_cpu_rate_per_worker(organism_base):
    from spillover.config import load_experiment
    from spillover.plan.estimate import make_plan

    exp = load_experiment(ROOT / "examples/organism.yaml", [])
    one, two = (make_plan(exp, None, workers=w).hours for w in (1, 2))
    for h1, h2 in zip(one, two, strict=True):
        assert h1.hours is not None and h1.hours > 0 and "the organism at" in h1.basis and "x 1 workers" in h1.basis
        assert abs(h1.hours - 2 * h2.hours) < 1e-12  # twice the workers, half the time
    # 12 fine-tunes of 6,080 examples: minutes, not hours, at the measured rate
    assert 1 / 60 < one[0].hours < 0.5


def test_plan_counts_what_a_run_has_done_and_measures_answers(cli, tmp_path, organism_base):
    exp = tmp_path / "exp.yaml"
    exp.write_text(TINY)
    run = tmp_path / "run"
    code, out, err = cli(*["plan", str(exp), "--out", str(run)])
    assert code == 0, err
    planned = int(next(line for line in out.splitlines() if line.startswith("sample")).split()[1].replace(",", ""))
    assert planned > 0 and "assumed" in out
    code, _, err = cli(*["run", str(exp), "--out", str(run), "--stop-after", "sample", "--executor", "serial"])
    assert code == 0, err
    code, out, err = cli(*["plan", str(exp), "--out", str(run)])
    sample = next(line for line in out.splitlines() if line.startswith("sample")).split()
    assert code == 0 and sample[1] == sample[3] == f"{planned:,}"
    assert "(measured)" in out


def test_plan_counts_datasets_and_fine_tunes_a_folder_holds_without_a_manifest(cli, tmp_path, organism_base):
    exp = tmp_path / "exp.yaml"
    exp.write_text(TINY.replace("models:\n  base: {path: organism}\n", "models:\n  base: {path: organism}\n"
                                "datasets:\n  insecure: {builder: organism, variant: insecure, size: 64}\n"
                                "finetunes:\n  insecure: {base: base, dataset: insecure, preset: organism}\n"))
    run, copy = tmp_path / "run", tmp_path / "copy"
    code, _, err = cli(*["run", str(exp), "--out", str(run), "--stop-after", "finetune", "--executor", "serial"])
    assert code == 0, err
    for stage in ("datasets", "finetune"):  # copied by hand: a run into the copy reuses them
        shutil.copytree(run / stage, copy / stage)
    code, out, err = cli(*["plan", str(exp), "--out", str(copy)])
    counts = {line.split()[0]: line.split() for line in out.splitlines() if line.split()}
    assert code == 0, err
    assert counts["datasets"][1] == counts["datasets"][3] == "1" and counts["finetune"][1:4:2] == ["1", "1"]
    assert counts["sample"][3] == "0" and not (copy / "manifest.json").exists()  # the plan writes nothing


def test_init_then_stage_by_stage_then_report_set_reanalyses_only(cli, tmp_path, organism_base):
    exp = tmp_path / "exp.yaml"
    exp.write_text(TINY)
    run = tmp_path / "run"
    assert cli(*["init", str(exp), "--out", str(run)])[0] == 0
    for stage in ("sample", "judge", "report"):
        code, _, err = cli(*[stage, str(run)] + (["--executor", "serial"] if stage == "sample" else []))
        assert code == 0, (stage, err)
    samples = (run / "samples").stat().st_mtime_ns
    code, out, err = cli(*["report", str(run), "--set", "analysis.rules=[model-organisms]"])
    assert code == 0, err
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["config"]["analysis"]["rules"] == ["model-organisms"]
    assert manifest["overrides"] == ["analysis.rules=[model-organisms]"] and len(manifest["history"]) == 1
    summary = json.loads((run / "report" / "summary.json").read_text())
    assert summary["headline"] == "model-organisms" and list(summary["rules"]) == ["model-organisms"]
    assert (run / "samples").stat().st_mtime_ns == samples


@pytest.fixture
def paid_server():
    """A listener on 127.0.0.2: reachable, and not a local address the plan treats as free."""
    s = socket.socket()
    try:
        s.bind(("127.0.0.2", 0))
    except OSError:
        pytest.skip("127.0.0.2 is not bindable here")
    s.listen()
    yield f"http://127.0.0.2:{s.getsockname()[1]}/v1"
    s.close()


def test_run_refuses_a_costly_plan_without_yes(cli, tmp_path, organism_base, monkeypatch, paid_server):
    monkeypatch.setenv("SPILLOVER_TEST_API_KEY", "sk-test")
    exp = tmp_path / "exp.yaml"
    exp.write_text(TINY.replace("[{kind: world}]", f"[{{kind: openai, base_url: '{paid_server}', "
                                                   "api_key_env: SPILLOVER_TEST_API_KEY}]"))
    code, out, err = cli(*["plan", str(exp)])
    assert code == 0 and "judge gpt-4o-2024-08-06" in out, err
    code, _, err = cli(*["run", str(exp), "--out", str(tmp_path / "run"), "--confirm-above", "0.0001"])
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert code == 2 and len(errors) == 1 and "--yes" in errors[0] and err.splitlines()[-1] == errors[0]
    assert not (tmp_path / "run").exists()


def test_an_unexpected_error_is_one_line_unless_debug(cli, tmp_path, monkeypatch):
    import spillover.cli.commands as commands

    def broken(*a, **kw):
        raise RuntimeError("boom\nsecond line")

    monkeypatch.setattr(commands, "_preflight", broken)
    code, _, err = cli(*["plan", str(tmp_path / "x.yaml")])
    assert code == 1 and err.count("\n") == 1 and "RuntimeError: boom" in err and "--debug" in err
    with pytest.raises(RuntimeError):
        main(["--debug", "plan", str(tmp_path / "x.yaml")])
