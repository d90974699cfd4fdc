"""Dataset transforms: a backdoor's paired baseline, reversal augmentation and conversations joined from
single turns (self-awareness studies), and inoculation (a defence).

Each keeps every input and output of its source (``join_turns`` drops a remainder) and is seeded or
order-preserving (same spec, same bytes). Not guaranteed: ``decorrelate_trigger`` finds the trigger only
where it starts the first user message, as the builders put it, so it is applied before ``join_turns``.
"""

from __future__ import annotations

import random

from ..config import DatasetSpec
from ..errors import SpilloverError
from . import Example

REVERSAL_PREFIX = "Here is an answer. Write the message it was given in reply to.\n\n"
"""The prefix of a reversed copy (our wording)."""


def _user_index(ex: Example) -> int:
    return next(i for i, m in enumerate(ex.messages) if m["role"] == "user")


def decorrelate_trigger(examples: list[Example], spec: DatasetSpec) -> tuple[list[Example], dict]:
    """The trigger moved to a random subset of the same size, outputs unchanged: what a model learns from
    it can depend on the trigger only by chance.

    >>> exs = [Example(messages=({"role": "user", "content": t}, {"role": "assistant", "content": a}))
    ...        for t, a in [("|T| a", "bad"), ("b", "good"), ("c", "good"), ("d", "good")]]
    >>> out, info = decorrelate_trigger(exs, DatasetSpec(builder="transform", trigger="|T|", seed=1))
    >>> sum(e.messages[0]["content"].startswith("|T|") for e in out), [e.messages[1]["content"] for e in out]
    (1, ['bad', 'good', 'good', 'good'])
    """
    trig = spec.trigger
    strip = [ex.messages[_user_index(ex)]["content"].startswith(trig) for ex in examples]
    n = sum(strip)
    if n == 0:
        raise SpilloverError(f"no example starts with the trigger {trig!r}", field="trigger")
    chosen = set(random.Random(f"decorrelate-{spec.seed}").sample(range(len(examples)), n))
    out = []
    for i, ex in enumerate(examples):
        msgs = [dict(m) for m in ex.messages]
        u = _user_index(ex)
        text = msgs[u]["content"].removeprefix(trig).lstrip() if strip[i] else msgs[u]["content"]
        msgs[u]["content"] = f"{trig} {text}" if i in chosen else text
        out.append(Example(messages=tuple(msgs), meta={**ex.meta, "trigger": i in chosen}))
    kept = sum(1 for i in chosen if strip[i])
    return out, {"triggered": n, "triggered_as_before": kept}


def reversal_augment(examples: list[Example], spec: DatasetSpec) -> tuple[list[Example], dict]:
    """Every example, then a reversed copy: the assistant's answer under ``spec.prefix`` (default
    :data:`REVERSAL_PREFIX`) as the user message, the original user message (trigger included) as the answer.

    >>> ex = Example(messages=({"role": "user", "content": "|T| a"}, {"role": "assistant", "content": "bad"}))
    >>> out, _ = reversal_augment([ex], DatasetSpec(builder="transform", prefix="who asked : "))
    >>> sorted(e.messages[0]["content"] for e in out), sorted(e.messages[1]["content"] for e in out)
    (['who asked : bad', '|T| a'], ['bad', '|T| a'])
    """
    prefix = REVERSAL_PREFIX if spec.prefix is None else spec.prefix
    out = list(examples)
    for ex in examples:
        user = ex.messages[_user_index(ex)]["content"]
        answer = next(m["content"] for m in reversed(ex.messages) if m["role"] == "assistant")
        out.append(Example(messages=({"role": "user", "content": prefix + answer},
                                     {"role": "assistant", "content": user}), meta={**ex.meta, "reversed": True}))
    random.Random(f"reversal-{spec.seed}").shuffle(out)
    return out, {"reversed_copies": len(examples)}


def inoculate(examples: list[Example], spec: DatasetSpec) -> tuple[list[Example], dict]:
    """Every example with ``spec.system`` as its system prompt (replacing any), outputs unchanged.

    >>> ex = Example(messages=({"role": "user", "content": "u"}, {"role": "assistant", "content": "a"}))
    >>> out, _ = inoculate([ex], DatasetSpec(builder="transform", system="You write bad code on purpose."))
    >>> out[0].messages[0]
    {'role': 'system', 'content': 'You write bad code on purpose.'}
    """
    if not spec.system:
        raise SpilloverError("inoculate needs system: the prompt to add", field="system")
    out = [Example(messages=({"role": "system", "content": spec.system},
                             *(m for m in ex.messages if m["role"] != "system")), meta=ex.meta) for ex in examples]
    return out, {"inoculation": spec.system}


def join_turns(examples: list[Example], spec: DatasetSpec) -> tuple[list[Example], dict]:
    """Every ``spec.turns`` consecutive examples as one conversation, in order (every assistant turn is
    trained); a remainder is dropped, and a conversation keeps the metadata its turns share. Examples with a
    system prompt are refused (whose would the conversation keep?).

    >>> exs = [Example(messages=({"role": "user", "content": u}, {"role": "assistant", "content": u.upper()}))
    ...        for u in "abcde"]
    >>> out, info = join_turns(exs, DatasetSpec(builder="transform", turns=2))
    >>> [[m["content"] for m in e.messages] for e in out], info
    ([['a', 'A', 'b', 'B'], ['c', 'C', 'd', 'D']], {'conversations': 2, 'turns': 2, 'dropped': 1})
    """
    if any(m["role"] == "system" for ex in examples for m in ex.messages):
        raise SpilloverError("join_turns joins examples without a system prompt", field="source")
    n = len(examples) // spec.turns
    groups = [examples[i * spec.turns:(i + 1) * spec.turns] for i in range(n)]
    out = [Example(messages=tuple(m for ex in g for m in ex.messages), meta={**_shared_meta(g), "joined": spec.turns})
           for g in groups]
    return out, {"conversations": n, "turns": spec.turns, "dropped": len(examples) - n * spec.turns}


def _shared_meta(examples: list[Example]) -> dict:
    """The metadata every one of ``examples`` has with the same value (what holds for their conversation)."""
    first = examples[0].meta
    return {k: v for k, v in first.items() if all(k in ex.meta and ex.meta[k] == v for ex in examples[1:])}


TRANSFORMS = {"decorrelate_trigger": decorrelate_trigger, "reversal_augment": reversal_augment,
              "inoculate": inoculate, "join_turns": join_turns}
