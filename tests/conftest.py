"""Shared fixtures: tiny models built locally (no downloads), one torch thread."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from spillover.testing import CHATML, build_tiny_qwen, trl_template  # noqa: F401


def _torch_one_thread() -> None:
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:
        pass


_torch_one_thread()


@pytest.fixture(scope="session")
def tiny_qwen(tmp_path_factory) -> Path:
    pytest.importorskip("transformers")
    return build_tiny_qwen(tmp_path_factory.mktemp("tiny-qwen"))


@pytest.fixture(scope="session")
def organism_base() -> Path:
    from spillover.backends import organism_base_path

    p = organism_base_path()
    if not (p / "model.safetensors").exists():
        pytest.skip("the organism base is not built (spillover organism build --install)")
    return p


@pytest.fixture
def cli(capsys):
    """Run the command line in this process: ``cli("run", "x.yaml")`` -> (exit code, stdout, stderr)."""
    from spillover.cli import main

    def run(*argv: str) -> tuple[int, str, str]:
        with pytest.raises(SystemExit) as e:
            main([str(a) for a in argv])
        out, err = capsys.readouterr()
        return int(e.value.code or 0), out, err

    return run
