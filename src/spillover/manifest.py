"""The run manifest: resolved config, package versions, git revision, with secrets redacted."""

from __future__ import annotations

import platform
import re
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

from .config import ADDITIVE, RESULTS_ONLY, Experiment, JudgeSpec
from .config.base import APPENDS, GROWS
from .errors import SpilloverError
from .store import atomic_write_json

SECRET_KEY = re.compile(r"(api[_-]?key|token|secret|password)$", re.I)
PACKAGES = ("spillover", "torch", "transformers", "peft", "tokenizers", "safetensors", "openai", "numpy",
            "pandas", "scipy", "pydantic", "vllm", "bandit")


URL_CREDENTIALS = re.compile(r"(?<=://)[^/@\s]+@")


def redact(obj: Any) -> Any:
    """Replace values under secret-looking keys (``api_key``, ``token``...) and credentials inside URLs;
    ``*_env`` names stay.

    >>> redact({"api_key": "sk-1", "api_key_env": "OPENAI_API_KEY", "x": [{"token": "t"}]})
    {'api_key': '[redacted]', 'api_key_env': 'OPENAI_API_KEY', 'x': [{'token': '[redacted]'}]}
    >>> redact({"base_url": "http://user:pass@host:8000/v1"})
    {'base_url': 'http://[redacted]@host:8000/v1'}
    """
    if isinstance(obj, dict):
        return {k: "[redacted]" if SECRET_KEY.search(str(k)) and obj[k] else redact(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [redact(v) for v in obj]
    if isinstance(obj, str):
        return URL_CREDENTIALS.sub("[redacted]@", obj)
    return obj


def git_revision() -> str | None:
    try:
        here = Path(__file__).resolve().parent
        out = subprocess.run(["git", "-C", str(here), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5)
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def versions() -> dict[str, str]:
    out = {}
    for p in PACKAGES:
        try:
            out[p] = metadata.version(p)
        except metadata.PackageNotFoundError:
            continue
    return out


def config_diff(a: Any, b: Any, prefix: str = "") -> list[str]:
    """Dotted paths where two resolved configs differ.

    >>> config_diff({"a": {"b": 1, "c": [1, 2]}, "d": 1}, {"a": {"b": 2, "c": [1, 3]}, "e": 1})
    ['a.b', 'a.c.1', 'd', 'e']
    """
    if isinstance(a, dict) and isinstance(b, dict):
        return [d for k in sorted({*a, *b}, key=str) for d in config_diff(a.get(k), b.get(k), f"{prefix}{k}.")]
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [d for i, (x, y) in enumerate(zip(a, b, strict=True)) for d in config_diff(x, y, f"{prefix}{i}.")]
    return [] if a == b else [prefix.rstrip(".")]


def work_diff(old: Experiment, new: Experiment) -> list[str]:
    """Fields that differ and change work (anything outside ``RESULTS_ONLY`` and ``ADDITIVE``, and not an
    addition to one of ``GROWS`` or ``APPENDS``)."""
    was, now = old.model_dump(mode="json"), new.model_dump(mode="json")
    return [d for d in config_diff(was, now) if d.split(".")[0] not in RESULTS_ONLY
            and not any(d == a or d.startswith(f"{a}.") for a in ADDITIVE) and not only_adds(d, was, now)]


def only_adds(path: str, old: dict[str, Any], new: dict[str, Any]) -> bool:
    """Whether a differing ``path`` is a whole entry that ``old`` lacks under one of ``GROWS``, or one of
    ``APPENDS`` that ``new`` extends at its end.

    >>> only_adds("finetunes.insecure-2", {"finetunes": {"insecure": {}}}, {})
    True
    >>> only_adds("finetunes.insecure", {"finetunes": {"insecure": {}}}, {}), only_adds("eval.x", {"eval": {}}, {})
    (False, False)
    >>> q = {"eval": {"questions": [{"set": "main"}]}}
    >>> only_adds("eval.questions", q, {"eval": {"questions": [{"set": "main"}, {"set": "identity"}]}})
    True
    >>> only_adds("eval.questions", q, {"eval": {"questions": [{"set": "identity"}, {"set": "main"}]}})
    False
    """
    if path in APPENDS:
        before, after = _at(old, path), _at(new, path)
        return isinstance(before, list) and isinstance(after, list) and after[: len(before)] == before
    top, _, name = path.partition(".")
    return top in GROWS and bool(name) and "." not in name and name not in (old.get(top) or {})


def _at(config: dict[str, Any], path: str) -> Any:
    value: Any = config
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def write_manifest(path: Path, exp: Experiment, source: str | None, overrides: list[str]) -> dict[str, Any]:
    """Write the manifest, or update it when only results-only fields (``analysis``...) changed. A run
    directory belongs to one config of work: any other change is an error naming the fields."""
    import json

    resolved = redact(exp.model_dump(mode="json"))
    old: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {}
    if old:
        check_same_work(path, exp)
        if old["config"] == resolved:
            return old
        history = [*old.get("history", []), {"config": old["config"], "source": old.get("source"),
                                             "overrides": old.get("overrides", [])}]
        manifest = {**old, "config": resolved, "source": source, "overrides": overrides, "history": history}
    else:
        manifest = {"config": resolved, "source": source, "overrides": overrides, "git_revision": git_revision(),
                    "versions": versions(), "python": sys.version.split()[0], "platform": platform.platform()}
    atomic_write_json(path, manifest)
    return manifest


def check_same_work(path: Path, exp: Experiment) -> None:
    """Raise naming the fields when ``exp`` would do other work than the run at ``path`` was made for."""
    if not path.exists():
        return
    try:
        old = read_config(path.parent)
    except (ValueError, KeyError):
        raise SpilloverError("the manifest is not readable by this version; use a new --out", file=path) from None
    if fields := work_diff(old, exp):
        shown = ", ".join(fields[:5]) + (f" and {len(fields) - 5} more" if len(fields) > 5 else "")
        raise SpilloverError(f"this run was made with other work settings ({shown}); use a new --out, or change "
                             f"only {', '.join(RESULTS_ONLY)} (or add to {', '.join(GROWS + APPENDS)})", file=path,
                             field=fields[0])


def read_config(run_dir: Path) -> Experiment:
    import json

    path = Path(run_dir) / "manifest.json"
    if not path.exists():
        raise SpilloverError("not a run directory (no manifest.json): make one with `spillover init EXPERIMENT.yaml "
                             "--out RUN`, or use `spillover run`", file=path)
    return Experiment.model_validate(json.loads(path.read_text())["config"])


def reconfigure(run_dir: Path, overrides: list[str]) -> Experiment:
    """Apply ``--set`` overrides to a run's config; only results-only fields may change (else an error
    naming the fields, and the manifest stays as it was)."""
    import json

    from .yamlio import apply_overrides, validate

    path = Path(run_dir) / "manifest.json"
    read_config(run_dir)
    old = json.loads(path.read_text())
    exp = validate(Experiment, apply_overrides(json.loads(json.dumps(old["config"])), overrides), file="--set")
    now = redact(exp.model_dump(mode="json"))
    if added := [d for d in config_diff(old["config"], now) if only_adds(d, old["config"], now)]:
        raise SpilloverError(f"{added[0]} adds work, which a report does not do: add it to the experiment file and "
                             "`spillover run` it into this run", file=path, field=added[0])
    write_manifest(path, exp, old.get("source"), [*old.get("overrides", []), *overrides])
    return exp


def parse_judge(text: str) -> JudgeSpec:
    """A judge given on the command line as a YAML mapping, e.g. ``{kind: openai, model: gpt-4.1}``."""
    import yaml

    from .yamlio import validate

    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise SpilloverError(f"not YAML: {getattr(e, 'problem', e)}", field="--judge") from None
    return validate(JudgeSpec, data, file="--judge")


def add_judge(run_dir: Path, spec: JudgeSpec) -> Experiment:
    """Append a judge to a run's config: the one work change a finished run takes, since it only adds
    judgments of the samples it has."""
    import json

    path = Path(run_dir) / "manifest.json"
    exp = read_config(run_dir)
    if spec in exp.judges:
        return exp
    old = json.loads(path.read_text())
    new = exp.model_copy(update={"judges": [*exp.judges, spec]})
    history = [*old.get("history", []), {"config": old["config"], "source": old.get("source"),
                                         "overrides": old.get("overrides", [])}]
    atomic_write_json(path, {**old, "config": redact(new.model_dump(mode="json")), "history": history})
    return new
