"""One stage folder of a run: keyed records in append-only JSONL shards (one per worker) and a DONE marker.

Readers merge the shards by key (the first record of a key wins, so a duplicate from a crashed worker is
harmless). Not guaranteed: two processes writing the *same* worker shard at once.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from ..errors import SpilloverError, check_name
from .files import atomic_write_json, read_jsonl, repair_tail

R = TypeVar("R", bound=BaseModel)


class Stage:
    """One stage folder of a run: keyed records in JSONL shards plus a DONE marker."""

    def __init__(self, root: Path, name: str, worker: str = "main") -> None:
        self.dir = Path(root) / check_name(name, what="stage")
        self.worker = check_name(worker, what="worker")
        self._file: Any = None

    @property
    def shard(self) -> Path:
        return self.dir / f"part-{self.worker}.jsonl"

    def records(self) -> dict[str, dict[str, Any]]:
        """All records of this stage, merged across shards by key: the first final record wins; a record
        marked ``retryable`` (a failure to try again) is replaced by any later record of its key."""
        out: dict[str, dict[str, Any]] = {}
        if not self.dir.exists():
            return out
        for shard in sorted(self.dir.glob("part-*.jsonl")):
            for line, obj in read_jsonl(shard):
                key = obj.get("key")
                if not isinstance(key, str):
                    raise SpilloverError("record has no string 'key'", file=shard, line=line, field="key")
                old = out.get(key)
                if old is None or (old.get("retryable") and not obj.get("retryable")):
                    out[key] = obj
        return out

    def load(self, model: type[R]) -> dict[str, R]:
        """Records validated as ``model``; a record that does not validate names its shard."""
        out: dict[str, R] = {}
        for key, obj in self.records().items():
            try:
                out[key] = model.model_validate(obj)
            except ValidationError as e:
                err = e.errors()[0]
                raise SpilloverError(
                    err["msg"], file=self.dir, field=f"{key}.{'.'.join(map(str, err['loc']))}"
                ) from None
        return out

    def done_keys(self) -> set[str]:
        """Keys with a final record (retryable ones are left to do)."""
        return {k for k, v in self.records().items() if not v.get("retryable")}

    def append(self, records: Iterable[BaseModel | dict[str, Any]]) -> int:
        """Append records durably (write + flush + fsync per call). Returns how many."""
        self.dir.mkdir(parents=True, exist_ok=True)
        if self._file is None:
            repair_tail(self.shard)
            self._file = open(self.shard, "ab")  # noqa: SIM115 - kept open across calls
        n = 0
        buf = bytearray()
        for rec in records:
            obj = rec.model_dump(mode="json") if isinstance(rec, BaseModel) else rec
            buf += json.dumps(obj, ensure_ascii=False, sort_keys=True).encode() + b"\n"
            n += 1
        if n:
            self._file.write(buf)
            self._file.flush()
            os.fsync(self._file.fileno())
        return n

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    # done marker -------------------------------------------------------------------------
    @property
    def done_marker(self) -> Path:
        return self.dir / "DONE"

    def is_done(self) -> bool:
        return self.done_marker.exists()

    def done_info(self) -> dict[str, Any]:
        """What :meth:`mark_done` recorded (empty when not done)."""
        return dict(json.loads(self.done_marker.read_text())) if self.is_done() else {}

    def mark_done(self, **info: Any) -> None:
        """Write the DONE marker (left untouched when it already says the same)."""
        if self.done_info() != json.loads(json.dumps(info)):
            atomic_write_json(self.done_marker, info)

    def clear_done(self) -> None:
        self.done_marker.unlink(missing_ok=True)

    def __enter__(self) -> Stage:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
