"""rt.options(deadline, urgent) over qthr_submit_ex; on_interrupt through qthr_interrupt."""

import asyncio
import concurrent.futures
import ctypes
import ctypes.util
import threading
import time

import pytest

import qthr

libc = ctypes.CDLL(ctypes.util.find_library("c"))


def test_expired_job_never_runs_and_raises_expired_error(rt, blocker):
    ran = []
    fut = rt.options(deadline=0.05).submit(ran.append, 1)
    t0 = time.monotonic()
    with pytest.raises(qthr.ExpiredError) as info:
        fut.result(10)           # resolves once the deadline passed, the worker still busy
    assert time.monotonic() - t0 < 5
    assert isinstance(info.value, qthr.QthrError) and isinstance(info.value, TimeoutError)
    assert info.value.status == qthr.Status.EXPIRED
    assert fut.cancel() is False  # resolved
    cfut = rt.options(deadline=0.05).submit_c(libc.labs, 3)
    with pytest.raises(qthr.ExpiredError):
        cfut.result(10)
    blocker.release()
    rt.call(int)
    assert ran == []
    assert rt.stats()["expired"] >= 2


def test_deadline_met_runs_normally(rt):
    o = rt.options(deadline=5.0)
    assert o.submit(pow, 2, 8).result(10) == 256
    assert o.call(pow, 3, 2) == 9
    assert o.submit_c(libc.labs, 11).result(10) == 11

    async def main():
        return await o.run(abs, -4)

    assert asyncio.run(main()) == 4
    with pytest.raises(ZeroDivisionError):
        o.call(lambda: 1 / 0)


def test_urgent_jobs_run_before_queued_normal_ones(rt, blocker):
    order = []
    normal = [rt.submit(order.append, f"n{i}") for i in range(3)]
    normal_c = rt.options().submit(order.append, "n-opts")
    urgent = [rt.options(urgent=True).submit(order.append, f"u{i}") for i in range(2)]
    blocker.release()
    concurrent.futures.wait(normal + urgent + [normal_c], timeout=10)
    assert order == ["u0", "u1", "n0", "n1", "n2", "n-opts"], order


def test_options_validation_and_repr(rt):
    with pytest.raises(ValueError):
        rt.options(deadline=0)
    with pytest.raises(ValueError):
        rt.options(deadline=-1.0)
    o = rt.options(deadline=0.5, urgent=True)
    assert "deadline=0.5" in repr(o) and o.runtime is rt


def test_options_after_shutdown_raises():
    rt = qthr.Runtime()
    rt.shutdown()
    with pytest.raises(qthr.ShutdownError):
        rt.options(urgent=True).submit(int)


def test_core_interrupt_of_a_running_c_job_and_options_job():
    """Jobs that go through the core on their own: qthr_interrupt calls on_interrupt."""
    flag = threading.Event()
    hook_threads = []

    def hook():
        hook_threads.append(threading.get_ident())
        flag.set()

    started = threading.Event()

    @ctypes.CFUNCTYPE(ctypes.c_void_p, ctypes.c_void_p)
    def polling_job(arg):  # a C-callable job that polls the engine's stop flag
        started.set()
        flag.wait(30)
        return 7

    with qthr.Runtime(on_interrupt=hook) as rt:
        fut = rt.submit_c(polling_job)
        assert started.wait(10)
        assert fut.interrupt() is True
        assert fut.result(10) == 7
        assert hook_threads == [threading.get_ident()]
        assert fut.interrupt() is False  # finished
        flag.clear()
        started.clear()
        job = rt.options(deadline=30).submit(lambda: (started.set(), flag.wait(30), "stopped")[2])
        assert started.wait(10)
        assert job.interrupt() is True
        assert job.result(10) == "stopped"
        queued = rt.options().submit(int)
        assert queued.result(10) == 0
    with qthr.Runtime() as rt:  # no on_interrupt: a running job cannot be interrupted
        go = threading.Event()
        started.clear()

        @ctypes.CFUNCTYPE(ctypes.c_void_p, ctypes.c_void_p)
        def waiting_job(arg):
            started.set()
            go.wait(30)
            return 1

        f = rt.submit_c(waiting_job)
        assert started.wait(10)
        assert f.interrupt() is False
        go.set()
        assert f.result(10) == 1


def test_interrupt_withdraws_a_queued_core_job(rt, blocker):
    f = rt.options(deadline=30).submit(int)
    c = rt.submit_c(libc.labs, 1)
    assert f.interrupt() is True and f.cancelled()
    assert c.interrupt() is True and c.cancelled()
    with pytest.raises(concurrent.futures.CancelledError):
        f.result(1)
    blocker.release()


def test_options_futures_with_wait_and_callbacks(rt, blocker):
    o = rt.options(deadline=30)
    futs = [o.submit(abs, -i) for i in range(20)]
    got = []
    done_evt = threading.Event()
    futs[5].add_done_callback(lambda f: (got.append(f.result()), done_evt.set()))
    blocker.release()
    done, not_done = concurrent.futures.wait(futs, timeout=10)
    assert not not_done
    assert done_evt.wait(10) and got == [5]
    assert sorted(f.result() for f in concurrent.futures.as_completed(futs, timeout=10)) == list(range(20))
