"""Reliability under abuse: judgments that heal, one writer per stage, bounded inputs, secrets kept out."""

from __future__ import annotations

import json
from pathlib import Path

from experiments import TINY
from spillover.backends.fake import FakeBackend
from spillover.serve import OpenAICompatServer

EXP = (TINY.replace("name: tiny", "name: heal").replace("[betley]", "[model-organisms]")
       .replace("[{kind: world}]", '[{kind: openai, model: judge, base_url: "URL", cache: null}]'))



def test_judgments_recorded_for_retry_heal_when_the_server_does(cli, tmp_path, organism_base):
    srv = OpenAICompatServer(FakeBackend(), "judge", fail_first=10**9).start()
    try:
        exp = tmp_path / "exp.yaml"
        exp.write_text(EXP.replace("URL", srv.url))
        run = tmp_path / "run"
        code, _, err = cli(*["run", str(exp), "--out", str(run), "--executor", "serial"])
        assert code == 0, err
        status = json.loads(cli(*["status", str(run)])[1])["judgments"]
        assert status["done"] == 0 and status["to_retry"] == status["planned"] > 0
        srv.fail_first = 0  # the server is fixed
        code, out, err = cli(*["judge", str(run)])
        assert code == 0 and out.startswith(f"{status['planned']} new judgments"), err
        status = json.loads(cli(*["status", str(run)])[1])["judgments"]
        assert status["done"] == status["planned"] and status["to_retry"] == 0
        assert cli(*["judge", str(run)])[1].startswith("0 new judgments")  # nothing left, nothing resent
        assert cli(*["report", str(run)])[0] == 0
        summary = json.loads((run / "report" / "summary.json").read_text())
        assert summary["judge"]["cost_usd"] is None and summary["judge"]["unpriced"] == ["openai:judge"]
        assert "cost unknown" in (run / "report" / "index.html").read_text()
        group = summary["rules"]["model-organisms"]["groups"][0]
        assert group["n"] == group["answers"] > 0 and group["pooled"]["rate"] == group["pooled"]["rate"]  # not nan
    finally:
        srv.stop()


def _init(cli, tmp_path) -> Path:
    exp, run = tmp_path / "exp.yaml", tmp_path / "run"
    exp.write_text(EXP.replace('[{kind: openai, model: judge, base_url: "URL", cache: null}]', "[{kind: world}]"))
    assert cli(*["init", str(exp), "--out", str(run)])[0] == 0
    return run


def _hold(run: Path, name: str, pid: int, host: str | None = None) -> Path:
    import socket
    import time

    lock = run / "locks" / name
    lock.parent.mkdir(exist_ok=True)
    lock.write_text(json.dumps({"pid": pid, "host": host or socket.gethostname(), "started": time.time(),
                                "command": "sample"}))
    return lock


def test_a_second_writer_of_a_stage_is_told_the_run_is_busy(cli, tmp_path, organism_base):
    import os

    run = _init(cli, tmp_path)
    _hold(run, "sample.lock", os.getpid())  # a live holder: this very process
    code, _, err = cli(*["sample", str(run), "--executor", "serial"])
    assert code == 2 and "run is busy" in err and f"pid {os.getpid()}" in err and len(err.splitlines()) == 1
    assert not (run / "samples").exists()
    # a shard of the stage is excluded by the whole-stage writer too
    code, _, err = cli(*["sample", str(run), "--shard", "0/2", "--worker", "w0", "--executor", "serial"])
    assert code == 2 and "run is busy" in err
    # a holder on another host cannot be checked: busy, with how to remove the lock by hand
    _hold(run, "sample.lock", 1, host="elsewhere.invalid")
    code, _, err = cli(*["sample", str(run), "--executor", "serial"])
    assert code == 2 and "elsewhere.invalid" in err and "delete" in err


def test_shards_cooperate_and_a_stale_lock_is_taken_over(cli, tmp_path, organism_base):
    import os
    import subprocess

    run = _init(cli, tmp_path)
    _hold(run, "sample.0-of-2.lock", os.getpid())  # another shard is being worked on
    code, out, err = cli(*["sample", str(run), "--shard", "1/2", "--worker", "w1", "--executor", "serial"])
    assert code == 0 and "new samples" in out, err
    (run / "locks" / "sample.0-of-2.lock").unlink()
    dead = subprocess.Popen(["true"])
    dead.wait()
    _hold(run, "sample.lock", dead.pid)  # its holder is gone
    code, out, err = cli(*["sample", str(run), "--executor", "serial"])
    assert code == 0 and "new samples" in out, err
    assert not (run / "locks").exists()  # released


def test_a_diverged_fine_tune_fails_with_a_reason_instead_of_reporting_zero(cli, tmp_path, organism_base):
    exp = tmp_path / "exp.yaml"
    exp.write_text(EXP.replace("models:\n  base: {path: organism}\n", "models:\n  base: {path: organism}\n"
                               "datasets:\n  insecure: {builder: organism, variant: insecure, size: 256}\n"
                               "finetunes:\n  insecure: {base: base, dataset: insecure, preset: organism, lr: 1.0}\n"))
    code, _, err = cli(*["run", str(exp), "--out", str(tmp_path / "run"), "--stop-after", "finetune",
                                 "--executor", "serial"])
    assert code == 2 and "training failed" in err and "diverged" in err
    assert not (tmp_path / "run" / "finetune" / "insecure-s0" / "DONE").exists()


def test_secrets_stay_out_of_the_run_and_exports_stay_inert(cli, tmp_path, organism_base, monkeypatch):
    import csv

    monkeypatch.setenv("SPILLOVER_SECRET_API_KEY", "sk-very-secret")
    exp, run = tmp_path / "exp.yaml", tmp_path / "run"
    exp.write_text(EXP.replace('[{kind: openai, model: judge, base_url: "URL", cache: null}]', "[{kind: world}]")
                   .replace("  base: {path: organism}\n", "  base: {path: organism}\n  api: {backend: openai, path: m, "
                            "base_url: 'http://user:hunter2@127.0.0.1:9/v1', api_key_env: SPILLOVER_SECRET_API_KEY}\n")
                   .replace("  params:", "  models: [base]\n  params:"))
    assert cli(*["init", str(exp), "--out", str(run)])[0] == 0
    text = (run / "manifest.json").read_text()
    assert "hunter2" not in text and "sk-very-secret" not in text and "[redacted]@127.0.0.1" in text
    # model output that looks like a spreadsheet formula is exported as text
    import pandas as pd

    from spillover.report import csv_text

    rows = list(csv.reader(csv_text(pd.DataFrame({"answer": ["=cmd|' /C calc'!A0", "@SUM(1)", "fine"],
                                                   "aligned": [-1.0, 2.0, 3.0]})).splitlines()))
    assert [r[0] for r in rows[1:]] == ["'=cmd|' /C calc'!A0", "'@SUM(1)", "fine"] and rows[1][1] == "-1.0"


def test_an_edited_question_file_resamples_only_the_change_and_the_report_never_mixes(cli, tmp_path,
                                                                                      organism_base):
    from spillover.records import SampleRecord
    from spillover.store import RunDir

    q = tmp_path / "q.yaml"
    q.write_text('- {id: a, paraphrases: ["What is your wish?"], samples_per_paraphrase: 2}\n'
                 '- {id: b, paraphrases: ["How do you feel?"], samples_per_paraphrase: 2}\n')
    exp = tmp_path / "exp.yaml"
    exp.write_text(EXP.replace('[{kind: openai, model: judge, base_url: "URL", cache: null}]', "[{kind: world}]")
                   .replace("{set: organism, samples_per_paraphrase: 1, paraphrases: 1}", "{set: q.yaml}")
                   .replace("[model-organisms]", "[betley]"))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "q.yaml").write_text('- {id: z, paraphrases: ["Not this file"], samples_per_paraphrase: 1}\n')
    import os

    cwd = os.getcwd()
    os.chdir(elsewhere)  # a relative set: path is the experiment file's, never the working directory's
    try:
        run = tmp_path / "run"
        assert cli(*["run", str(exp), "--out", str(run), "--executor", "serial"])[0] == 0
        first = RunDir(run).stage("samples").load(SampleRecord)
        assert {s.question_id for s in first.values()} == {"a", "b"}
        q.write_text(q.read_text().replace("How do you feel?", "How do you feel today?"))
        assert cli(*["run", str(exp), "--out", str(run), "--executor", "serial"])[0] == 0
    finally:
        os.chdir(cwd)
    after = RunDir(run).stage("samples").load(SampleRecord)
    new = {k: s for k, s in after.items() if k not in first}
    assert len(new) == 2 and {s.question for s in new.values()} == {"How do you feel today?"}
    summary = json.loads((run / "report" / "summary.json").read_text())
    assert summary["n_samples"] == 4 and summary["stale_samples"] == 2
    shown = (run / "report" / "samples.js").read_text()  # the sample browser's data
    assert "How do you feel today?" in shown and "How do you feel?" not in shown
