"""vLLM on a GPU: ``n`` samples per prompt in one request and LoRA adapters hot-swapped per request.

Imported only inside :func:`make_vllm`; needs the ``vllm`` extra and a CUDA GPU. Untested on this
project's CPU CI (no GPU); the code follows vLLM's offline ``LLM`` API.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..errors import MissingExtraError
from .base import Completion, GenParams, GenRequest, Message, TopLogprobs


class VLLMBackend:
    name = "vllm"

    def __init__(self, path: str, *, adapter: str | None = None, max_lora_rank: int = 32,
                 trust_remote_code: bool = False, **engine_kw: Any) -> None:
        try:
            from vllm import LLM
        except ImportError:
            raise MissingExtraError("vllm", "the vllm backend") from None
        self.llm = LLM(model=path, enable_lora=adapter is not None, max_lora_rank=max_lora_rank,
                       trust_remote_code=trust_remote_code, **engine_kw)
        self.tokenizer = self.llm.get_tokenizer()
        self.adapter = adapter

    def _lora(self) -> Any:
        if self.adapter is None:
            return None
        from vllm.lora.request import LoRARequest

        return LoRARequest("adapter", 1, self.adapter)

    def generate(self, requests: Sequence[GenRequest], params: GenParams) -> list[list[Completion]]:
        from vllm import SamplingParams

        out = []
        for r in requests:
            prompt = r.prompt if r.prompt is not None else self.tokenizer.apply_chat_template(
                list(r.messages or ()), tokenize=False, add_generation_prompt=True)
            sp = SamplingParams(n=len(r.seeds), temperature=params.temperature, top_p=params.top_p,
                                max_tokens=params.max_tokens, seed=r.seeds[0], stop=list(params.stop) or None)
            res = self.llm.generate([prompt], sp, lora_request=self._lora(), use_tqdm=False)[0]
            out.append([Completion(text=o.text.strip(), finish_reason="length" if o.finish_reason == "length"
                                   else "stop", prompt_tokens=len(res.prompt_token_ids or []),
                                   completion_tokens=len(o.token_ids)) for o in res.outputs])
        return out

    def score(self, items: Sequence[tuple[Sequence[Message], str]]) -> list[float]:
        raise NotImplementedError("score with the hf backend on the same weights")

    def top_logprobs(self, prompts: Sequence[Sequence[Message]], k: int = 20) -> list[TopLogprobs]:
        from vllm import SamplingParams

        texts = [self.tokenizer.apply_chat_template(list(m), tokenize=False, add_generation_prompt=True)
                 for m in prompts]
        res = self.llm.generate(texts, SamplingParams(max_tokens=1, temperature=0, logprobs=k),
                                lora_request=self._lora(), use_tqdm=False)
        out = []
        for r in res:
            lp = r.outputs[0].logprobs[0]
            out.append(TopLogprobs(tokens={v.decoded_token: v.logprob for v in lp.values()}, text=r.outputs[0].text))
        return out

    def close(self) -> None:
        pass
