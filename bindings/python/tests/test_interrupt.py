"""Ctrl-C: real SIGINTs to subprocesses; on_interrupt; fut.interrupt()."""

import signal
import threading
import time

import pytest

import qthr

from support import run_py, start_py

# A query that runs for minutes unless interrupted.
LONG_QUERY = ("with recursive c(x) as (select 1 union all select x + 1 from c) "
              "select count(*) from c")



def interrupt_when_ready(proc, signals=1, gap=0.3):
    """Wait for the child's "ready" line, send SIGINT(s); return (stdout, stderr, seconds
    from the first SIGINT to the child's "interrupted" line)."""
    line = proc.stdout.readline()
    assert line.strip() == "ready", (line, proc.stderr.read() if proc.poll() is not None else "")
    time.sleep(0.2)  # the child is now blocked in the call
    t0 = time.monotonic()
    proc.send_signal(signal.SIGINT)
    for _ in range(signals - 1):
        time.sleep(gap)
        proc.send_signal(signal.SIGINT)
    # a child that never reacts is killed, and the test fails instead of hanging
    timer = threading.Timer(60, proc.kill)
    timer.start()
    try:
        first = proc.stdout.readline()
        dt = time.monotonic() - t0
        # read the rest through the same buffered file objects (communicate() would
        # read the raw pipes and lose what readline() has already buffered)
        out = proc.stdout.read()
        err = proc.stderr.read()
        proc.wait()
    finally:
        timer.cancel()
    return first + out, err, dt


@pytest.mark.parametrize("how", ["call", "result", "run"])
def test_ctrl_c_interrupts_a_running_sqlite_query(how):
    """The job runs a recursive CTE that would take minutes; Ctrl-C calls
    on_interrupt (conn.interrupt) on the main thread, the query stops."""
    proc = start_py("""
        import asyncio, sqlite3, time, qthr
        HOW = %r
        conn = None
        def open_db():
            global conn
            conn = sqlite3.connect(":memory:")
        rt = qthr.Runtime(on_start=open_db, on_interrupt=lambda: conn.interrupt())
        def query():
            return conn.execute(%r).fetchone()
        def go():
            if HOW == "call":
                return rt.call(query)
            if HOW == "result":
                return rt.submit(query).result()
            async def main():
                return await rt.run(query)
            return asyncio.run(main())
        print("ready", flush=True)
        t0 = time.monotonic()
        try:
            go()
            print("finished")
        except KeyboardInterrupt:
            print("interrupted", flush=True)
        # the query was stopped: the worker is free again at once
        t1 = time.monotonic()
        print("next", rt.call(lambda: conn.execute("select 41 + 1").fetchone()[0]),
              round(time.monotonic() - t1, 1) < 2)
        rt.shutdown()
    """ % (how, LONG_QUERY))
    out, err, dt = interrupt_when_ready(proc)
    assert proc.returncode == 0, err
    assert out.split() == ["interrupted", "next", "42", "True"], (out, err)
    assert dt < 2.0, dt  # prompt (typically well under 0.2 s; the machine may be busy)


@pytest.mark.parametrize("how", ["call", "result"])
def test_ctrl_c_withdraws_a_queued_job_and_leaves_a_running_one_without_hook(how):
    proc = start_py("""
        import threading, time, qthr
        HOW = %r
        ran = []
        rt = qthr.Runtime()   # no on_interrupt
        go = threading.Event()
        running = rt.submit(lambda: (go.wait(30), ran.append("first")))
        print("ready", flush=True)
        try:
            if HOW == "call":
                rt.call(ran.append, "queued")
            else:
                rt.submit(ran.append, "queued").result()
        except KeyboardInterrupt:
            print("interrupted", flush=True)
        go.set()
        running.result()
        rt.call(int)
        print(ran)
        rt.shutdown()
    """ % how)
    out, err, dt = interrupt_when_ready(proc)
    assert proc.returncode == 0, err
    assert out.split("\n")[:2] == ["interrupted", "['first']"], (out, err)
    assert dt < 2.0


def test_second_ctrl_c_at_exit_abandons_the_drain():
    proc = start_py("""
        import time, qthr
        rt = qthr.Runtime(on_stop=lambda: print("on_stop", flush=True))
        for _ in range(100):
            rt.submit(time.sleep, 0.2)   # 20 s of queued work, drained at exit
        print("ready", flush=True)
        time.sleep(60)
    """)
    t0 = time.monotonic()
    out, err, _ = interrupt_when_ready(proc, signals=2, gap=0.5)
    assert time.monotonic() - t0 < 8, (out, err)
    assert "KeyboardInterrupt" in err  # the first one stopped the main program
    assert "interrupted at exit" in err or proc.returncode != 0, err


def test_log_callback_does_not_swallow_ctrl_c():
    """A KeyboardInterrupt raised while the main thread runs the log trampoline
    comes back in the main thread (it used to be dropped)."""
    from qthr import _logging

    got = []
    handler = signal.getsignal(signal.SIGINT)
    try:
        signal.signal(signal.SIGINT, lambda *a: got.append("sigint"))

        def raising_log(*args):
            raise KeyboardInterrupt

        import logging
        logger = logging.getLogger("qthr")
        old = logger.isEnabledFor
        logger.isEnabledFor = lambda level: raising_log()  # type: ignore[method-assign]
        try:
            _logging._on_log(None, 3, b"record")
        finally:
            logger.isEnabledFor = old  # type: ignore[method-assign]
        for _ in range(100):
            if got:
                break
            time.sleep(0.01)
    finally:
        signal.signal(signal.SIGINT, handler)
    assert got == ["sigint"]


def test_future_interrupt_with_and_without_hook():
    hooks = []
    started = threading.Event()
    stop = threading.Event()
    with qthr.Runtime(on_interrupt=lambda: (hooks.append(threading.get_ident()), stop.set())) as rt:
        running = rt.submit(lambda: (started.set(), stop.wait(30), "stopped")[2])
        queued = rt.submit(lambda: "never")
        assert started.wait(10)
        assert queued.interrupt() is True and queued.cancelled()
        assert running.interrupt() is True
        assert running.result(10) == "stopped"
        assert hooks == [threading.get_ident()]  # called on the interrupting thread
        assert running.interrupt() is False      # already finished
    with qthr.Runtime() as rt:
        go = threading.Event()
        started.clear()
        f = rt.submit(lambda: (started.set(), go.wait(30)))
        assert started.wait(10)
        assert f.interrupt() is False            # running, no hook: keeps running
        go.set()
        f.result(10)


def test_on_interrupt_is_never_called_after_the_job_returned():
    calls = []
    in_hook = threading.Event()
    release = threading.Event()

    def hook():
        calls.append("hook")
        in_hook.set()
        release.wait(5)

    with qthr.Runtime(on_interrupt=hook) as rt:
        started = threading.Event()
        fut = rt.submit(lambda: (started.set(), time.sleep(0.05), calls.append("job end")))
        assert started.wait(10)
        t = threading.Thread(target=fut.interrupt)
        t.start()
        assert in_hook.wait(5)
        time.sleep(0.1)          # the job has returned meanwhile, but is not resolved yet
        assert not fut.done()
        release.set()
        t.join()
        fut.result(10)
        assert calls == ["hook", "job end"] or calls == ["job end"]


def test_cancelled_asyncio_task_calls_on_interrupt_for_a_running_job():
    import asyncio

    stop = threading.Event()
    with qthr.Runtime(on_interrupt=stop.set) as rt:
        started = threading.Event()

        async def main():
            task = asyncio.ensure_future(rt.run(lambda: (started.set(), stop.wait(30))))
            while not started.is_set():
                await asyncio.sleep(0.01)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task

        asyncio.run(main())
        assert stop.wait(5)


def test_ctrl_c_interrupts_a_main_thread_waiting_on_a_future():
    proc = run_py("""
        import os, signal, threading, time, qthr
        rt = qthr.Runtime()
        fut = rt.submit(time.sleep, 1.5)
        threading.Timer(0.2, os.kill, (os.getpid(), signal.SIGINT)).start()
        try:
            fut.result()
            print("not interrupted")
        except KeyboardInterrupt:
            print("interrupted", "while-running" if not fut.done() else "after")
        rt.shutdown(cancel_futures=True)
    """, sigint=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["interrupted", "while-running"]
