"""Running an iterator ahead of its consumer on a background thread.

Standard library only (this folder is copied into every export bundle). Used
by the device runtime's video reader (:class:`.clips.FileClips`: decode and
crop while the model runs) and by the in-memory training input pipeline
(``data_pipelines/memory_pipeline.py``: next batches while the step runs).
"""
from __future__ import annotations

import queue
import threading
from typing import Iterable, Iterator, TypeVar

T = TypeVar("T")

_DONE = object()
JOIN_TIMEOUT_S = 5.0       # a producer blocked longer (a stalled stream) is left behind, as a daemon


def prefetch_in_thread(items: Iterable[T], size: int) -> Iterator[T]:
    """Yields the items of ``items``, produced by a daemon thread up to ``size``
    items ahead of the consumer.

    An exception raised by ``items`` is raised again in the consumer, after the
    items produced before it. When the consumer stops early (``break``, an
    exception, or it drops the iterator), the thread stops after at most one
    more item. ``size`` must be >= 1.
    """
    if size < 1:
        raise ValueError(f"prefetch_in_thread: size must be >= 1, got {size}")
    q: queue.Queue = queue.Queue(maxsize=size)
    stop = threading.Event()

    def put(item) -> bool:
        while not stop.is_set():
            try:
                q.put(item, timeout=0.1)
                return True
            except queue.Full:
                pass
        return False

    def work() -> None:
        try:
            for item in items:
                if not put(item):
                    return
        except BaseException as e:  # noqa: BLE001 - forwarded to the consumer
            put(e)
            return
        put(_DONE)

    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    try:
        while True:
            item = q.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        # the producer stops after the item it is making; wait for that (bounded),
        # so a caller that then releases what the producer reads from (a video
        # capture) never does so while the producer is still inside it
        if thread is not threading.current_thread():
            thread.join(timeout=JOIN_TIMEOUT_S)
