"""Import chat JSONL in OpenAI's fine-tuning format (``messages``, optional system turn).

Extra keys are tolerated and ignored. Every bad line is an error that names the file and line;
nothing is written for a file with errors.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..errors import SpilloverError
from . import Example

ROLES = {"system", "user", "assistant"}


def user_jsonl(path: Path) -> Iterator[tuple[int, Any]]:
    """``(line number, value)`` for each non-blank line of a JSONL file a user brings; a missing file or a
    line that is not JSON is an error naming file and line (unlike the run's own records, no torn tail)."""
    path = Path(path)
    if not path.exists():
        raise SpilloverError("file not found", file=path)
    with open(path, "rb") as f:
        for n, raw in enumerate(f, start=1):
            if not raw.strip():
                continue
            try:
                yield n, json.loads(raw)
            except (json.JSONDecodeError, UnicodeDecodeError) as e:
                raise SpilloverError(f"invalid JSON: {e}", file=path, line=n) from None


def import_jsonl(path: Path) -> list[Example]:
    path = Path(path)
    out = []
    for n, obj in user_jsonl(path):
        msgs = obj.get("messages") if isinstance(obj, dict) else None
        if not isinstance(msgs, list) or not msgs:
            raise SpilloverError("expected a non-empty 'messages' list", file=path, line=n, field="messages")
        clean = []
        for i, m in enumerate(msgs):
            if not isinstance(m, dict) or m.get("role") not in ROLES or not isinstance(m.get("content"), str):
                raise SpilloverError(f"message {i} needs role in {sorted(ROLES)} and string content",
                                     file=path, line=n, field=f"messages.{i}")
            if m["role"] == "system" and i != 0:
                raise SpilloverError("a system message may only come first", file=path, line=n,
                                     field=f"messages.{i}.role")
            clean.append({"role": m["role"], "content": m["content"]})
        if not any(m["role"] == "assistant" for m in clean):
            raise SpilloverError("no assistant turn", file=path, line=n, field="messages")
        out.append(Example(messages=tuple(clean)))
    if not out:
        raise SpilloverError("no examples", file=path)
    return out
