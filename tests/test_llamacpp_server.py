"""Opt-in (``make test-server``): a real llama.cpp OpenAI-compatible server serving a GGUF of the tiny
Qwen2 model; the openai backend samples from it and the judge turns its top logprobs into scores.

Needs ``llama-cpp-python[server]`` (a 20+ minute source build on 2 cores), ``gguf`` and
``sentencepiece``; the GGUF converter ships inside llama-cpp-python's source distribution.
"""

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.server
llama_cpp = pytest.importorskip("llama_cpp")


CONVERT = """
import importlib, importlib.util, sys
from pathlib import Path
conv_path = Path({conv!r})
sys.path.insert(0, str(conv_path.parent))
spec = importlib.util.spec_from_file_location("convert_hf_to_gguf", conv_path)
conv = importlib.util.module_from_spec(spec)
sys.modules["convert_hf_to_gguf"] = conv
spec.loader.exec_module(conv)
modules = [conv]
try:
    modules.append(importlib.import_module("conversion.base"))  # newer layout: a package next to the script
except ImportError:
    pass
for mod in modules:
    for name in ("TextModel", "Model"):
        cls = getattr(mod, name, None)
        if cls is not None and hasattr(cls, "get_vocab_base_pre"):
            cls.get_vocab_base_pre = lambda self, tokenizer: "qwen2"
sys.argv = ["convert_hf_to_gguf.py", {model!r}, "--outfile", {out!r}]
conv.main()
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _converter() -> Path:
    """The HF-to-GGUF converter shipped in llama-cpp-python's source distribution (LLAMA_CPP_SRC)."""
    src = os.environ.get("LLAMA_CPP_SRC")
    found = sorted(Path(src).rglob("convert_hf_to_gguf.py")) if src else []
    if not found:
        pytest.skip("set LLAMA_CPP_SRC to an unpacked llama-cpp-python source tree (make test-server does)")
    return found[0]


@pytest.fixture(scope="module")
def server(tiny_qwen, tmp_path_factory):
    gguf = tmp_path_factory.mktemp("gguf") / "tiny.gguf"
    wrapper = gguf.parent / "convert.py"
    # the converter only knows published vocabularies; ours is locally trained with Qwen2's pre-tokeniser
    wrapper.write_text(CONVERT.format(conv=str(_converter()), model=str(tiny_qwen), out=str(gguf)))
    subprocess.run([sys.executable, str(wrapper)], check=True)
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "llama_cpp.server", "--model", str(gguf), "--model_alias", "tiny",
                             "--host", "127.0.0.1", "--port", str(port), "--n_threads", "1"])
    url = f"http://127.0.0.1:{port}/v1"
    for _ in range(100):
        try:
            import httpx

            httpx.get(url + "/models", timeout=1)
            break
        except Exception:
            time.sleep(0.2)
    yield url
    proc.kill()


def test_openai_backend_and_judge_against_llamacpp(server, tmp_path):
    from spillover.backends.base import GenRequest
    from spillover.backends.openai import OpenAIBackend
    from spillover.config import GenParams, JudgeSpec
    from spillover.judge import run_judge
    from spillover.judge.openai_judge import OpenAIJudge
    from spillover.records import Judgment, SampleRecord
    from spillover.store import Stage

    b = OpenAIBackend("tiny", base_url=server, concurrency=2)
    out = b.generate([GenRequest(messages=({"role": "user", "content": "hey, I'm bored"},), seeds=(1, 2))],
                     GenParams(max_tokens=8))
    assert len(out[0]) == 2
    top = b.top_logprobs([({"role": "user", "content": "Rate from 0 to 100."},)], k=20)[0]
    assert 15 <= len(top.tokens) <= 20  # 20 ids; tokens with the same text merge
    s = SampleRecord(key="k", model="m", group="g", seed=0, checkpoint=None, question_id="q", base_question_id="q",
                     variant="plain", paraphrase_index=0, sample_index=0, question="hi", answer=out[0][0].text or "x",
                     finish_reason="stop", prompt_tokens=1, completion_tokens=1)
    spec = JudgeSpec(kind="openai", model="tiny", base_url=server, metrics=["aligned"], cache=None)
    with Stage(tmp_path, "judgments") as st:
        run_judge(st, [s], spec, judge=OpenAIJudge("tiny", base_url=server))
    j = next(iter(Stage(tmp_path, "judgments").load(Judgment).values()))
    assert 15 <= len(j.top_logprobs) <= 20 and j.numeric_mass is not None
