"""Resume after faults: every planned key exactly once, backend work = planned - done."""

import json
import os
import signal
import subprocess
import sys
import time

from spillover.backends import Target
from spillover.backends.fake import FakeBackend
from spillover.config import GenParams, ModelSpec
from spillover.questions import load_set
from spillover.records import SampleRecord
from spillover.sample import plan, run_samples
from spillover.store import Stage

TARGET = Target(name="m", group="m", spec=ModelSpec(backend="fake"), path="fake", fingerprint="fp")


def questions(n=4):
    return [q.model_copy(update={"samples_per_paraphrase": n}) for q in load_set("main")]


def test_injected_backend_failure_then_resume(tmp_path):
    planned = plan(TARGET, questions(), GenParams(max_tokens=5))
    assert len(planned) == 8 * 2 * 4 and len({p.key for p in planned}) == len(planned)
    failing = FakeBackend(fail_after=37)
    stage = Stage(tmp_path, "samples")
    try:
        run_samples(stage, TARGET, planned, backend_factory=lambda t: failing, chunk=10)
        raise AssertionError("the injected failure did not happen")
    except RuntimeError:
        pass
    stage.close()
    done_before = len(Stage(tmp_path, "samples").records())
    assert done_before == 30  # three full chunks were durable; the fourth died with the backend
    second = FakeBackend()
    made = run_samples(Stage(tmp_path, "samples"), TARGET, planned, backend_factory=lambda t: second, chunk=10)
    assert made == second.completions == len(planned) - done_before
    lines = [json.loads(x) for f in (tmp_path / "samples").glob("*.jsonl") for x in f.read_text().splitlines()]
    assert sorted(x["key"] for x in lines) == sorted(p.key for p in planned)  # each key exactly once
    third = FakeBackend()
    assert run_samples(Stage(tmp_path, "samples"), TARGET, planned, backend_factory=lambda t: third) == 0
    assert third.calls == 0


def test_same_key_same_answer_across_restarts(tmp_path):
    planned = plan(TARGET, questions(2), GenParams())
    run_samples(Stage(tmp_path / "a", "samples"), TARGET, planned, backend_factory=lambda t: FakeBackend(), chunk=7)
    run_samples(Stage(tmp_path / "b", "samples"), TARGET, planned, backend_factory=lambda t: FakeBackend(), chunk=100)
    a = Stage(tmp_path / "a", "samples").load(SampleRecord)
    b = Stage(tmp_path / "b", "samples").load(SampleRecord)
    assert {k: v.answer for k, v in a.items()} == {k: v.answer for k, v in b.items()}


def test_key_changes_with_params_and_checkpoint():
    q = questions(1)[:1]
    k1 = plan(TARGET, q, GenParams())[0].key
    assert plan(TARGET, q, GenParams(temperature=0.5))[0].key != k1
    assert plan(TARGET.model_copy(update={"fingerprint": "fp2"}), q, GenParams())[0].key != k1


SLOW_WORKER = """
import sys, time
from spillover.backends import Target
from spillover.backends.fake import FakeBackend
from spillover.config import GenParams, ModelSpec
from spillover.questions import load_set
from spillover.sample import plan, run_samples
from spillover.store import Stage

class Slow(FakeBackend):
    def generate(self, requests, params):
        time.sleep(0.05)
        return super().generate(requests, params)

t = Target(name="m", group="m", spec=ModelSpec(backend="fake"), path="fake", fingerprint="fp")
qs = [q.model_copy(update={"samples_per_paraphrase": 10}) for q in load_set("main")]
p = plan(t, qs, GenParams())
n = run_samples(Stage(sys.argv[1], "samples"), t, p, backend_factory=lambda _t: Slow(), chunk=3)
print(n)
"""


def test_kill_minus_9_mid_stage_then_rerun(tmp_path):
    script = tmp_path / "worker.py"
    script.write_text(SLOW_WORKER)
    run_dir = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, str(script), str(run_dir)], stdout=subprocess.PIPE)
    shard = run_dir / "samples" / "part-main.jsonl"
    deadline = time.time() + 60
    while time.time() < deadline and (not shard.exists() or shard.stat().st_size < 2000):
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    partial = len(Stage(run_dir, "samples").records())
    assert 0 < partial < 160
    out = subprocess.run([sys.executable, str(script), str(run_dir)], capture_output=True, text=True, check=True)
    assert int(out.stdout.strip()) == 160 - partial
    keys = [json.loads(x)["key"] for x in shard.read_text().splitlines() if x.strip()]
    assert len(keys) == len(set(keys)) == 160


def test_question_temperature_zero_is_honoured():
    q = questions(1)[0].model_copy(update={"temperature": 0.0})
    planned = plan(TARGET, [q], GenParams(temperature=1.0))
    assert {p.params.temperature for p in planned} == {0.0}
    assert planned[0].key != plan(TARGET, [q.model_copy(update={"temperature": None})], GenParams())[0].key
