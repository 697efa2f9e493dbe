"""jaxar.runtime.prefetch: one background-thread prefetch for the runtime and the data pipeline."""
import threading
import time

import pytest

from jaxar.runtime.prefetch import prefetch_in_thread


def test_items_in_order_from_another_thread():
    threads = []

    def items():
        for i in range(7):
            threads.append(threading.get_ident())
            yield i

    assert list(prefetch_in_thread(items(), 2)) == list(range(7))
    assert set(threads) and threading.get_ident() not in threads


def test_error_is_raised_after_the_items_before_it():
    def items():
        yield 1
        yield 2
        raise OSError("disk gone")

    got = []
    with pytest.raises(OSError, match="disk gone"):
        for x in prefetch_in_thread(items(), 4):
            got.append(x)
    assert got == [1, 2]


def test_consumer_stopping_early_stops_the_producer():
    produced = []

    def items():
        for i in range(1000):
            produced.append(i)
            yield i

    it = prefetch_in_thread(items(), 3)
    assert next(it) == 0
    it.close()
    time.sleep(0.5)                      # the producer notices within its 0.1 s put timeout
    n = len(produced)
    time.sleep(0.3)
    assert len(produced) == n <= 6       # stopped: queue size + the one in hand + the one consumed


def test_size_must_be_positive():
    with pytest.raises(ValueError, match="size"):
        next(prefetch_in_thread(iter([1]), 0))
