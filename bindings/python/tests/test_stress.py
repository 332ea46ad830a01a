"""Races between submitters, cancellers and shutdown: no future is left pending."""

import concurrent.futures
import ctypes
import ctypes.util
import random
import threading

import pytest

import qthr

libc = ctypes.CDLL(ctypes.util.find_library("c"))


@pytest.mark.parametrize("cancel_futures", [False, True])
def test_shutdown_while_threads_submit_and_cancel(cancel_futures):
    rt = qthr.Runtime(queue_capacity=64)
    futs = []
    lock = threading.Lock()
    stop = threading.Event()
    refused = []

    def submitter(seed):
        rnd = random.Random(seed)
        while not stop.is_set():
            try:
                if rnd.random() < 0.3:
                    f = rt.submit_c(libc.labs, 1)
                else:
                    f = rt.submit(sum, range(rnd.randrange(50)))
            except qthr.ShutdownError:
                refused.append(seed)
                return
            if rnd.random() < 0.2:
                f.cancel()
            with lock:
                futs.append(f)

    threads = [threading.Thread(target=submitter, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    while True:
        with lock:
            if len(futs) >= 2000:
                break
        threading.Event().wait(0.001)
    rt.shutdown(wait=True, cancel_futures=cancel_futures)
    stop.set()
    for t in threads:
        t.join(30)
    assert not any(t.is_alive() for t in threads)
    done, not_done = concurrent.futures.wait(futs, timeout=30)
    assert not not_done
    for f in futs:
        if not f.cancelled():
            assert f.result() in (1,) or isinstance(f.result(), int)
    stats = rt.stats()
    assert stats["queue_len"] == 0
