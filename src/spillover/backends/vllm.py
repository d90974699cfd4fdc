"""vLLM on a GPU: ``n`` samples per prompt in one request, LoRA adapters hot-swapped per request.

One engine per base model is kept for the life of the process, so the checkpoints and seeds of a
fine-tune (LoRA adapters over the same base) are sampled by the same engine, each request naming its
adapter. Imported only inside this module; needs the ``vllm`` extra and a CUDA GPU.

Not tested in this project's CI (no GPU): the code follows vLLM's offline ``LLM`` API.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from typing import Any

from ..errors import MissingExtraError
from .base import Completion, GenParams, GenRequest, Message, TopLogprobs, chat_prompt

_ENGINES: dict[tuple[str, bool], Any] = {}


def _engine(path: str, trust_remote_code: bool, max_lora_rank: int, **engine_kw: Any) -> Any:
    try:
        from vllm import LLM
    except ImportError:
        raise MissingExtraError("vllm", "the vllm backend") from None
    key = (path, trust_remote_code)
    if key not in _ENGINES:
        _ENGINES[key] = LLM(model=path, enable_lora=True, max_lora_rank=max_lora_rank,
                            trust_remote_code=trust_remote_code, **engine_kw)
    return _ENGINES[key]


class VLLMBackend:
    name = "vllm"

    def __init__(self, path: str, *, adapter: str | None = None, max_lora_rank: int = 64,
                 trust_remote_code: bool = False, **engine_kw: Any) -> None:
        self.llm = _engine(path, trust_remote_code, max_lora_rank, **engine_kw)
        self.tokenizer = self.llm.get_tokenizer()
        self.adapter = adapter

    def _lora(self) -> Any:
        if self.adapter is None:
            return None
        from vllm.lora.request import LoRARequest

        # a stable id per adapter folder: vLLM caches adapters by id
        return LoRARequest(self.adapter, zlib.crc32(self.adapter.encode()) % (2**31 - 1) + 1, self.adapter)

    def _prompt(self, r: GenRequest, thinking: bool | None = None) -> str:
        return r.prompt if r.prompt is not None else chat_prompt(self.tokenizer, r.messages or (), thinking)

    def generate(self, requests: Sequence[GenRequest], params: GenParams) -> list[list[Completion]]:
        from vllm import SamplingParams

        sps = [SamplingParams(n=len(r.seeds), temperature=params.temperature, top_p=params.top_p,
                              max_tokens=params.max_tokens, seed=r.seeds[0], stop=list(params.stop) or None)
               for r in requests]
        prompts = [self._prompt(r, params.thinking) for r in requests]
        results = self.llm.generate(prompts, sps, lora_request=self._lora(), use_tqdm=False)
        return [[Completion(text=o.text.strip(), finish_reason="length" if o.finish_reason == "length" else "stop",
                            prompt_tokens=len(res.prompt_token_ids or []), completion_tokens=len(o.token_ids))
                 for o in res.outputs] for res in results]

    def score(self, items: Sequence[tuple[Sequence[Message], str]]) -> list[float]:
        raise NotImplementedError("score with the hf backend on the same weights")

    def top_logprobs(self, prompts: Sequence[Sequence[Message]], k: int = 20) -> list[TopLogprobs]:
        from vllm import SamplingParams

        texts = [self._prompt(GenRequest(messages=tuple(m), seeds=(0,))) for m in prompts]
        res = self.llm.generate(texts, SamplingParams(max_tokens=1, temperature=0, logprobs=k),
                                lora_request=self._lora(), use_tqdm=False)
        out = []
        for r in res:
            lp = r.outputs[0].logprobs[0]
            out.append(TopLogprobs(tokens={v.decoded_token: v.logprob for v in lp.values()}, text=r.outputs[0].text))
        return out

    def close(self) -> None:
        """The engine stays loaded for the next target on the same base model."""
