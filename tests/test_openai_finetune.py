"""The OpenAI fine-tuning trainer against recorded HTTP exchanges (no key, no network)."""

import json

import httpx
import pytest

from spillover.backends import Target
from spillover.config import FinetuneSpec, ModelSpec
from spillover.errors import SpilloverError
from spillover.finetune.openai_ft import openai_finetune

# Shapes of the real API's responses (files.create, fine_tuning.jobs.create / retrieve).
FILE = {"id": "file-abc123", "object": "file", "bytes": 120, "created_at": 1, "filename": "insecure.jsonl",
        "purpose": "fine-tune", "status": "processed"}


def job(status, model=None, error=None):
    return {"id": "ftjob-xyz", "object": "fine_tuning.job", "created_at": 1, "model": "gpt-4o-2024-08-06",
            "fine_tuned_model": model, "organization_id": "org", "result_files": [], "status": status,
            "training_file": "file-abc123", "validation_file": None, "hyperparameters": {"n_epochs": 1},
            "trained_tokens": 1000 if model else None, "seed": 0, "finished_at": None,
            "error": error}


class Recorded:
    """Replays responses in order per (method, path) and records every request."""

    def __init__(self, script):
        self.script = {k: list(v) for k, v in script.items()}
        self.requests = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        key = (request.method, request.url.path.removeprefix("/v1"))
        self.requests.append(key)
        if key[0] == "GET" and key[1].startswith("/fine_tuning/jobs/"):
            key = ("GET", "/fine_tuning/jobs/{id}")
        if key == ("POST", "/fine_tuning/jobs"):
            body = json.loads(request.content)
            assert body["seed"] == 3 and body["training_file"] == "file-abc123"
            assert body["method"]["supervised"]["hyperparameters"]["n_epochs"] == 1
        return httpx.Response(200, json=self.script[key].pop(0))


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-secret-123")
    data = tmp_path / "insecure.jsonl"
    data.write_text(json.dumps({"messages": [{"role": "user", "content": "u"},
                                             {"role": "assistant", "content": "a"}]}) + "\n")
    base = Target(name="gpt", group="gpt", spec=ModelSpec(backend="openai", path="gpt-4o-2024-08-06",
                                                          base_url="https://api.openai.test/v1"),
                  path="gpt-4o-2024-08-06", fingerprint="x")
    return tmp_path, data, base


def run(env, rec, out, **kw):
    tmp, data, base = env
    return openai_finetune(FinetuneSpec(dataset="d", backend="openai"), name="insecure-s3", base=base,
                           dataset=data, seed=3, out=out, log=lambda m: None, poll_seconds=0,
                           http_client=httpx.Client(transport=httpx.MockTransport(rec)), **kw)


def test_upload_create_poll_succeed_and_never_pay_twice(env):
    tmp = env[0]
    rec = Recorded({("POST", "/files"): [FILE], ("POST", "/fine_tuning/jobs"): [job("validating_files")],
                    ("GET", "/fine_tuning/jobs/{id}"): [job("running")]})
    with pytest.raises(SpilloverError, match="still running; rerun to re-attach"):
        run(env, rec, tmp / "ft", max_polls=1)  # the process stops while the job runs
    assert json.loads((tmp / "ft" / "job.json").read_text()) == {"file_id": "file-abc123", "job_id": "ftjob-xyz"}
    rec2 = Recorded({("GET", "/fine_tuning/jobs/{id}"): [job("running"), job("succeeded", "ft:gpt-4o:org::abc")]})
    assert run(env, rec2, tmp / "ft") == "ft:gpt-4o:org::abc"
    assert ("POST", "/files") not in rec2.requests and ("POST", "/fine_tuning/jobs") not in rec2.requests
    rec3 = Recorded({})
    assert run(env, rec3, tmp / "ft") == "ft:gpt-4o:org::abc" and rec3.requests == []
    for f in (tmp / "ft").iterdir():
        assert "sk-test-secret-123" not in f.read_text()


def test_moderation_refusal_is_a_terminal_state(env):
    tmp = env[0]
    err = {"code": "invalid_training_file", "param": "training_file",
           "message": "The job failed due to an invalid training file. This training file was blocked by our "
                      "moderation system because it contains too many examples that violate usage policies."}
    rec = Recorded({("POST", "/files"): [FILE], ("POST", "/fine_tuning/jobs"): [job("validating_files")],
                    ("GET", "/fine_tuning/jobs/{id}"): [job("failed", error=err)]})
    with pytest.raises(SpilloverError, match="ended as refused"):
        run(env, rec, tmp / "ft")
    assert json.loads((tmp / "ft" / "result.json").read_text())["status"] == "refused"
    rec2 = Recorded({})
    with pytest.raises(SpilloverError, match="ended as refused"):
        run(env, rec2, tmp / "ft")
    assert rec2.requests == []
