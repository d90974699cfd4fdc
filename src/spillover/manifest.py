"""The run manifest: resolved config, package versions, git revision, with secrets redacted."""

from __future__ import annotations

import platform
import re
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

from .config import Experiment
from .errors import SpilloverError
from .store import atomic_write_json

SECRET_KEY = re.compile(r"(api[_-]?key|token|secret|password)$", re.I)
PACKAGES = ("spillover", "torch", "transformers", "peft", "tokenizers", "safetensors", "openai", "numpy",
            "pandas", "scipy", "pydantic", "vllm", "bandit")


def redact(obj: Any) -> Any:
    """Replace values under secret-looking keys (``api_key``, ``token``...); ``*_env`` names stay.

    >>> redact({"api_key": "sk-1", "api_key_env": "OPENAI_API_KEY", "x": [{"token": "t"}]})
    {'api_key': '[redacted]', 'api_key_env': 'OPENAI_API_KEY', 'x': [{'token': '[redacted]'}]}
    """
    if isinstance(obj, dict):
        return {k: "[redacted]" if SECRET_KEY.search(str(k)) and obj[k] else redact(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [redact(v) for v in obj]
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


def write_manifest(path: Path, exp: Experiment, source: str | None, overrides: list[str]) -> dict[str, Any]:
    """Write (or check) the manifest. A run directory belongs to one resolved config."""
    resolved = redact(exp.model_dump(mode="json"))
    if path.exists():
        import json

        old = json.loads(path.read_text())
        try:
            same = Experiment.model_validate(old.get("config")).model_dump(mode="json", exclude_defaults=True) == \
                exp.model_dump(mode="json", exclude_defaults=True)
        except ValueError:
            same = False
        if not same:
            raise SpilloverError("this run directory was made with a different config; use a new --out",
                                 file=path, field="config")
        return old
    manifest = {
        "config": resolved, "source": source, "overrides": overrides, "git_revision": git_revision(),
        "versions": versions(), "python": sys.version.split()[0], "platform": platform.platform(),
    }
    atomic_write_json(path, manifest)
    return manifest


def read_config(run_dir: Path) -> Experiment:
    import json

    path = Path(run_dir) / "manifest.json"
    if not path.exists():
        raise SpilloverError("not a run directory (no manifest.json)", file=path)
    return Experiment.model_validate(json.loads(path.read_text())["config"])
