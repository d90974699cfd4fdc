"""Durable files: atomic whole-file writes, a folder built under a temporary name, and append-only JSONL
read back line by line.

Guarantees: whole files are written to a temporary name, fsynced and renamed; a torn last JSONL line is
skipped on read (``read_jsonl``) and cut off before the next append (``repair_tail``). Not guaranteed:
durability on file systems that ignore ``fsync``.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ..errors import SpilloverError

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


def repair_tail(path: Path) -> None:
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


