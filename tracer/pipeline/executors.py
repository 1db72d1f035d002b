"""Executors run shards of a step: a local process pool (default) or Ray tasks on a cluster.

Both call the same `shards.run_shard`, so they produce the same output. Each finished input
comes back to the main process as (status, facts) for the progress display; only the main
process draws. Local workers die with the main process (PR_SET_PDEATHSIG), and Ctrl-C, SIGTERM
or a shard's exception stops them all at once, their unfinished shards left unmarked.
"""

from __future__ import annotations

import ctypes
import gc
import multiprocessing as mp
import os
import queue
import signal
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from pathlib import Path

from .shards import Report, Step, run_shard

PR_SET_PDEATHSIG = 1
_progress: mp.Queue | None = None


class Stopped(Exception):
    """The run was told to stop (SIGTERM); like Ctrl-C, it leaves unfinished shards unmarked."""


def die_with_parent(parent: int) -> None:
    """Have the kernel kill this process when its parent dies (kill -9 of the main pid alone
    included), so no worker outlives the run and races its resume; its sandboxes die with it."""
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:     # the parent died before the line above took effect
        os._exit(1)


def _init_worker(q: mp.Queue, parent: int) -> None:
    global _progress
    _progress = q
    die_with_parent(parent)
    # Ctrl-C reaches the whole group: the main process alone decides, and stops the workers
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _report(status: str, facts: dict) -> None:
    _progress.put((status, facts))


def _shard_in_worker(step: Step, shard, run_dir: str) -> dict | None:
    return run_shard(step, shard, run_dir, _report)


def run_local(step: Step, todo: list, run_dir: Path, workers: int, report: Report) -> None:
    # A forked worker must not be the one to collect an earlier pool: its weakref callback takes
    # that pool's shutdown lock, which a thread of ours may have held at the fork, and the worker
    # then waits for ever (seen in the suite). So what is garbage goes here, before the fork.
    gc.collect()
    ctx = mp.get_context("fork")
    q = ctx.Queue()
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_init_worker,
                               initargs=(q, os.getpid()))
    previous = signal.signal(signal.SIGTERM, _stop_on_sigterm)
    try:
        pending = {pool.submit(_shard_in_worker, step, s, str(run_dir)) for s in todo}
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
    """Kill the pool's workers now (their current shards are abandoned), then drop the pool once
    its manager thread has ended (a thread left running holds locks the next fork copies)."""
    procs = list((pool._processes or {}).values())   # the executor has no public way to kill its workers
    for proc in procs:
        proc.terminate()
    for proc in procs:
        proc.join(5)
        if proc.is_alive():
            proc.kill()
    pool.shutdown(wait=True, cancel_futures=True)


def _drain(q: mp.Queue, report: Report) -> None:
    while True:
        try:
            report(*q.get_nowait())
        except queue.Empty:
            return


def _shard_in_ray(step: Step, shard, run_dir: str) -> list[tuple[str, dict]]:
    finished: list[tuple[str, dict]] = []
    run_shard(step, shard, run_dir, lambda status, facts: finished.append((status, facts)))
    return finished


def run_ray(step: Step, todo: list, run_dir: Path, workers: int, report: Report) -> None:
    try:
        import ray
    except ImportError:
        raise RuntimeError("the ray executor needs Ray: pip install 'codealchemy[ray]'") from None
    cluster = os.environ.get("RAY_ADDRESS")
    if not ray.is_initialized():
        ray.init(address="auto" if cluster else None, num_cpus=None if cluster else workers,
                 include_dashboard=False, log_to_driver=False)
    remote = ray.remote(num_cpus=1)(_shard_in_ray)
    pending = [remote.remote(step, s, str(run_dir)) for s in todo]
    while pending:
        done, pending = ray.wait(pending, num_returns=1)
        for finished in ray.get(done):
            for status, facts in finished:
                report(status, facts)


EXECUTORS: dict[str, Callable[[Step, list, Path, int, Report], None]] = {"local": run_local, "ray": run_ray}
