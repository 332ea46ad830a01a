"""Races between submitters, cancellers and shutdown: no future is left pending."""

import concurrent.futures
import ctypes
import ctypes.util
import random
import threading

import pytest

import qthr

libc = ctypes.CDLL(ctypes.util.find_library("c"))


def shut_down_amid(rt, threads, futs, lock, stop, n, cancel_futures):
    """Start ``threads``, shut ``rt`` down once they have made ``n`` futures,
    then check that every thread ended and every future resolved."""
    for t in threads:
        t.start()
    while True:
        with lock:
            if len(futs) >= n:
                break
        threading.Event().wait(0.001)
    rt.shutdown(wait=True, cancel_futures=cancel_futures)
    stop.set()
    for t in threads:
        t.join(30)
    assert not any(t.is_alive() for t in threads)
    done, not_done = concurrent.futures.wait(futs, timeout=30)
    assert not not_done


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
    shut_down_amid(rt, threads, futs, lock, stop, 2000, cancel_futures)
    for f in futs:
        if not f.cancelled():
            assert f.result() in (1,) or isinstance(f.result(), int)
    stats = rt.stats()
    assert stats["queue_len"] == 0


@pytest.mark.parametrize("cancel_futures", [False, True])
def test_shutdown_under_mixed_load_resolves_everything(cancel_futures):
    """Threads submitting Python, C and options jobs and an event loop awaiting
    rt.run, all racing a shutdown: every future resolves, nothing hangs, counts add up."""
    import asyncio

    rt = qthr.Runtime(queue_capacity=128)
    futs = []
    lock = threading.Lock()
    stop = threading.Event()
    seen = {"async": 0, "async_cancelled": 0, "async_refused": 0}

    def submitter(seed):
        rnd = random.Random(seed)
        while not stop.is_set():
            try:
                k = rnd.random()
                if k < 0.2:
                    f = rt.submit_c(libc.labs, 1)
                elif k < 0.3:
                    f = rt.options(urgent=rnd.random() < 0.5, deadline=rnd.choice([None, 0.001, 5])) \
                        .submit(sum, range(10))
                elif k < 0.4:
                    f = rt.submit_many(abs, [(-1,)] * 5)[-1]
                else:
                    f = rt.submit(sum, range(rnd.randrange(30)))
            except qthr.ShutdownError:
                return
            if rnd.random() < 0.1:
                f.cancel()
            with lock:
                futs.append(f)

    def loop_thread():
        async def main():
            while not stop.is_set():
                try:
                    aws = [rt.run(abs, -i) for i in range(20)]
                except qthr.ShutdownError:
                    seen["async_refused"] += 1
                    return
                for r in await asyncio.gather(*aws, return_exceptions=True):
                    if isinstance(r, BaseException):
                        seen["async_cancelled"] += 1
                    else:
                        seen["async"] += 1
        asyncio.run(main())

    threads = [threading.Thread(target=submitter, args=(i,)) for i in range(3)]
    threads.append(threading.Thread(target=loop_thread))
    shut_down_amid(rt, threads, futs, lock, stop, 1500, cancel_futures)
    assert seen["async"] > 0
    st = rt.stats()
    assert st["queue_len"] == 0
    lane = dict(sub=rt._n_sub, cancel=rt._n_cancel, wwd=rt._n_worker_withdrawn,
                started=rt._n_started, done=rt._n_done, drains=rt._n_drains,
                dstarted=rt._n_drains_started)
    assert st["submitted"] == st["completed"] + st["cancelled"], repr((st, lane, cancel_futures))
