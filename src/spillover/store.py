"""The run directory: the single source of truth of an experiment.

Layout (one folder per stage)::

    RUN/manifest.json            resolved config, versions, git revision (secrets redacted)
    RUN/<stage>/part-<worker>.jsonl   append-only records, one JSON object per line, each with a "key"
    RUN/<stage>/DONE             written when nothing planned is left, with a digest of the plan
    RUN/finetune/<name>/...      artifacts, each finished by its own DONE marker

Guarantees: every line is appended with ``flush + fsync`` before the work counts as done, so a
process killed at any point loses at most the line it was writing; a torn last line is ignored on
read and cut off before the next append. Whole files are written to a temporary name, fsynced and
renamed. Several workers write separate shards; readers merge them by key (the first record of a
key wins, so a duplicate from a crashed worker is harmless).

Not guaranteed: two processes writing the *same* worker shard at once (give each worker its own
``worker`` name).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from .errors import SpilloverError, check_name
from .records import Judgment, ProbeRecord, ProjectionRecord, SampleRecord, WeightChangeRecord

R = TypeVar("R", bound=BaseModel)
_UMASK = os.umask(0)
os.umask(_UMASK)


def fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` via a temporary file, fsync and rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; give the file ordinary permissions
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: Path, obj: Any) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False) + "\n")


@contextmanager
def building_dir(final: Path) -> Iterator[Path]:
    """Fill a temporary sibling folder; on success it gets its DONE marker and replaces ``final``.

    A folder without DONE is never used: a crash at any point leaves either the old complete folder,
    or nothing, or a stray temporary folder that the next attempt clears.
    """
    final = Path(final)
    tmp = final.parent / f".{final.name}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    yield tmp
    (tmp / "DONE").write_text("")
    fsync_dir(tmp)
    old = final.parent / f".{final.name}.old"
    if final.exists():
        shutil.rmtree(old, ignore_errors=True)
        final.rename(old)
    tmp.rename(final)
    fsync_dir(final.parent)
    shutil.rmtree(old, ignore_errors=True)


def read_jsonl(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield ``(line_number, object)`` from a JSONL file.

    A torn last line (no newline, or invalid JSON at the very end) is skipped: it is what a killed
    writer leaves. A bad line anywhere else is corruption and raises an error naming file and line.
    """
    data = Path(path).read_bytes()
    lines = data.split(b"\n")
    complete = data.endswith(b"\n")
    for i, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        is_last = i == len(lines) or (i == len(lines) - 1 and complete)
        try:
            obj = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            if is_last and not complete:
                return
            raise SpilloverError(f"invalid JSON ({e.msg if hasattr(e, 'msg') else e})", file=path, line=i) from None
        if not isinstance(obj, dict):
            raise SpilloverError("expected a JSON object", file=path, line=i)
        if i == len(lines) and not complete:
            return  # torn: parsed by luck but never fsynced as a whole line
        yield i, obj


def _repair_tail(path: Path) -> None:
    """Cut a torn last line so the next append starts on a fresh line."""
    if not path.exists():
        return
    data = path.read_bytes()
    if data and not data.endswith(b"\n"):
        keep = data.rfind(b"\n") + 1
        with open(path, "r+b") as f:
            f.truncate(keep)
            f.flush()
            os.fsync(f.fileno())


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
            _repair_tail(self.shard)
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


class RunDir:
    """A run directory and its layout: every path of a run is spelled here and nowhere else.

    ``datasets/NAME.jsonl`` (+ ``NAME.card.json``, written last), ``finetune/NAME/`` (+ ``DONE`` and
    ``result.json``), one folder of keyed records per stage, ``report/``, ``manifest.json``."""

    def __init__(self, root: str | Path, worker: str = "main") -> None:
        self.root = Path(root)
        self.worker = worker
        self._finished: dict[str, dict[str, Any]] = {}  # a DONE fine-tune's result never changes

    def stage(self, name: str) -> Stage:
        return Stage(self.root, name, self.worker)

    def artifact(self, stage: str, name: str) -> Path:
        """The folder of a named artifact (e.g. one fine-tuned model)."""
        return self.root / check_name(stage, what="stage") / check_name(name)

    @staticmethod
    def artifact_done(path: Path) -> bool:
        return (Path(path) / "DONE").exists()

    @property
    def manifest_path(self) -> Path:
        return self.root / "manifest.json"

    @property
    def report_dir(self) -> Path:
        return self.root / "report"

    # records ---------------------------------------------------------------------------
    def samples(self) -> list[SampleRecord]:
        return list(self.stage("samples").load(SampleRecord).values())

    def judgments(self) -> list[Judgment]:
        return list(self.stage("judgments").load(Judgment).values())

    def probes(self) -> list[ProbeRecord]:
        return list(self.stage("probes").load(ProbeRecord).values())

    def projections(self) -> list[ProjectionRecord]:
        return list(self.stage("projections").load(ProjectionRecord).values())

    def weight_changes(self) -> list[WeightChangeRecord]:
        return list(self.stage("weights").load(WeightChangeRecord).values())

    # directions ----------------------------------------------------------------------------
    def direction(self, name: str) -> Path:
        """A finished direction's file (written atomically, once all its parts are in)."""
        return self.root / "inside" / "directions" / f"{check_name(name)}.safetensors"

    def activations_dir(self, model: str) -> Path:
        """A model's answer activations, one file per sampling chunk (``vectors.save_activations``)."""
        return self.root / "inside" / "activations" / check_name(model)

    def activations(self, model: str, key: str) -> Path:
        return self.activations_dir(model) / f"{check_name(key)}.safetensors"

    def direction_part(self, key: str) -> Path:
        """One model's activations for one direction."""
        return self.root / "inside" / "parts" / f"{check_name(key)}.safetensors"

    # datasets ----------------------------------------------------------------------------
    def dataset(self, name: str) -> Path:
        return self.root / "datasets" / f"{check_name(name)}.jsonl"

    def dataset_card(self, name: str) -> Path:
        """Written after the dataset: its existence marks the dataset done."""
        return self.root / "datasets" / f"{check_name(name)}.card.json"

    def dataset_cards(self) -> list[dict[str, Any]]:
        return [json.loads(p.read_text()) for p in sorted((self.root / "datasets").glob("*.card.json"))]

    # fine-tunes --------------------------------------------------------------------------
    def finetune_dir(self, name: str) -> Path:
        return self.artifact("finetune", name)

    def finetune_result(self, name: str) -> dict[str, Any] | None:
        """A finished fine-tune's ``result.json`` (None until its DONE marker exists)."""
        if name not in self._finished:
            folder = self.finetune_dir(name)
            if not self.artifact_done(folder):
                return None
            self._finished[name] = json.loads((folder / "result.json").read_text())
        return dict(self._finished[name])

    def finetune_ended_without_model(self, name: str) -> bool:
        """An API fine-tune that reached a terminal failure (refused, failed): never retried."""
        res = self.finetune_dir(name) / "result.json"
        return not self.artifact_done(res.parent) and res.exists() and "status" in json.loads(res.read_text())

    def finetune_results(self) -> dict[str, dict[str, Any]]:
        """Every finished fine-tune's result, by model name."""
        folder = self.root / "finetune"
        names = sorted(p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")) \
            if folder.exists() else []
        return {n: r for n in names if (r := self.finetune_result(n)) is not None}
