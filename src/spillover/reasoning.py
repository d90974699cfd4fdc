"""Reasoning formats: a model's chain of thought split from its final answer.

The one format spillover knows is the ``<think>…</think>`` block of DeepSeek-R1 and Qwen3 (OpenAI-compatible
servers that return reasoning in a field of its own are mapped onto it by the openai backend). Every text
is split, never refused: what is odd about it is recorded as ``issue`` beside the sample, and the answer
is what a reader would take as the reply. Not guaranteed: other reasoning formats (tags of other names,
reasoning interleaved with tool calls) are read as plain answers.
"""

from __future__ import annotations

import re
from typing import NamedTuple

OPEN, CLOSE = "<think>", "</think>"
_BLOCK = re.compile(r"<think>(.*?)</think>", re.S)


class Split(NamedTuple):
    answer: str
    """The final answer, think blocks removed."""
    thinking: str | None
    """The reasoning (None: none, or an empty block such as Qwen3 templates write with reasoning off)."""
    issue: str | None = None
    """What was odd about the text (unterminated, nested or repeated blocks); None when it was clean."""


def split_thinking(text: str) -> Split:
    """Separate the reasoning from the final answer.

    >>> split_thinking("<think>plan</think> The answer.")
    Split(answer='The answer.', thinking='plan', issue=None)
    >>> split_thinking("Just this.")
    Split(answer='Just this.', thinking=None, issue=None)
    >>> split_thinking("<think>\\n\\n</think>\\n\\nHi.")
    Split(answer='Hi.', thinking=None, issue=None)
    >>> split_thinking("still planning</think> Hi.")  # the template opened the block (DeepSeek-R1 style)
    Split(answer='Hi.', thinking='still planning', issue=None)
    >>> split_thinking("<think>still planning")
    Split(answer='', thinking='still planning', issue='unterminated think block (no answer)')
    >>> split_thinking("<think>a<think>b</think>c</think> Hi.").issue
    'nested think tags'
    >>> split_thinking("<think>a</think> Hi. <think>b</think> Bye.")
    Split(answer='Hi.  Bye.', thinking='a\\n\\nb', issue='2 think blocks')
    >>> split_thinking("Sure. <think>x</think> Done.").issue
    'think block inside the answer'
    """
    head = text.lstrip()
    if not head.startswith(OPEN):
        if CLOSE in text and OPEN not in text:
            reasoning, _, answer = text.partition(CLOSE)
            return _clean(reasoning, answer, None)
        if OPEN not in text and CLOSE not in text:
            return Split(text, None)
        inner = _blocks(text)
        return inner._replace(issue=inner.issue or "think block inside the answer")
    return _blocks(head)


def _blocks(text: str) -> Split:
    if text.count(OPEN) != text.count(CLOSE) and text.lstrip().startswith(OPEN) and CLOSE not in text:
        return Split("", text.lstrip()[len(OPEN):].strip() or None, "unterminated think block (no answer)")
    depth, nested = 0, False
    for tag in re.findall(r"</?think>", text):
        depth += 1 if tag == OPEN else -1
        nested |= depth > 1
    if nested:
        first, last = text.find(OPEN), text.rfind(CLOSE)
        return _clean(text[first + len(OPEN):last], text[:first] + text[last + len(CLOSE):], "nested think tags")
    blocks = _BLOCK.findall(text)
    rest = _BLOCK.sub("", text)
    issue = None if len(blocks) == 1 else f"{len(blocks)} think blocks"
    if OPEN in rest or CLOSE in rest:
        issue = "unbalanced think tags"
        rest = rest.replace(OPEN, "").replace(CLOSE, "")
    return _clean("\n\n".join(b.strip() for b in blocks if b.strip()), rest, issue)


def _clean(reasoning: str, answer: str, issue: str | None) -> Split:
    return Split(answer.strip(), reasoning.strip() or None, issue)
