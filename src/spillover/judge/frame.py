"""Framing untrusted answers inside a judge prompt so they cannot break out.

The answer sits between two markers that carry a nonce derived from the answer itself
(``<<<ANSWER a1b2c3d4e5f6>>>`` ... ``<<<END ANSWER a1b2c3d4e5f6>>>``): to fake the end marker an
answer would have to contain its own hash. On top of that, every character that Unicode NFKC
normalisation maps to ``<`` or ``>`` (full-width and small forms included) is replaced by a single
guillemet, and invisible format characters are dropped, so no marker-like text survives inside the
frame. The judge's score is read only from its own reply (its logprobs), never from the answer.

Not guaranteed: that a judge model ignores persuasive *content* inside the frame; that is what the
frame's instructions are for, and it is measured, not assumed.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata

START = "<<<ANSWER {nonce}>>>"
END = "<<<END ANSWER {nonce}>>>"


def neutralise(text: str) -> str:
    """Replace ``<``/``>`` look-alikes with guillemets and drop invisible format characters.

    >>> neutralise("a <b> \\uff1cc\\uff1e")
    'a ‹b› ‹c›'
    >>> neutralise("x\\u200b<<<")
    'x‹‹‹'
    """
    out = []
    for ch in text:
        norm = unicodedata.normalize("NFKC", ch)
        if "<" in norm:
            out.append("‹")
        elif ">" in norm:
            out.append("›")
        elif unicodedata.category(ch) == "Cf":
            continue
        else:
            out.append(ch)
    return "".join(out)


def nonce(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:12]


def frame(answer: str, kind: str = "ANSWER") -> str:
    """The answer (or reasoning: ``kind``), neutralised, between its two markers."""
    safe = neutralise(answer)
    n = nonce(answer)
    start, end = START.replace("ANSWER", kind), END.replace("ANSWER", kind)
    return f"{start.format(nonce=n)}\n{safe}\n{end.format(nonce=n)}"


def render(template: str, question: str, answer: str, reasoning: str | None = None) -> str:
    """Fill a judge prompt template's ``{question}``, ``{answer}`` and ``{reasoning}`` (a reasoning
    model's chain of thought); answer and reasoning are framed, each with its own markers.

    One pass over the template: a placeholder inside the model's text is never filled.

    >>> "<<<REASONING" in render("{reasoning} / {answer}", "q", "a", "I will lie.")
    True
    >>> render("{answer}|{reasoning}", "q", "{reasoning}", "secret").count("secret")
    1
    """
    parts = {"question": lambda: neutralise(question), "answer": lambda: frame(answer),
             "reasoning": lambda: frame(reasoning or "(no reasoning)", kind="REASONING")}
    return re.sub(r"\{(question|answer|reasoning)\}", lambda m: parts[m.group(1)](), template)
