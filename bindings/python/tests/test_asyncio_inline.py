"""asyncio: an ``await rt.run`` whose loop has nothing else ready waits for the
job before suspending (qthr._asyncio_jobs). These tests check that this keeps
asyncio's semantics: results, exceptions with tracebacks, cancellation, other
tasks, timers and I/O still get their turns, long jobs do not block the loop."""

import asyncio
import threading
import time
import traceback

import pytest


def noop():
    return None


def test_a_tight_loop_of_awaits_still_gives_timers_their_turn(rt):
    """Awaits that finish without suspending must not starve the loop: a 5 ms
    timer keeps firing while a task does nothing but ``await rt.run(noop)``
    for half a second, and the loop gets a turn at least every few awaits
    (white box: each inline await leaves one cancelled handle in the loop's
    ready queue until the loop's next turn)."""

    async def main():
        loop = asyncio.get_running_loop()
        ticks = 0

        def tick():
            nonlocal ticks
            ticks += 1
            loop.call_later(0.005, tick)

        loop.call_later(0.005, tick)
        end = time.monotonic() + 0.5
        most = 0
        while time.monotonic() < end:
            assert await rt.run(noop) is None
            most = max(most, len(getattr(loop, "_ready", ())))
        return ticks, most

    ticks, most = asyncio.run(main())
    assert ticks >= 10
    assert most <= 16


def test_a_tight_loop_of_awaits_lets_another_task_run(rt):
    async def main():
        ran = 0
        stop = False

        async def other():
            nonlocal ran
            while not stop:
                ran += 1
                await asyncio.sleep(0)

        t = asyncio.ensure_future(other())
        for i in range(500):
            assert await rt.run(abs, -i) == i
        stop = True
        await t
        return ran

    assert asyncio.run(main()) > 0


def test_exceptions_keep_their_traceback(rt):
    def inner_failure():
        raise ValueError("from the worker")

    def job():
        inner_failure()

    async def main():
        for _ in range(3):  # whichever path the await takes
            with pytest.raises(ValueError, match="from the worker") as info:
                await rt.run(job)
            names = [f.name for f in traceback.extract_tb(info.value.__traceback__)]
            assert "inner_failure" in names and "job" in names
        with pytest.raises(RuntimeError) as info:
            await rt.run(next, iter(()))  # StopIteration cannot cross a coroutine
        assert isinstance(info.value.__cause__, StopIteration)

    asyncio.run(main())


def test_a_job_longer_than_the_wait_and_short_ones_after_it(rt):
    async def main():
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        ticks = []
        loop.call_later(0.02, lambda: ticks.append(loop.time() - t0))
        assert await rt.run(lambda: (time.sleep(0.2), "slow")[1]) == "slow"
        assert ticks and ticks[0] < 0.15  # the loop ran while the job did
        return [await rt.run(abs, -i) for i in range(200)]

    assert asyncio.run(main()) == list(range(200))


def test_a_job_awaited_after_a_turn_of_the_loop(rt):
    async def main():
        f = rt.run(abs, -5)
        await asyncio.sleep(0)
        g = rt.run(abs, -6)
        await asyncio.sleep(0.01)
        return await f, await g, await f

    assert asyncio.run(main()) == (5, 6, 5)


def test_cancelling_a_task_that_waits_for_a_queued_job_withdraws_it(rt, blocker):
    ran = []

    async def main():
        task = asyncio.ensure_future(rt.run(ran.append, 1))
        await asyncio.sleep(0.05)  # the task waits: the worker is blocked
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        # the next await, with the worker still blocked, times out its short
        # wait and suspends; it completes once the worker is free
        later = asyncio.ensure_future(rt.run(lambda: list(ran)))
        await asyncio.sleep(0.05)
        blocker.release()
        return await later

    assert asyncio.run(main()) == []
    assert blocker.future.result(timeout=10) == "unblocked"


def test_loops_in_two_threads_at_once(rt):
    results = {}

    def run_loop(k):
        async def main():
            return [await rt.run(lambda i=i: (k, i)) for i in range(300)]
        results[k] = asyncio.run(main())

    ts = [threading.Thread(target=run_loop, args=(k,)) for k in range(2)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(60)
    for k in range(2):
        assert results[k] == [(k, i) for i in range(300)]


def test_job_order_holds_with_submits_from_another_thread(rt):
    seen = []
    stop = threading.Event()

    def other():
        i = 0
        while not stop.is_set():
            rt.submit(seen.append, ("t", i)).result(10)
            i += 1

    t = threading.Thread(target=other)
    t.start()
    try:
        async def main():
            for i in range(300):
                await rt.run(seen.append, ("a", i))
        asyncio.run(main())
    finally:
        stop.set()
        t.join(10)
    mine = [i for who, i in rt.call(lambda: list(seen)) if who == "a"]
    assert mine == list(range(300))


def test_stats_count_every_await_once(rt):
    """The inline wait queues extra C jobs (the gate before its drainer, see
    qthr._drainer): stats() must count only the user's jobs."""
    before = rt.stats()

    async def main():
        for i in range(100):
            assert await rt.run(abs, -i) == i
        assert await asyncio.gather(*(rt.run(abs, i) for i in range(50))) == list(range(50))

    asyncio.run(main())
    rt.call(noop)  # after the last drainer returned: stats are exact when nothing runs
    after = rt.stats()
    assert after["submitted"] - before["submitted"] == 151
    assert after["completed"] - before["completed"] == 151
    assert after["cancelled"] == before["cancelled"]
    assert after["queue_len"] == 0
    rt.shutdown()
    final = rt.stats()
    assert final["submitted"] == final["completed"] + final["cancelled"]
    assert final["submitted"] - before["submitted"] == 151
