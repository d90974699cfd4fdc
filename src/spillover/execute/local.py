"""Units in this process (``serial``) or in a pool of worker processes on this machine (``local``).

Each pool worker is a fresh (spawned) process pinned to the experiment's torch-thread count, with
its own shard name (``<worker>-w<slot>``), so two workers never append to the same file. A worker
that dies (killed, out of memory) breaks the pool: the pool is rebuilt and each unit that was in
flight is run once more; a unit that breaks it twice is reported as failed.

Not guaranteed: the order in which units finish (results are returned in the order given).
"""

from __future__ import annotations

import multiprocessing as mp
import os
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

from . import THREAD_VARS, Context, Outcome, Unit, call, open_context, run_in_worker


class SerialExecutor:
    """Runs units one after another in this process, with the caller's progress reporter."""

    workers = 1

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def map(self, units: Sequence[Unit], on_done: Callable[[Outcome], None] | None = None) -> list[Outcome]:
        out = []
        for u in units:
            o = call(self.ctx, u)
            out.append(o)
            if on_done:
                on_done(o)
        return out

    def close(self) -> None:
        pass


_WORKER: dict[str, Any] = {}


def _init_worker(root: str, worker: str, threads: int, slots: Any) -> None:
    for var in THREAD_VARS:
        os.environ[var] = str(threads)
    _WORKER.update(root=root, worker=f"{worker}-w{slots.get()}")


def _run(unit: Unit) -> Outcome:
    if "ctx" not in _WORKER:  # once per worker process
        from ..ui import Reporter

        _WORKER["ctx"] = open_context(Path(_WORKER["root"]), Reporter(), worker=_WORKER["worker"])
    return run_in_worker(_WORKER["ctx"], unit)


class LocalExecutor:
    """A pool of ``workers`` spawned processes, made on first use and kept for the whole run."""

    def __init__(self, ctx: Context, workers: int) -> None:
        self.ctx, self.workers = ctx, workers
        self._pool: ProcessPoolExecutor | None = None

    def _make_pool(self) -> ProcessPoolExecutor:
        spawn = mp.get_context("spawn")
        slots = spawn.Queue()
        for i in range(self.workers):
            slots.put(i)
        return ProcessPoolExecutor(self.workers, mp_context=spawn, initializer=_init_worker,
                                   initargs=(str(self.ctx.run.root), self.ctx.run.worker, self.ctx.exp.threads, slots))

    def map(self, units: Sequence[Unit], on_done: Callable[[Outcome], None] | None = None) -> list[Outcome]:
        if len(units) == 1 and self._pool is None:  # not worth starting a process
            return SerialExecutor(self.ctx).map(units, on_done)
        results: dict[int, Outcome] = {}
        todo = list(range(len(units)))
        tries = dict.fromkeys(todo, 0)
        while todo:
            if self._pool is None:
                self._pool = self._make_pool()
            futures: dict[Future[Outcome], int] = {self._pool.submit(_run, units[i]): i for i in todo}
            todo = []
            for f in as_completed(futures):
                i = futures[f]
                try:
                    results[i] = f.result()
                except BrokenProcessPool:
                    tries[i] += 1
                    if tries[i] < 2:
                        todo.append(i)
                        continue
                    results[i] = Outcome(units[i], error="a worker process died running it, twice")
                if on_done:
                    on_done(results[i])
            if todo:
                self._pool.shutdown(wait=True, cancel_futures=True)
                self._pool = None
        return [results[i] for i in range(len(units))]

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
