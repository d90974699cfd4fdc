"""One writer per stage of a run directory: advisory lock files with the holder's pid and host.

``RUN/locks/STAGE.lock`` is held by a command doing the whole stage, ``RUN/locks/STAGE.I-of-N.lock`` by
one doing shard I of N: shards of one stage cooperate, a whole-stage writer excludes every shard and
the other way round. A lock whose holder is gone (same host, pid not alive) is stale and taken over.
Not guaranteed: locks are advisory (a process that does not ask is not stopped), and a holder on
another host cannot be checked, so its lock is reported with how to remove it by hand.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .errors import SpilloverError


def alive(pid: int) -> bool:
    """Whether a process with this pid exists on this host."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def _holder(path: Path) -> dict | None:
    """The live holder recorded in a lock file; None (and the file removed) when it is stale or gone."""
    try:
        info = json.loads(path.read_text())
    except (OSError, ValueError):
        return None  # vanished or half-written: its writer is still creating it or has released it
    if info.get("host") == socket.gethostname() and not alive(int(info.get("pid", -1))):
        path.unlink(missing_ok=True)
        return None
    return info


def _busy(path: Path, info: dict) -> SpilloverError:
    since = time.strftime("%H:%M:%S", time.localtime(info.get("started", 0)))
    return SpilloverError(f"run is busy: {info.get('command', 'a command')} (pid {info.get('pid')} on "
                          f"{info.get('host')}, since {since}) holds this stage; wait, or use --shard I/N with "
                          f"--worker to split it; if that process is gone, delete {path}", file=path.parent.parent)


@contextmanager
def stage_lock(root: Path, stage: str, shard: tuple[int, int] | None = None, command: str = "") -> Iterator[None]:
    """Hold the lock of ``stage`` (or of one shard of it) while the body runs."""
    folder = Path(root) / "locks"
    folder.mkdir(parents=True, exist_ok=True)
    mine = folder / (f"{stage}.{shard[0]}-of-{shard[1]}.lock" if shard else f"{stage}.lock")
    info = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.time(), "command": command}
    for _ in range(2):  # a second try after removing a stale lock
        try:
            fd = os.open(mine, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            break
        except FileExistsError:
            if (held := _holder(mine)) is not None:
                raise _busy(mine, held) from None
    else:
        raise _busy(mine, _holder(mine) or {})
    with os.fdopen(fd, "w") as f:
        json.dump(info, f)
    try:
        others = folder.glob(f"{stage}.*-of-*.lock") if not shard else [folder / f"{stage}.lock"]
        for other in others:
            if other != mine and other.exists() and (held := _holder(other)) is not None:
                raise _busy(other, held)
        yield
    finally:
        mine.unlink(missing_ok=True)
        with contextlib.suppress(OSError):  # only when no other lock is held: no writers, no locks/
            folder.rmdir()
