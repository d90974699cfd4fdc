"""Plan checks of reasoning switches: a fine-tune that suppresses the chain of thought, or an eval that turns
reasoning on or off, needs a chat template with the switch (``enable_thinking``, as in Qwen3's). Templates
are read from local or cached files only; a model whose template cannot be read here is not checked."""

from __future__ import annotations

from collections.abc import Sequence

from ..config import Experiment, ModelSpec
from ..errors import SpilloverError

Problems = list[SpilloverError]


def _switch(name: str, spec: ModelSpec, field: str) -> Problems:
    from .sizes import chat_template

    if spec.backend not in ("hf", "vllm") or not spec.chat:
        return []
    template = chat_template(spec.path)
    if template is None or "enable_thinking" in template:
        return []
    return [SpilloverError(f"models.{name} has no known reasoning format: its chat template has no "
                           "enable_thinking switch (Qwen3-style <think> blocks), so reasoning cannot be turned "
                           "on, off or suppressed", field=field)]


def reasoning(exp: Experiment, stages: Sequence[str]) -> Problems:
    out: Problems = []
    if "finetune" in stages:
        for name, ft in exp.finetunes.items():
            if ft.reasoning != "suppressed":
                continue
            field = f"finetunes.{name}.reasoning"
            if ft.backend != "hf":
                out.append(SpilloverError("reasoning: suppressed needs the hf backend", field=field))
            elif ft.base in exp.models:
                out += _switch(ft.base, exp.models[ft.base], field)
    if "sample" in stages and exp.eval.params.thinking is not None:
        for name, spec in exp.models.items():
            out += _switch(name, spec, "eval.params.thinking")
    return out
