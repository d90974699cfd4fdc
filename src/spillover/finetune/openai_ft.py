"""Fine-tuning through the OpenAI API (or a compatible provider).

Every id is written to ``OUT/job.json`` (atomically) the moment it exists: the uploaded file id
before the job is created, the job id right after. A restarted run re-attaches to that job instead
of uploading or paying twice. Terminal states are recorded in ``OUT/result.json``: ``succeeded``
(with the fine-tuned model name), ``failed``, ``cancelled``, or ``refused`` when the provider's
moderation blocked the training file; none of them is retried by a rerun. The API key comes from
the environment variable named in the model spec and is never written anywhere.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..backends import Target
from ..backends.openai_util import api_key
from ..config import FinetuneSpec
from ..errors import SpilloverError
from ..store import atomic_write_json

TERMINAL = {"succeeded", "failed", "cancelled"}
REFUSAL_HINTS = ("moderation", "usage polic", "safety")


def _client(target: Target, http_client: Any = None) -> Any:
    import openai

    return openai.OpenAI(base_url=target.spec.base_url, api_key=api_key(target.spec.api_key_env, target.spec.base_url),
                         http_client=http_client, max_retries=3)


def _state(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text()) if path.exists() else {}


def openai_finetune(spec: FinetuneSpec, *, name: str, base: Target, dataset: Path, seed: int, out: Path,
                    log: Callable[[str], None] = print, poll_seconds: float = 30.0, http_client: Any = None,
                    max_polls: int | None = None) -> str:
    """Run (or re-attach to) one fine-tuning job; return the fine-tuned model name."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    result = out / "result.json"
    if result.exists():
        res = json.loads(result.read_text())
        if res["status"] != "succeeded":
            raise SpilloverError(f"fine-tune {name} ended as {res['status']}: {res.get('error')}",
                                 file=result, field="status")
        return res["fine_tuned_model"]
    client = _client(base, http_client)
    state = _submit(client, spec, name=name, base=base, dataset=dataset, seed=seed, state_path=out / "job.json",
                    log=log)
    job = _wait(client, state["job_id"], poll_seconds, max_polls)
    error = job.error.message if getattr(job, "error", None) and job.error.message else None
    status = job.status
    if status == "failed" and error and any(h in error.lower() for h in REFUSAL_HINTS):
        status = "refused"
    atomic_write_json(result, {"status": status, "job_id": job.id, "fine_tuned_model": job.fine_tuned_model,
                               "error": error, "file_id": state["file_id"], "seed": seed,
                               "trained_tokens": getattr(job, "trained_tokens", None)})
    if status != "succeeded":
        raise SpilloverError(f"fine-tune {name} ended as {status}: {error}", file=result, field="status")
    (out / "DONE").write_text("")
    return job.fine_tuned_model


def _submit(client: Any, spec: FinetuneSpec, *, name: str, base: Target, dataset: Path, seed: int,
            state_path: Path, log: Callable[[str], None]) -> dict[str, Any]:
    """Upload the dataset and create the job, each once: the ids are saved as soon as the service gives them,
    so a rerun re-attaches instead of paying twice."""
    state = _state(state_path)
    if "file_id" not in state:
        with open(dataset, "rb") as f:
            uploaded = client.files.create(file=f, purpose="fine-tune")
        state["file_id"] = uploaded.id
        atomic_write_json(state_path, state)
        log(f"{name}: uploaded {dataset.name} as {uploaded.id}")
    if "job_id" not in state:
        o = spec.openai
        hp = {k: v for k, v in {"n_epochs": o.n_epochs if o.n_epochs is not None else spec.epochs,
                                "batch_size": o.batch_size,
                                "learning_rate_multiplier": o.learning_rate_multiplier}.items() if v is not None}
        job = client.fine_tuning.jobs.create(
            model=base.path, training_file=state["file_id"], seed=seed,
            suffix=(o.suffix or name)[:18],
            method={"type": "supervised", "supervised": {"hyperparameters": hp}})
        state["job_id"] = job.id
        atomic_write_json(state_path, state)
        log(f"{name}: created job {job.id}")
    return state


def _wait(client: Any, job_id: str, poll_seconds: float, max_polls: int | None) -> Any:
    """The job once it has ended; after ``max_polls`` polls, an error that says to rerun to re-attach."""
    polls = 0
    while True:
        job = client.fine_tuning.jobs.retrieve(job_id)
        if job.status in TERMINAL:
            return job
        polls += 1
        if max_polls is not None and polls >= max_polls:
            raise SpilloverError(f"job {job.id} still {job.status}; rerun to re-attach", field="finetune")
        time.sleep(poll_seconds)
