"""spillover's question sets as an Inspect AI task, scored by spillover's own judges.

``inspect eval src/spillover/interop/inspect_task.py@spillover_questions --model openai/gpt-4o-mini
-T set=main -T judge=openai -T judge_model=gpt-4o-2024-08-06`` samples every paraphrase (``epochs``
times) with Inspect's model providers and scores each answer with the same judge, prompts and rule as a
spillover run: ``aligned`` and ``coherent`` (0-100, None without a score) and ``misaligned`` (1/0 under
the rule; answers the rule does not count score 0 on ``counted``). Not guaranteed: the ``betley`` rule's
minimum of 5 coherent answers per question is a per-question filter a per-sample scorer cannot apply;
read per-question rates from a spillover run for that.
"""

from __future__ import annotations

import asyncio
import math
from typing import Any

from inspect_ai import Task, task
from inspect_ai.dataset import MemoryDataset, Sample
from inspect_ai.model import ChatMessageSystem, ChatMessageUser
from inspect_ai.scorer import Score, Target, mean, scorer
from inspect_ai.solver import TaskState, generate

from ..config import JudgeSpec
from ..judge import JudgeItem, make_judge, templates
from ..questions import UNJUDGED, load_set
from ..records import SampleRecord
from ..rules import get_rule

METRICS = ("aligned", "coherent")


@task
def spillover_questions(set: str = "main", judge: str = "openai", judge_model: str = "gpt-4o-2024-08-06",
                        base_url: str | None = None, rule: str = "betley", epochs: int = 1) -> Task:
    """A shipped question set (or a question file) as an Inspect task with spillover's judge as scorer."""
    samples = []
    for q in load_set(set, default_samples=1):
        if q.type in UNJUDGED or q.completion:
            continue
        for i, text in enumerate(q.paraphrases):
            messages: list[Any] = [ChatMessageSystem(content=q.system)] if q.system else []
            samples.append(Sample(input=[*messages, ChatMessageUser(content=text)], id=f"{q.id}-{i}",
                                  metadata={"question_id": q.id, "base_question_id": q.group_id, "variant": q.variant,
                                            "paraphrase_index": i}))
    spec = JudgeSpec(kind=judge, model=judge_model, base_url=base_url)  # type: ignore[arg-type]
    return Task(dataset=MemoryDataset(samples, name=f"spillover-{set}"), solver=generate(),
                scorer=spillover_judge(spec.model_dump_json(), rule), epochs=epochs)


@scorer(metrics={"aligned": [mean()], "coherent": [mean()], "misaligned": [mean()], "counted": [mean()]})
def spillover_judge(judge_spec: str, rule: str = "betley") -> Any:
    """Score an answer with a spillover judge (a ``JudgeSpec`` as JSON) under a misalignment rule."""
    spec = JudgeSpec.model_validate_json(judge_spec)
    judge = make_judge(spec)
    tmpl = templates(spec, judge)
    r = get_rule(rule)

    async def score(state: TaskState, target: Target) -> Score:
        meta = state.metadata
        system = next((m.text for m in state.messages if m.role == "system"), None)
        sample = SampleRecord(
            key=str(state.sample_id), model=str(state.model), group=str(state.model), seed=None, checkpoint=None,
            question_id=meta["question_id"], base_question_id=meta["base_question_id"], variant=meta["variant"],
            paraphrase_index=meta["paraphrase_index"], sample_index=state.epoch, question=state.input_text,
            system=system, answer=state.output.completion, finish_reason="stop", prompt_tokens=0, completion_tokens=0)
        verdicts = await asyncio.to_thread(judge.judge, [JudgeItem(sample, m, tmpl[m]) for m in METRICS])
        values = {m: v.score.score for m, v in zip(METRICS, verdicts, strict=True)}
        return Score(value={**{m: values[m] if values[m] is not None else math.nan for m in METRICS},
                            **_misaligned(values, r)}, answer=sample.answer,
                     explanation="; ".join(f"{m}: {v.score.reason}" for m, v in zip(METRICS, verdicts, strict=True)
                                           if v.score.reason))

    return score


def _misaligned(values: dict[str, float | None], rule: Any) -> dict[str, float]:
    """``misaligned`` (1/0) and whether the rule counts the answer at all (coherent and scored)."""
    a, c = values["aligned"], values["coherent"]
    if a is None or c is None or not bool(rule.coherent(c)):
        return {"misaligned": 0.0, "counted": 0.0}
    return {"misaligned": float(bool(rule.misaligned(a))), "counted": 1.0}
