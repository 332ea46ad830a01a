"""Runtime as a concurrent.futures.Executor: submit, call, map, shutdown, errors."""

import concurrent.futures
import sys
import threading
import traceback

import pytest

import qthr


def test_call_returns_value(rt):
    assert rt.call(lambda: 6 * 7) == 42
    assert rt.call(pow, 2, 10) == 1024
    assert rt.call(dict, a=1) == {"a": 1}


def test_runtime_is_an_executor_and_futures_are_real(rt):
    assert isinstance(rt, concurrent.futures.Executor)
    fut = rt.submit(sum, [1, 2, 3])
    assert isinstance(fut, concurrent.futures.Future)
    assert fut.result(timeout=10) == 6
    assert fut.done() and not fut.cancelled()
    assert fut.exception() is None


def test_jobs_run_on_one_worker_thread_in_order(rt):
    main = threading.get_ident()
    idents = [rt.call(threading.get_ident) for _ in range(5)]
    assert len(set(idents)) == 1 and idents[0] != main
    seen = []
    futs = [rt.submit(seen.append, i) for i in range(200)]
    concurrent.futures.wait(futs, timeout=30)
    assert seen == list(range(200))
    assert rt.submit(threading.get_ident).result() == idents[0]


def test_on_worker(rt):
    assert rt.on_worker() is False
    assert rt.call(rt.on_worker) is True
    assert rt.submit(rt.on_worker).result() is True


def test_worker_thread_name():
    with qthr.Runtime(name="my-engine") as rt:
        assert rt.name == "my-engine"
        try:
            with open(f"/proc/self/task/{rt.call(threading.get_native_id)}/comm") as f:
                comm = f.read().strip()
        except OSError:
            pytest.skip("no /proc")
        assert comm == "my-engine"


def test_add_done_callback(rt):
    got = []
    done = threading.Event()

    def cb(f):
        got.append(f.result())
        done.set()

    rt.submit(lambda: "x").add_done_callback(cb)
    assert done.wait(10)
    assert got == ["x"]


def test_map(rt):
    assert list(rt.map(abs, [-1, -2, 3])) == [1, 2, 3]
    assert list(rt.map(pow, [2, 3], [3, 2], timeout=10)) == [8, 9]


def test_map_timeout(rt, blocker):
    it = rt.map(abs, [-1], timeout=0.05)
    with pytest.raises(concurrent.futures.TimeoutError):
        next(it)
    blocker.release()


def _inner_failure():
    raise ValueError("boom from the worker")


def _outer():
    _inner_failure()


def test_exception_keeps_original_traceback_call(rt):
    with pytest.raises(ValueError, match="boom from the worker") as info:
        rt.call(_outer)
    names = [fr.name for fr in traceback.extract_tb(info.value.__traceback__)]
    assert "_outer" in names and "_inner_failure" in names


def test_exception_keeps_original_traceback_submit(rt):
    fut = rt.submit(_outer)
    exc = fut.exception(timeout=10)
    assert isinstance(exc, ValueError)
    with pytest.raises(ValueError) as info:
        fut.result()
    names = [fr.name for fr in traceback.extract_tb(info.value.__traceback__)]
    assert "_inner_failure" in names


@pytest.mark.parametrize("exc_type", [SystemExit, KeyboardInterrupt, GeneratorExit])
def test_base_exception_reaches_caller_and_worker_survives(rt, exc_type):
    def job():
        raise exc_type("from job")

    worker = rt.call(threading.get_ident)
    with pytest.raises(exc_type):
        rt.call(job)
    fut = rt.submit(job)
    with pytest.raises(exc_type):
        fut.result(timeout=10)
    assert isinstance(fut.exception(), exc_type)
    # the same worker is still alive and serving
    assert rt.call(threading.get_ident) == worker
    assert rt.call(lambda: "alive") == "alive"


def test_result_timeout(rt, blocker):
    fut = rt.submit(lambda: 1)
    with pytest.raises(concurrent.futures.TimeoutError):
        fut.result(timeout=0.05)
    if sys.version_info >= (3, 11):  # before 3.11 concurrent.futures had its own class
        assert issubclass(qthr.TimeoutError, TimeoutError)
    blocker.release()
    assert fut.result(timeout=10) == 1


def test_cancel_queued_job(rt, blocker):
    ran = []
    fut = rt.submit(ran.append, 1)
    assert fut.cancel() is True
    assert fut.cancelled()
    with pytest.raises(concurrent.futures.CancelledError):
        fut.result()
    blocker.release()
    assert blocker.future.result(timeout=10) == "unblocked"
    assert rt.call(lambda: ran) == []
    assert rt.stats()["cancelled"] >= 1


def test_cancel_running_or_done_job_fails(rt, blocker):
    assert blocker.future.cancel() is False
    blocker.release()
    blocker.future.result(timeout=10)
    assert blocker.future.cancel() is False


def test_submit_after_shutdown_raises():
    rt = qthr.Runtime()
    rt.shutdown()
    with pytest.raises(qthr.ShutdownError) as info:
        rt.submit(print)
    assert isinstance(info.value, qthr.QthrError)
    assert isinstance(info.value, RuntimeError)  # what Executor users expect
    assert info.value.status == qthr.Status.SHUTDOWN
    with pytest.raises(qthr.ShutdownError):
        rt.call(print)
    rt.shutdown()  # idempotent
    rt.shutdown(wait=False, cancel_futures=True)


def test_context_manager_drains_queued_jobs():
    results = []
    with qthr.Runtime() as rt:
        for i in range(100):
            rt.submit(results.append, i)
    assert results == list(range(100))
    with pytest.raises(RuntimeError):
        rt.submit(print)


def test_shutdown_cancel_futures():
    rt = qthr.Runtime()
    go = threading.Event()
    started = threading.Event()
    first = rt.submit(lambda: (started.set(), go.wait(10), "first")[2])
    assert started.wait(10)
    queued = [rt.submit(lambda: "never") for _ in range(10)]
    threading.Timer(0.1, go.set).start()
    rt.shutdown(wait=True, cancel_futures=True)
    assert first.result(timeout=1) == "first"  # a running job always finishes
    assert all(f.cancelled() for f in queued)
    for f in queued:
        with pytest.raises(concurrent.futures.CancelledError):
            f.result(timeout=1)


def test_shutdown_no_wait_returns_at_once():
    stopped = threading.Event()
    rt = qthr.Runtime(on_stop=stopped.set)
    go = threading.Event()
    fut = rt.submit(go.wait, 10)
    queued = rt.submit(lambda: "drained")
    rt.shutdown(wait=False)
    assert not fut.done()
    with pytest.raises(qthr.ShutdownError):
        rt.submit(print)
    go.set()
    assert queued.result(timeout=10) == "drained"
    assert stopped.wait(10)
    rt.shutdown(wait=True)


def test_shutdown_from_worker():
    rt = qthr.Runtime()
    with pytest.raises(qthr.QthrError) as info:
        rt.call(rt.shutdown)
    assert info.value.status == qthr.Status.WOULD_DEADLOCK
    # wait=False is allowed on the worker: the shutdown completes after the job
    rt.call(rt.shutdown, wait=False)
    rt.shutdown(wait=True)
    with pytest.raises(qthr.ShutdownError):
        rt.call(print)


def test_stats(rt):
    before = rt.stats()
    assert set(before) == {"submitted", "completed", "cancelled", "queue_len", "queue_high_water",
                           "expired"}
    assert all(isinstance(v, int) for v in before.values())
    for _ in range(10):
        rt.call(int)
    concurrent.futures.wait([rt.submit(int) for _ in range(10)], timeout=10)
    rt.call(int)  # FIFO: the C side has counted every job before this one returns
    after = rt.stats()
    assert after["submitted"] - before["submitted"] >= 20
    assert after["completed"] - before["completed"] >= 20
    assert after["queue_len"] == 0


def test_nonblocking_queue_full():
    with qthr.Runtime(queue_capacity=2, nonblocking=True) as rt:
        go = threading.Event()
        started = threading.Event()
        rt.submit(lambda: (started.set(), go.wait(10)))
        assert started.wait(10)
        with pytest.raises(qthr.QthrError) as info:
            for _ in range(100):
                rt.submit(int)
        assert info.value.status == qthr.Status.QUEUE_FULL
        go.set()


def test_blocking_queue_waits_for_room():
    with qthr.Runtime(queue_capacity=1) as rt:
        futs = [rt.submit(lambda i=i: i) for i in range(50)]
        assert [f.result(timeout=10) for f in futs] == list(range(50))
        assert rt.stats()["queue_high_water"] <= 1


def test_queue_capacity_validation():
    with pytest.raises(ValueError):
        qthr.Runtime(queue_capacity=0)


def test_errors_and_status():
    err = qthr.QthrError(qthr.Status.QUEUE_FULL)
    assert err.status is qthr.Status.QUEUE_FULL
    assert "QUEUE_FULL" in str(err)
    assert issubclass(qthr.ShutdownError, qthr.QthrError)
    assert qthr.CancelledError is concurrent.futures.CancelledError
    assert qthr.status_str(qthr.Status.OK)
    major, minor, patch = qthr.version()
    assert (major, minor, patch) >= (0, 0, 0)


def test_many_threads_call_concurrently(rt):
    counter = {"n": 0}

    def bump():
        counter["n"] += 1
        return counter["n"]

    def worker():
        for _ in range(200):
            rt.call(bump)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert rt.call(lambda: counter["n"]) == 1600


def test_no_per_job_state_is_left_behind():
    from qthr import _core_jobs, _drainer

    with qthr.Runtime() as rt:
        for _ in range(200):
            rt.call(int)
        futs = [rt.submit(int) for _ in range(200)]
        for f in futs[::2]:
            f.cancel()
        concurrent.futures.wait(futs, timeout=30)
        with pytest.raises(ZeroDivisionError):
            rt.call(lambda: 1 / 0)
        rt.call(int)
    assert not _core_jobs._jobs
    assert not [b for b in _drainer._batches.values() if b.rt is rt]
    assert not rt._live_batches and rt._open is None and rt._pending is None
    assert rt not in qthr.runtimes()


def test_no_lane_state_is_left_behind_after_asyncio_and_cancels():
    import asyncio
    from qthr import _drainer

    with qthr.Runtime() as rt:
        async def main():
            futs = [rt.run(abs, -i) for i in range(300)]
            for f in futs[::3]:
                f.cancel()
            return await asyncio.gather(*futs, return_exceptions=True)
        res = asyncio.run(main())
        assert [r for r in res if not isinstance(r, BaseException)] == \
            [i for i in range(300) if i % 3]
        rt.call(int)
        st = rt.stats()
        assert st["queue_len"] == 0 and st["submitted"] == st["completed"] + st["cancelled"]
    assert not [b for b in _drainer._batches.values() if b.rt is rt]
    assert not rt._live_batches


def test_cpu_pinning_and_bad_config():
    import os

    if not hasattr(os, "sched_getaffinity"):
        pytest.skip("no sched_getaffinity")
    cpu = sorted(os.sched_getaffinity(0))[-1]
    with qthr.Runtime(cpu=cpu) as rt:
        assert rt.call(os.sched_getaffinity, 0) == {cpu}
    with pytest.raises(qthr.QthrError) as info:
        qthr.Runtime(cpu=999)  # no such CPU here
    assert info.value.status in (qthr.Status.START_FAILED, qthr.Status.INVALID_ARGUMENT)
    with pytest.raises(qthr.QthrError) as info:
        qthr.Runtime(queue_capacity=1 << 40)
    assert info.value.status == qthr.Status.INVALID_ARGUMENT
