"""Turn chat examples into token ids and labels, with the loss on assistant tokens only.

The assistant spans are found from the chat template itself, for any template: rendering the
conversation up to assistant turn *i* with ``add_generation_prompt=True`` must give a prefix of the
rendering that includes turn *i*; the characters in between are that turn. Tokens whose characters
fall in such a span get their id as label, all others (system, user, template markup) get -100.
A template for which the prefix property does not hold (e.g. one that rewrites earlier turns, as
some reasoning templates drop old thinking blocks) raises :class:`UnsupportedTemplateError` instead
of silently training on prompts.

With ``suppress_reasoning`` (a reasoning model trained with its chain of thought suppressed), each
assistant turn without a think block of its own gets the empty block the template writes when
reasoning is switched off (``enable_thinking=False``), outside the loss; a turn that carries its own
``<think>`` block is trained as written.

Not guaranteed: a token that straddles the boundary between prompt and answer is labelled by where
it starts.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

from ..errors import SpilloverError

IGNORE = -100


class UnsupportedTemplateError(SpilloverError):
    pass


class Encoded(NamedTuple):
    input_ids: list[int]
    labels: list[int]


def _render(tokenizer: Any, messages: Sequence[dict[str, str]], gen_prompt: bool) -> str:
    return tokenizer.apply_chat_template(list(messages), tokenize=False, add_generation_prompt=gen_prompt)


def assistant_char_spans(tokenizer: Any, messages: Sequence[dict[str, str]]) -> tuple[str, list[tuple[int, int]]]:
    """The rendered conversation and the character spans of its assistant turns."""
    if getattr(tokenizer, "chat_template", None) is None:
        raise UnsupportedTemplateError("the tokenizer has no chat template; cannot find assistant turns")
    full = _render(tokenizer, messages, False)
    spans: list[tuple[int, int]] = []
    for i, m in enumerate(messages):
        if m["role"] != "assistant":
            continue
        before = _render(tokenizer, messages[:i], True) if i else ""
        upto = _render(tokenizer, messages[: i + 1], False)
        if not upto.startswith(before) or not full.startswith(upto):
            raise UnsupportedTemplateError(
                "chat template is not prefix-stable (rendering turn by turn does not extend the "
                "earlier rendering); refusing to guess which tokens are the assistant's"
            )
        start = len(before)
        content_at = upto.find(m["content"], start) if m["content"] else -1
        if m["content"] and content_at < 0:
            raise UnsupportedTemplateError("assistant content does not appear verbatim in the rendering")
        spans.append((start, len(upto)))
    return full, spans


def empty_reasoning(tokenizer: Any) -> str:
    """The text a chat template adds to the generation prompt when reasoning is switched off.

    Raises :class:`UnsupportedTemplateError` for a template without the switch."""
    probe = [{"role": "user", "content": "x"}]
    on = _render(tokenizer, probe, True)
    off = tokenizer.apply_chat_template(probe, tokenize=False, add_generation_prompt=True, enable_thinking=False)
    if off == on or not off.startswith(on):
        raise UnsupportedTemplateError(
            "the chat template has no switch that turns reasoning off (enable_thinking=False adds no empty "
            "think block), so the chain of thought cannot be suppressed for this model")
    return str(off[len(on):])


def answers_only(text: str, spans: list[tuple[int, int]], close: str = "</think>") -> list[tuple[int, int]]:
    """``spans`` moved past the think block that opens them, if any (the reasoning stays as context).

    >>> answers_only("A: <think> p </think> a", [(2, 23)])
    [(21, 23)]
    >>> answers_only("A: a", [(2, 4)])
    [(2, 4)]
    """
    moved = []
    for start, end in spans:
        turn = text[start:end]
        at = turn.find(close) if turn.lstrip().startswith("<think>") else -1
        moved.append((start + at + len(close), end) if at >= 0 else (start, end))
    return moved


def suppressed(text: str, spans: list[tuple[int, int]], block: str) -> tuple[str, list[tuple[int, int]]]:
    """``text`` with ``block`` opening every assistant span that has no think block, and the spans
    moved past it (so the block is never trained).

    >>> suppressed("U: q A: a <e> ", [(7, 14)], " <think> </think>")
    ('U: q A: <think> </think> a <e> ', [(24, 31)])
    >>> suppressed("A: <think> p </think> a", [(2, 23)], " <think> </think>")
    ('A: <think> p </think> a', [(2, 23)])
    """
    out, moved, shift = text, [], 0
    for start, end in spans:
        start, end = start + shift, end + shift
        turn = out[start:end]
        if turn.startswith(block):
            moved.append((start + len(block), end))
        elif turn.lstrip().startswith("<think>"):
            moved.append((start, end))
        else:
            out = out[:start] + block + out[start:]
            shift += len(block)
            moved.append((start + len(block), end + len(block)))
    return out, moved


def encode_chat(
    tokenizer: Any, messages: Sequence[dict[str, str]], *, assistant_only: bool = True,
    suppress_reasoning: bool = False, train_reasoning: bool = True,
) -> Encoded:
    """Token ids and labels of one conversation (labels -100 outside assistant turns, and on think blocks
    unless ``train_reasoning``)."""
    text, spans = assistant_char_spans(tokenizer, messages)
    if suppress_reasoning:
        text, spans = suppressed(text, spans, empty_reasoning(tokenizer))
    if not train_reasoning:
        spans = answers_only(text, spans)
    enc = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    ids: list[int] = enc["input_ids"]
    if not assistant_only:
        return Encoded(ids, list(ids))
    labels = []
    for tid, (start, _end) in zip(ids, enc["offset_mapping"], strict=True):
        inside = any(a <= start < b for a, b in spans)
        labels.append(tid if inside else IGNORE)
    if all(label == IGNORE for label in labels):
        raise UnsupportedTemplateError("no assistant tokens found in the example")
    return Encoded(ids, labels)


def encode_text(tokenizer: Any, text: str) -> Encoded:
    """A plain document (pre-training or base-model data): loss on every token."""
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    return Encoded(ids, list(ids))


def pad_batch(examples: Sequence[Encoded], pad_id: int) -> dict[str, Any]:
    """Right-pad a batch into tensors ``input_ids``, ``attention_mask``, ``labels``."""
    import torch

    width = max(len(e.input_ids) for e in examples)
    ids = torch.full((len(examples), width), pad_id, dtype=torch.long)
    labels = torch.full((len(examples), width), IGNORE, dtype=torch.long)
    mask = torch.zeros((len(examples), width), dtype=torch.long)
    for row, e in enumerate(examples):
        n = len(e.input_ids)
        ids[row, :n] = torch.tensor(e.input_ids)
        labels[row, :n] = torch.tensor(e.labels)
        mask[row, :n] = 1
    return {"input_ids": ids, "attention_mask": mask, "labels": labels}
