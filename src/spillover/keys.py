"""Content keys: a stable hash of everything that determines a unit of work."""

from __future__ import annotations

import hashlib
import json
from typing import Any


def canonical_json(obj: Any) -> str:
    """JSON with sorted keys and no whitespace, the input to every content key."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_default)


def _default(obj: Any) -> Any:
    if hasattr(obj, "model_dump"):
        return obj.model_dump(mode="json")
    raise TypeError(f"cannot hash {type(obj).__name__}")


def content_key(kind: str, **parts: Any) -> str:
    """A 20-hex-digit key for ``kind`` determined by ``parts`` (order-independent).

    Callers hash configs with ``exclude_defaults=True``, so a new option added with a default in a
    later version of spillover keeps existing keys (and finished work) valid.

    >>> content_key("sample", model="m", index=0) == content_key("sample", index=0, model="m")
    True
    >>> content_key("sample", model="m", index=0) == content_key("sample", model="m", index=1)
    False
    """
    digest = hashlib.sha256(f"{kind}\n{canonical_json(parts)}".encode()).hexdigest()
    return digest[:20]


def text_hash(text: str) -> str:
    """Short hash of a text, e.g. of a judge prompt template."""
    return hashlib.sha256(text.encode()).hexdigest()[:16]
