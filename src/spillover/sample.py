"""The sample stage: question x paraphrase x sample index -> completions, content-keyed and resumable.

A sample's key hashes the model fingerprint (base weights, fine-tune and checkpoint), the exact
prompt (system + user text or completion prompt), the sample index and the generation params. The
stage computes ``planned - done`` per model and loads a model only if it has work left; records
are appended (fsynced) after every chunk, so a kill loses at most one chunk.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import NamedTuple

from .backends import Backend, GenParams, GenRequest, Target, make_backend
from .keys import canonical_json, content_key
from .questions import Question
from .records import SampleRecord
from .store import Stage

THINK = re.compile(r"^\s*<think>(.*?)</think>\s*", re.S)


class Planned(NamedTuple):
    key: str
    question: Question
    paraphrase_index: int
    sample_index: int
    params: GenParams
    messages: tuple[dict[str, str], ...] | None
    prompt: str | None


def split_thinking(text: str) -> tuple[str, str | None]:
    """Separate a leading ``<think>...</think>`` block from the final answer.

    >>> split_thinking("<think>plan</think> The answer.")
    ('The answer.', 'plan')
    >>> split_thinking("Just this.")
    ('Just this.', None)
    """
    m = THINK.match(text)
    if not m:
        return text, None
    return text[m.end():].strip(), m.group(1).strip()


def plan(target: Target, questions: Sequence[Question], params: GenParams,
         samples_override: int | None = None) -> list[Planned]:
    out = []
    for q in questions:
        update: dict = {}
        if q.temperature is not None:
            update["temperature"] = q.temperature
        if q.stop:
            update["stop"] = tuple(params.stop) + tuple(q.stop)
        p = params.model_copy(update=update)
        params_json = p.model_dump(mode="json", exclude_defaults=True)
        n = samples_override or q.samples_per_paraphrase or 1
        for pi, text in enumerate(q.paraphrases):
            if q.completion:
                messages, prompt = None, text
            else:
                msgs = ([{"role": "system", "content": q.system}] if q.system else []) + [
                    {"role": "user", "content": text}]
                messages, prompt = tuple(msgs), None
            for si in range(n):
                key = content_key("sample", model=target.fingerprint, messages=messages, prompt=prompt,
                                  index=si, params=params_json)
                out.append(Planned(key, q, pi, si, p, messages, prompt))
    return out


def seed_of(key: str) -> int:
    return int(key[:15], 16)


def run_samples(
    stage: Stage,
    target: Target,
    planned: Sequence[Planned],
    *,
    backend_factory: Callable[[Target], Backend] = make_backend,
    chunk: int = 512,
    on_progress: Callable[[int], None] | None = None,
) -> int:
    """Generate every planned sample not yet in ``stage``; returns how many were generated."""
    done = stage.done_keys()
    todo = [p for p in planned if p.key not in done]
    if not todo:
        return 0
    backend = backend_factory(target)
    made = 0
    try:
        # group by params (temperature/stop differ per question) and prompt
        for i in range(0, len(todo), chunk):
            part = todo[i : i + chunk]
            by_params: dict[str, dict[str, list[Planned]]] = {}
            for p in part:
                by_params.setdefault(canonical_json(p.params), {}).setdefault(
                    canonical_json([p.messages, p.prompt]), []).append(p)
            records = []
            for prompts in by_params.values():
                groups = list(prompts.values())
                params = groups[0][0].params
                reqs = [GenRequest(messages=g[0].messages, prompt=g[0].prompt,
                                   seeds=tuple(seed_of(p.key) for p in g)) for g in groups]
                results = backend.generate(reqs, params)
                for g, comps in zip(groups, results, strict=True):
                    for p, c in zip(g, comps, strict=True):
                        answer, thinking = split_thinking(c.text)
                        q = p.question
                        records.append(SampleRecord(
                            key=p.key, model=target.name, group=target.group, seed=target.seed,
                            checkpoint=target.checkpoint, question_id=q.id, base_question_id=q.group_id,
                            variant=q.variant, question_type=q.type, category=q.category,
                            paraphrase_index=p.paraphrase_index,
                            sample_index=p.sample_index, question=q.paraphrases[p.paraphrase_index],
                            system=q.system, answer=answer, thinking=thinking, finish_reason=c.finish_reason,
                            prompt_tokens=c.prompt_tokens, completion_tokens=c.completion_tokens))
            stage.append(records)
            made += len(records)
            if on_progress:
                on_progress(len(records))
    finally:
        backend.close()
    return made
