"""Executors run shards: a local process pool (default) or Ray tasks on a cluster.

Both call the same `batch.run_shard`, so they produce the same dump. Progress comes back to
the main process as (language, status, events) per input; only the CLI draws it.
"""

from __future__ import annotations

import ctypes
import multiprocessing as mp
import os
import queue
import signal
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

from .batch import Report, Settings, run_shard
from .corpus import Shard

_progress: mp.Queue | None = None
PR_SET_PDEATHSIG = 1


class Stopped(Exception):
    """The batch was told to stop (SIGTERM); like Ctrl-C, it leaves unfinished shards unmarked."""


def _init_worker(q: mp.Queue, parent: int) -> None:
    global _progress
    _progress = q
    die_with_parent(parent)
    # Ctrl-C reaches the whole group: the main process alone decides, and stops the workers
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def die_with_parent(parent: int) -> None:
    """Have the kernel kill this process when its parent dies (kill -9 of the main pid alone
    included), so no worker outlives the batch and races its resume; its sandboxes die with it."""
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:     # the parent died before the line above took effect
        os._exit(1)


def _report(language: str, status: str, events: int) -> None:
    _progress.put((language, status, events))


def _shard_in_worker(shard: Shard, settings: Settings, out: str):
    return run_shard(shard, settings, out, _report)


def run_local(todo: list[Shard], settings: Settings, out: str, workers: int, report: Report) -> None:
    """Run the shards in a pool of forked workers. Ctrl-C, SIGTERM or a shard's exception stops
    every worker at once: their unfinished shards keep no index, and a resume redoes them."""
    ctx = mp.get_context("fork")
    q = ctx.Queue()
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_init_worker,
                               initargs=(q, os.getpid()))
    previous = signal.signal(signal.SIGTERM, _stop_on_sigterm)
    try:
        pending = {pool.submit(_shard_in_worker, s, settings, out) for s in todo}
        while pending:
            done, pending = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
            _drain(q, report)
            for fut in done:
                fut.result()  # a shard that raised is a bug of ours or a host failure: surface it
        _drain(q, report)
        pool.shutdown()
    except BaseException:
        _terminate(pool)
        raise
    finally:
        signal.signal(signal.SIGTERM, previous)


def _stop_on_sigterm(signum, frame) -> None:
    raise Stopped("stopped by SIGTERM")


def _terminate(pool: ProcessPoolExecutor) -> None:
    """Kill the pool's workers now (their current shards are abandoned), then drop the pool."""
    procs = list((pool._processes or {}).values())   # the executor has no public way to kill its workers
    for proc in procs:
        proc.terminate()
    for proc in procs:
        proc.join(5)
        if proc.is_alive():
            proc.kill()
    pool.shutdown(wait=False, cancel_futures=True)


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
    return os.environ.get("RAY_ADDRESS")


EXECUTORS: dict[str, Callable] = {"local": run_local, "ray": run_ray}
