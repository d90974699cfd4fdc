"""Units as Ray tasks, on a local Ray started here or on a cluster at ``--ray-address``.

Each unit is one ``ray.remote`` task declaring its CPUs (1) and GPUs (the unit's ``gpus``); the
declared resources are checked against the cluster before anything is submitted, so a GPU request
on a cluster without GPUs is an error at submit time rather than a task that waits forever. A task
whose worker dies is retried once by Ray; an exception inside a unit is its outcome, not retried.
Units write into the run directory by key, which must be shared by every node (NFS, a bucket mount).

Not guaranteed: that a remote cluster's nodes have spillover, its extras and the same versions
installed (Ray ships no code here beyond this module's task); the order in which units finish.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ..errors import MissingExtraError, SpilloverError
from . import THREAD_VARS, Context, Outcome, Unit, open_context, run_in_worker

_CONTEXTS: dict[tuple[str, str], Context] = {}


def _run(root: str, worker: str, unit: Unit) -> Outcome:
    """One unit in a Ray worker process, whose context is made once per process and run directory."""
    if (root, worker) not in _CONTEXTS:
        from ..ui import Reporter

        shard = f"{worker}-{socket.gethostname().split('.')[0]}-{os.getpid()}"
        _CONTEXTS[root, worker] = open_context(Path(root), Reporter(), worker=shard)
    return run_in_worker(_CONTEXTS[root, worker], unit)


def check_reachable(address: str, timeout: float = 5.0) -> None:
    """Fail in seconds, naming the address, when nothing listens there (``auto`` is left to Ray).

    >>> check_reachable("auto")
    """
    if address == "auto":
        return
    hostport = address.split("://", 1)[-1].rstrip("/")
    host, _, port = hostport.rpartition(":")
    if not host or not port.isdigit():
        raise SpilloverError(f"Ray address {address!r} is not host:port (or ray://host:port, or auto)",
                             field="--ray-address")
    try:
        socket.create_connection((host, int(port)), timeout=timeout).close()
    except OSError as e:
        raise SpilloverError(f"no Ray cluster answers at {address} ({e})", field="--ray-address") from None


class RayExecutor:
    """Units as Ray tasks; starts (and later stops) a local Ray with ``workers`` CPUs unless given an address."""

    def __init__(self, ctx: Context, workers: int | None, address: str | None) -> None:
        try:
            import ray
        except ImportError:
            raise MissingExtraError("ray", "the ray executor", field="--executor") from None
        from . import default_workers

        self.ctx, self._ray = ctx, ray
        env = {var: str(ctx.exp.threads) for var in THREAD_VARS}
        kw: dict[str, Any] = dict(runtime_env={"env_vars": env}, log_to_driver=False, configure_logging=False)
        self._started = not ray.is_initialized()  # else: the caller's Ray session, left running
        if self._started and address:
            check_reachable(address)
            ray.init(address=address, **kw)
        elif self._started:
            ray.init(num_cpus=workers or default_workers(), include_dashboard=False, **kw)
        cpus = int(ray.cluster_resources().get("CPU", 0))
        self.workers = min(workers or cpus, cpus) or 1
        self._task = ray.remote(_run)

    def check(self, units: Sequence[Unit]) -> None:
        """Every unit's declared resources exist in the cluster (else nothing is submitted)."""
        have = self._ray.cluster_resources()
        for u in units:
            for name, need in (("GPU", u.gpus), ("CPU", 1.0)):
                if need > have.get(name, 0.0):
                    raise SpilloverError(f"unit {u.id} needs {need:g} {name}, the Ray cluster has "
                                         f"{have.get(name, 0.0):g}: nothing was submitted", field="--executor")

    def map(self, units: Sequence[Unit], on_done: Callable[[Outcome], None] | None = None) -> list[Outcome]:
        self.check(units)
        ray, run = self._ray, self.ctx.run
        refs = {self._task.options(num_cpus=1, num_gpus=u.gpus, max_retries=1).remote(
            str(run.root), run.worker, u): i for i, u in enumerate(units)}
        results: dict[int, Outcome] = {}
        pending = list(refs)
        while pending:
            ready, pending = ray.wait(pending, num_returns=1)
            i = refs[ready[0]]
            try:
                results[i] = ray.get(ready[0])
            except ray.exceptions.RayError as e:  # the worker died twice, or the task could not run
                results[i] = Outcome(units[i], error=f"{type(e).__name__}: {str(e).splitlines()[0]}")
            if on_done:
                on_done(results[i])
        return [results[i] for i in range(len(units))]

    def close(self) -> None:
        if self._started:
            self._ray.shutdown()
