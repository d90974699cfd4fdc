"""What this machine has, probed without downloading or loading anything: importable extras, a CUDA GPU,
the local Hugging Face cache, and whether a server accepts a TCP connection (one short attempt per
distinct host, cached for the process). Not guaranteed: a cached model may be incomplete, a reachable
server may answer wrongly.
"""

from __future__ import annotations

import importlib.util
import socket
import threading
from collections.abc import Sequence
from functools import cache
from pathlib import Path

from ..errors import SpilloverError, install_hint

Problems = list[SpilloverError]
EXTRAS = {"torch": "train", "transformers": "train", "peft": "train", "vllm": "vllm", "trl": "trl",
          "bandit": "codecheck", "ray": "ray"}
"""Importable module -> the extra that installs it."""
HUB = ("huggingface.co", 443)


def has_module(name: str) -> bool:
    return importlib.util.find_spec(name) is not None


def need_modules(modules: Sequence[str], what: str, field: str) -> Problems:
    """A problem naming the extra for the first module of ``modules`` that is missing."""
    for m in modules:
        if not has_module(m):
            return [SpilloverError(f"{what} needs the `{EXTRAS[m]}` extra: {install_hint(EXTRAS[m])}", field=field)]
    return []


@cache
def reachable(host: str, port: int, timeout: float = 2.0) -> bool:
    """Whether a TCP connection to ``host:port`` opens within ``timeout`` (DNS included)."""
    ok: list[bool] = []

    def connect() -> None:
        try:
            socket.create_connection((host, port), timeout=timeout).close()
            ok.append(True)
        except OSError:
            pass

    t = threading.Thread(target=connect, daemon=True)
    t.start()
    t.join(timeout + 0.5)
    return bool(ok)


@cache
def cuda_available() -> bool:
    """Whether torch sees a CUDA GPU (torch is imported only where an NVIDIA driver is present)."""
    if not has_module("torch") or not (Path("/proc/driver/nvidia").exists() or Path("/dev/nvidiactl").exists()):
        return False
    import torch

    return bool(torch.cuda.is_available())


def hub_cached(repo: str) -> bool:
    """Whether a hub model's config is in the local Hugging Face cache (no network)."""
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return False
    try:
        return isinstance(try_to_load_from_cache(repo, "config.json"), str)
    except ValueError:  # not a valid repo id
        return False


def looks_local(path: str) -> bool:
    return path.startswith(("/", ".", "~")) or Path(path).exists() or path.count("/") > 1
