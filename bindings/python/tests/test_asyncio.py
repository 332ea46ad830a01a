"""asyncio: await rt.run, wrap_future, run_in_executor, cancellation."""

import asyncio
import ctypes
import ctypes.util
import threading
import time

import pytest


async def while_ticking(work):
    """Await ``work()`` while a task ticks every 5 ms: (its result, the ticks)."""
    ticks = 0
    stop = False

    async def ticker():
        nonlocal ticks
        while not stop:
            ticks += 1
            await asyncio.sleep(0.005)

    t = asyncio.ensure_future(ticker())
    try:
        result = await work()
    finally:
        stop = True
        await t
    return result, ticks


def test_await_run_does_not_block_the_loop(rt):
    (worker, result), ticks = asyncio.run(while_ticking(
        lambda: rt.run(lambda: (threading.get_ident(), time.sleep(0.3), "slept")[::2])))
    assert result == "slept"
    assert worker == rt.call(threading.get_ident)
    assert ticks >= 3  # the loop kept running while the worker slept


def test_run_with_args_and_exception(rt):
    async def main():
        assert await rt.run(pow, 2, exp=5) == 32
        assert await rt.run(lambda a, b=0: a + b, 1, b=2) == 3
        with pytest.raises(ZeroDivisionError):
            await rt.run(lambda: 1 / 0)

    asyncio.run(main())


def test_wrap_future_and_run_in_executor(rt):
    async def main():
        a = await asyncio.wrap_future(rt.submit(lambda: "wrapped"))
        loop = asyncio.get_running_loop()
        b = await loop.run_in_executor(rt, threading.get_ident)
        c = await asyncio.gather(*(rt.run(abs, -i) for i in range(20)))
        return a, b, c

    a, b, c = asyncio.run(main())
    assert a == "wrapped"
    assert b == rt.call(threading.get_ident)
    assert c == list(range(20))


def test_cancelling_the_task_cancels_the_queued_job(rt, blocker):
    ran = []

    async def main():
        task = asyncio.ensure_future(rt.run(ran.append, 1))
        await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    blocker.release()
    assert blocker.future.result(timeout=10) == "unblocked"
    assert rt.call(lambda: list(ran)) == []


def test_run_c_awaits_a_c_job(rt):
    libc = ctypes.CDLL(ctypes.util.find_library("c"))

    async def work():
        await rt.run_c(libc.usleep, 200_000)
        return await asyncio.wrap_future(rt.submit_c(libc.labs, 77))

    r, ticks = asyncio.run(while_ticking(work))
    assert r == 77
    assert ticks >= 3


def test_a_loop_that_stops_before_queueing_its_batch_loses_nothing(rt):
    """The loop stops right after fire-and-forget rt.run calls, before the callback
    that queues their batch ran: the thread's next use of the runtime queues it, in
    order (and a wait on one of its jobs does too)."""
    seen = []

    def stop_at_once(n):
        loop = asyncio.new_event_loop()

        def cb():
            for i in range(n):
                rt.run(seen.append, i)  # not awaited
            loop.stop()  # the loop ends before the queueing callback runs

        loop.call_soon(cb)
        loop.run_forever()
        loop.close()

    stop_at_once(3)
    assert rt._pending is not None  # the scenario: a batch nobody has queued yet

    async def later():
        return await rt.run(lambda: list(seen))

    assert asyncio.run(later()) == [0, 1, 2]
    stop_at_once(2)
    assert rt.submit(lambda: list(seen)).result(10) == [0, 1, 2, 0, 1]
    stop_at_once(1)
    assert rt.call(lambda: list(seen)) == [0, 1, 2, 0, 1, 0]
