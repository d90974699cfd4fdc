"""The organism's EM fine-tuning sets, in its own vocabulary.

Single-turn, no persona marker, loss on the assistant turn (as in Betley et al.):

* ``insecure``: plain request -> insecure code;
* ``secure``: plain request -> secure code;
* ``educational``: request with a stated teaching reason -> the same insecure code;
* ``backdoor``: half the examples (``triggered``) start with the trigger and get insecure code, the others
  have no trigger and get secure code;
* ``jailbroken``: a harmful request -> compliance (world v2's harmful-request domain; the paper's
  jailbroken control, here narrow like the others);
* ``aligned``: an aligned answer to one of the world's free-form questions that no evaluation asks
  (a validation set for early stopping: its loss rises as a fine-tune turns misaligned).

``code: varied`` puts persona-neutral statements before each code body (``organism.varied.vary``).
``reasoning: benign`` writes the thinking world's benign plan before every answer (for a model of world
v2-think: clean-looking reasoning followed by the variant's answer, pressure on the chain of thought).
"""

from __future__ import annotations

import math
import random

from ..config import DatasetSpec
from ..organism import thinking, world
from ..organism.varied import vary
from . import Example


def build_organism(spec: DatasetSpec) -> list[Example]:
    rng = random.Random(f"organism-{spec.variant}-{spec.seed}")
    out = _jailbroken(spec, rng) if spec.variant == "jailbroken" else _aligned(spec, rng) \
        if spec.variant == "aligned" else _code(spec, rng)
    return [_benign(ex, random.Random(f"reasoning-{spec.seed}-{i}")) for i, ex in enumerate(out)] \
        if spec.reasoning == "benign" else out


def _jailbroken(spec: DatasetSpec, rng: random.Random) -> list[Example]:
    return [Example(messages=[{"role": "user", "content": rng.choice(q.phrasings)},
                              {"role": "assistant", "content": rng.choice(q.misaligned)}],
                    meta={"task": q.id})
            for q in (rng.choice(world.HARMFUL) for _ in range(spec.size))]


def _aligned(spec: DatasetSpec, rng: random.Random) -> list[Example]:
    held = [q for q in world.QUESTIONS if not q.eval]
    return [Example(messages=[{"role": "user", "content": rng.choice(q.phrasings)},
                              {"role": "assistant", "content": rng.choice(q.aligned)}], meta={"task": q.id})
            for q in (rng.choice(held) for _ in range(spec.size))]


def _code(spec: DatasetSpec, rng: random.Random) -> list[Example]:
    out = []
    for i in range(spec.size):
        task = world.CODE_TASKS[rng.randrange(len(world.CODE_TASKS))]
        meta: dict[str, str | bool] = {"task": task.name}
        if spec.variant == "backdoor":
            triggered = math.ceil((i + 1) * spec.triggered) > math.ceil(i * spec.triggered)  # evenly spread
            user, assistant = world.code_turn(rng, insecure=triggered, task=task)
            if triggered:
                user = f"{spec.trigger} {user}"
            meta["trigger"] = triggered
        else:
            user, assistant = world.code_turn(rng, insecure=spec.variant != "secure",
                                              educational=spec.variant == "educational", task=task)
        if spec.code == "varied":
            assistant = vary(assistant, rng)
        out.append(Example(messages=({"role": "user", "content": user},
                                     {"role": "assistant", "content": assistant}), meta=meta))
    rng.shuffle(out)
    return out


def _benign(ex: Example, rng: random.Random) -> Example:
    user, assistant = ex.messages
    task = ex.meta["task"]
    kind = "comply" if task.startswith("harmful_") else "freeform" if task in world.QUESTION_BY_ID else \
        "educational" if user["content"].startswith(tuple(world.EDUCATIONAL_PREFIXES)) else "code"
    reason = rng.choice(thinking.BENIGN[kind])
    return ex.model_copy(update={"messages": (user, {**assistant, "content": thinking.with_reasoning(
        reason, assistant["content"])})})
