"""Runs per-sample preparation tasks in a process pool with progress and a
restartable on-disk result per task.

A task is a picklable tuple handled by a module-level function that returns
``(key, status, message, reason)`` with status ``"done"``, ``"cached"``
(result file already there from an earlier, interrupted run) or ``"failed"``
(a known bad-input error; ``message`` names the file and the problem,
``reason`` classifies it). Other exceptions, including errors writing
outputs, propagate and stop the run.
"""
from __future__ import annotations

import logging
import multiprocessing
import sys
import time
from typing import Callable, Iterable, Sequence


def _init_worker():
    import cv2
    cv2.setNumThreads(1)


def run_tasks(fn: Callable, tasks: Sequence, workers: int = 1,
              label: str = "prepare", stream=sys.stderr) -> list[tuple[str, str, str]]:
    """Runs ``fn(task)`` for every task, ``workers`` processes in parallel
    (``workers <= 1``: in this process). Prints progress lines (count, rate,
    ETA) about every 5 s. Returns the workers' result tuples in task order."""
    total = len(tasks)
    results: dict[int, tuple] = {}
    start = last = time.monotonic()
    done_now = 0

    def report(final=False):
        nonlocal last
        now = time.monotonic()
        if not final and now - last < 5.0:
            return
        last = now
        rate = done_now / max(now - start, 1e-9)
        left = total - len(results)
        eta = f", ETA {left / rate / 60:.1f} min" if rate > 0 and left else ""
        print(f"[{label}] {len(results)}/{total} samples ({rate:.2f} videos/s{eta})",
              file=stream, flush=True)

    indexed: Iterable
    if workers <= 1 or total <= 1:
        indexed = ((i, fn(t)) for i, t in enumerate(tasks))
        pool = None
    else:
        ctx = multiprocessing.get_context("spawn")   # TF in the parent is not fork-safe
        pool = ctx.Pool(workers, initializer=_init_worker)
        indexed = pool.imap_unordered(_Indexed(fn), list(enumerate(tasks)), chunksize=1)
    try:
        for i, res in indexed:
            results[i] = res
            if res[1] == "done":
                done_now += 1
            report()
    finally:
        if pool is not None:
            pool.terminate()
            pool.join()
    report(final=True)
    failed = [r for r in results.values() if r[1] == "failed"]
    if failed:
        logging.warning("[%s] %d of %d samples failed", label, len(failed), total)
    return [results[i] for i in range(total)]


class _Indexed:
    """Picklable wrapper: ``(i, task) -> (i, fn(task))``."""

    def __init__(self, fn):
        self.fn = fn

    def __call__(self, item):
        i, task = item
        return i, self.fn(task)
