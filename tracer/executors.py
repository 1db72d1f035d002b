"""Executors run shards: a local process pool (default) or Ray tasks on a cluster.

Both call the same `batch.run_shard`, so they produce the same dump. Progress comes back to
the main process as (language, status, events) per input; only the CLI draws it.
"""

from __future__ import annotations

import multiprocessing as mp
import queue
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

from .batch import Report, Settings, run_shard
from .corpus import Shard

_progress: mp.Queue | None = None


def _init_worker(q: mp.Queue) -> None:
    global _progress
    _progress = q


def _report(language: str, status: str, events: int) -> None:
    _progress.put((language, status, events))


def _shard_in_worker(shard: Shard, settings: Settings, out: str):
    return run_shard(shard, settings, out, _report)


def run_local(todo: list[Shard], settings: Settings, out: str, workers: int, report: Report) -> None:
    ctx = mp.get_context("fork")
    q = ctx.Queue()
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_init_worker,
                             initargs=(q,)) as pool:
        pending = {pool.submit(_shard_in_worker, s, settings, out) for s in todo}
        while pending:
            done, pending = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
            _drain(q, report)
            for fut in done:
                fut.result()  # a worker crash is a bug of ours: surface it
        _drain(q, report)


def _drain(q: mp.Queue, report: Report) -> None:
    while True:
        try:
            report(*q.get_nowait())
        except queue.Empty:
            return


def run_ray(todo: list[Shard], settings: Settings, out: str, workers: int, report: Report) -> None:
    try:
        import ray
    except ImportError:
        raise RuntimeError("the ray executor needs Ray: pip install 'codealchemy[ray]'") from None
    if not ray.is_initialized():
        ray.init(address="auto" if _cluster_address() else None, num_cpus=None if _cluster_address() else workers,
                 include_dashboard=False, log_to_driver=False)
    remote = ray.remote(num_cpus=1)(run_shard)
    pending = [remote.remote(s, settings, out) for s in todo]
    while pending:
        done, pending = ray.wait(pending, num_returns=1)
        for result in ray.get(done):
            for done_input in result.reports:
                report(*done_input)


def _cluster_address() -> str | None:
    import os

    return os.environ.get("RAY_ADDRESS")


EXECUTORS: dict[str, Callable] = {"local": run_local, "ray": run_ray}
