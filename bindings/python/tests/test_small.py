"""Small things a Python user notices: thread name, contextvars, FORKED, stats, order."""

import asyncio
import concurrent.futures
import contextvars
import ctypes
import ctypes.util
import os
import subprocess
import sys
import textwrap
import threading

import pytest

import qthr

from support import PKG_ROOT
libc = ctypes.CDLL(ctypes.util.find_library("c"))


def test_worker_threading_name_is_the_runtime_name():
    with qthr.Runtime(name="my-engine-with-a-long-name") as rt:
        assert rt.call(lambda: threading.current_thread().name) == "my-engine-with-a-long-name"
        assert rt.submit(lambda: threading.current_thread().name).result() == \
            "my-engine-with-a-long-name"


def test_run_copies_contextvars_like_to_thread(rt):
    var = contextvars.ContextVar("var", default="unset")

    async def main():
        var.set("from the task")
        seen = await rt.run(var.get)
        await rt.run(var.set, "changed on the worker")  # a copy: the task keeps its value
        return seen, var.get()

    assert asyncio.run(main()) == ("from the task", "from the task")
    assert rt.call(var.get) == "unset"  # the worker's own context is untouched


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_inherited_runtime_reports_forked_not_shutdown():
    env = dict(os.environ, PYTHONPATH=PKG_ROOT)
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent("""
        import os, warnings, qthr
        warnings.simplefilter("ignore", DeprecationWarning)
        rt = qthr.Runtime()
        rt.call(int)
        pid = os.fork()
        if pid == 0:
            got = []
            for op in (lambda: rt.submit(int), lambda: rt.call(int), lambda: rt.stats(),
                       lambda: rt.submit_c(0x1, 0)):
                try:
                    op()
                    got.append("ok")
                except qthr.ShutdownError:
                    got.append("shutdown")
                except qthr.QthrError as e:
                    got.append(e.status.name)
            print(" ".join(got), flush=True)
            os._exit(0)
        os.waitpid(pid, 0)
        rt.shutdown()
    """)], env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["FORKED"] * 4, proc.stdout


def test_per_thread_order_with_c_jobs_and_python_jobs(rt):
    """Python jobs (lane) and C jobs (core) from one thread run in submission order."""
    seen = []
    lock = threading.Lock()

    @ctypes.CFUNCTYPE(ctypes.c_void_p, ctypes.c_void_p)
    def c_job(arg):
        with lock:
            seen.append(("c", arg))
        return 0

    def producer(t):
        futs = []
        for i in range(200):
            tag = t * 1000 + i + 1  # never 0: a NULL arg reaches ctypes as None
            if i % 3 == 0:
                futs.append(rt.submit_c(c_job, tag))
            else:
                futs.append(rt.submit(lambda tag=tag: seen.append(("py", tag))))
        for f in futs:
            f.result(30)

    ts = [threading.Thread(target=producer, args=(t,)) for t in range(4)]
    [t.start() for t in ts]
    [t.join() for t in ts]
    assert len(seen) == 800
    for t in range(4):
        mine = [tag for _, tag in seen if tag // 1000 == t]
        assert mine == sorted(mine), f"thread {t} out of order"


def test_stats_count_python_jobs_not_batches():
    with qthr.Runtime() as rt:
        before = rt.stats()
        futs = rt.submit_many(abs, [(-i,) for i in range(500)])
        assert [f.result(30) for f in futs] == list(range(500))
        go = threading.Event()
        started = threading.Event()
        rt.submit(lambda: (started.set(), go.wait(30)))
        assert started.wait(10)
        queued = [rt.submit(int) for _ in range(10)]
        mid = rt.stats()
        assert mid["queue_len"] == 10
        for f in queued[:4]:
            assert f.cancel()
        go.set()
        concurrent.futures.wait(queued, timeout=30)
        rt.call(int)
        after = rt.stats()
    assert after["submitted"] - before["submitted"] == 500 + 1 + 10 + 1
    assert after["completed"] - before["completed"] == 500 + 1 + 6 + 1
    assert after["cancelled"] - before["cancelled"] == 4
    assert after["queue_len"] == 0
    assert after["queue_high_water"] >= 10


def test_submit_many_and_map_use_batches(rt):
    futs = rt.submit_many(pow, [(2, i) for i in range(1000)])
    assert [f.result() for f in futs] == [2 ** i for i in range(1000)]
    assert list(rt.map(pow, [2] * 5, range(5))) == [1, 2, 4, 8, 16]


def test_queue_capacity_applies_to_the_python_lane():
    with qthr.Runtime(queue_capacity=8, nonblocking=True) as rt:
        go = threading.Event()
        started = threading.Event()
        rt.submit(lambda: (started.set(), go.wait(30)))
        assert started.wait(10)
        futs = [rt.submit(int) for _ in range(8)]
        with pytest.raises(qthr.QthrError) as info:
            rt.submit(int)
        assert info.value.status == qthr.Status.QUEUE_FULL
        go.set()
        concurrent.futures.wait(futs, timeout=30)
    with qthr.Runtime(queue_capacity=8) as rt:  # blocking: waits for room, loses nothing
        futs = [rt.submit(lambda i=i: i) for i in range(2000)]
        assert [f.result(30) for f in futs] == list(range(2000))
        assert rt.stats()["queue_high_water"] <= 8


def test_light_future_waiters_and_callbacks(rt):
    """Futures nobody waits on take no lock; those waited on behave as usual."""
    go = threading.Event()
    started = threading.Event()
    rt.submit(lambda: (started.set(), go.wait(30)))
    assert started.wait(10)
    futs = [rt.submit(lambda i=i: i) for i in range(50)]
    got = []
    futs[3].add_done_callback(lambda f: got.append(f.result()))
    results = []
    waiter = threading.Thread(target=lambda: results.append(futs[7].result(30)))
    waiter.start()
    threading.Timer(0.1, go.set).start()
    done, not_done = concurrent.futures.wait(futs, timeout=30)
    waiter.join(30)
    assert not not_done and got == [3] and results == [7]
    assert sorted(f.result() for f in concurrent.futures.as_completed(futs)) == list(range(50))
    assert "finished" in repr(futs[0])


def test_no_dead_worker_in_threading_enumerate():
    before = {t.ident for t in threading.enumerate()}
    for i in range(3):
        with qthr.Runtime(name=f"gone-{i}") as rt:
            ident = rt.call(threading.get_ident)
            assert any(t.ident == ident and t.name == f"gone-{i}" for t in threading.enumerate())
    after = {t.ident for t in threading.enumerate()}
    assert after <= before | {threading.get_ident()}, [t for t in threading.enumerate()]
