"""submit_c: C function jobs that run on the worker without the GIL."""

import concurrent.futures
import ctypes
import ctypes.util
import threading
import time

import pytest

import qthr

libc = ctypes.CDLL(ctypes.util.find_library("c"))


def test_submit_c_result_is_an_int_address(rt):
    fut = rt.submit_c(libc.labs, 12345)
    assert isinstance(fut, concurrent.futures.Future)
    assert fut.result(timeout=10) == 12345
    addr = ctypes.cast(libc.labs, ctypes.c_void_p).value
    assert rt.submit_c(addr, 7).result(timeout=10) == 7
    assert rt.submit_c(libc.labs, None).result(timeout=10) == 0
    assert rt.call_c(libc.labs, 99) == 99


def test_submit_c_with_a_ctypes_buffer(rt):
    buf = ctypes.create_string_buffer(b"hello qthr")
    assert rt.submit_c(libc.strlen, buf).result(timeout=10) == 10


def test_a_ctypes_callback_as_job(rt):
    @ctypes.CFUNCTYPE(ctypes.c_void_p, ctypes.c_void_p)
    def job(arg):
        return threading.get_ident() if arg == 5 else 0

    assert rt.submit_c(job, 5).result(timeout=10) == rt.call(threading.get_ident)


def test_done_callback_without_any_waiter(rt):
    """Nobody calls result(): the reaper learns of completion through the eventfd."""
    done = threading.Event()
    got = []
    fut = rt.submit_c(libc.labs, 41)
    fut.add_done_callback(lambda f: (got.append(f.result()), done.set()))
    assert done.wait(10)
    assert got == [41]


def test_many_c_jobs_complete(rt):
    futs = [rt.submit_c(libc.labs, i) for i in range(300)]
    done, not_done = concurrent.futures.wait(futs, timeout=30)
    assert not not_done
    assert [f.result() for f in futs] == list(range(300))


def test_long_c_job_does_not_block_other_python_threads(rt):
    samples = []
    stop = threading.Event()

    def ticker():
        while not stop.is_set():
            samples.append(time.monotonic())
            time.sleep(0.001)

    t = threading.Thread(target=ticker)
    t.start()
    try:
        t0 = time.monotonic()
        fut = rt.submit_c(libc.usleep, 600_000)  # 0.6 s in C on the worker
        # meanwhile Python keeps running on the other threads
        middle = [s for s in samples if t0 + 0.15 < s < t0 + 0.45]
        fut.result(timeout=30)
        middle = [s for s in samples if t0 + 0.15 < s < t0 + 0.45]
    finally:
        stop.set()
        t.join()
    assert len(middle) >= 5


def test_c_job_never_needs_the_gil():
    """Hold the GIL (a PyDLL call does not release it) while a C job runs and
    completes: if the worker needed the GIL, the wait would time out."""
    pylib = ctypes.PyDLL(qthr.LIBRARY_PATH)
    pylib.qthr_wait.restype = ctypes.c_uint32
    pylib.qthr_wait.argtypes = [ctypes.c_void_p, ctypes.c_int64, ctypes.POINTER(ctypes.c_void_p)]
    with qthr.Runtime(name="nogil") as rt:
        rt.call(int)  # the worker is up and idle
        fut = rt.submit_c(libc.usleep, 100_000)
        res = ctypes.c_void_p()
        st = pylib.qthr_wait(fut._qthr_cfut, 10_000_000_000, ctypes.byref(res))  # GIL held
        assert st == qthr.Status.OK
        assert fut.result(timeout=10) == (res.value or 0)


def test_cancel_a_queued_c_job(rt, blocker):
    fut = rt.submit_c(libc.labs, 3)
    assert fut.cancel() is True
    assert fut.cancelled()
    with pytest.raises(concurrent.futures.CancelledError):
        fut.result()
    blocker.release()
    assert rt.submit_c(libc.labs, 4).result(timeout=10) == 4


def test_c_job_result_timeout(rt, blocker):
    fut = rt.submit_c(libc.labs, 3)
    with pytest.raises(concurrent.futures.TimeoutError):
        fut.result(timeout=0.05)
    blocker.release()
    assert fut.result(timeout=10) == 3


def test_shutdown_cancel_resolves_c_futures():
    rt = qthr.Runtime()
    started = threading.Event()
    go = threading.Event()
    rt.submit(lambda: (started.set(), go.wait(10)))
    assert started.wait(10)
    futs = [rt.submit_c(libc.labs, i) for i in range(5)]
    threading.Timer(0.1, go.set).start()
    rt.shutdown(cancel_futures=True)
    done, not_done = concurrent.futures.wait(futs, timeout=10)
    assert not not_done and all(f.cancelled() for f in futs)


def test_submit_c_type_errors(rt):
    with pytest.raises(TypeError):
        rt.submit_c("not a function", None)
    with pytest.raises(TypeError):
        rt.submit_c(libc.labs, object())


def test_as_completed_and_late_callbacks(rt):
    futs = [rt.submit_c(libc.labs, i) for i in range(20)]
    assert sorted(f.result() for f in concurrent.futures.as_completed(futs, timeout=30)) == list(range(20))
    fut = rt.submit_c(libc.labs, 8)
    rt.call(int)  # the C job has finished (FIFO), but nobody has looked yet
    got = []
    fut.add_done_callback(lambda f: got.append(f.result()))
    assert got == [8]  # already finished: called at once


def test_wait_first_completed_on_a_slow_c_job(rt):
    slow = rt.submit_c(libc.usleep, 200_000)
    done, pending = concurrent.futures.wait([slow], timeout=0.01)
    assert not done and pending == {slow}
    done, pending = concurrent.futures.wait([slow], timeout=30)
    assert done == {slow}


def test_dropped_c_future_keeps_its_function_and_argument_alive():
    """A CFuture dropped while its job is queued: the ctypes callback and buffer it
    uses must live until the job has run (else the worker would call freed memory)."""
    import subprocess
    import sys
    import textwrap

    code = textwrap.dedent("""
        import ctypes, gc, sys, threading
        sys.path.insert(0, sys.argv[1])
        import qthr
        from qthr import _reaper
        seen = []
        rt = qthr.Runtime()
        go = threading.Event(); started = threading.Event()
        rt.submit(lambda: (started.set(), go.wait(10)))
        started.wait(10)
        def make():
            buf = ctypes.create_string_buffer(b"still here")
            @ctypes.CFUNCTYPE(ctypes.c_void_p, ctypes.c_void_p)
            def job(arg):
                seen.append(ctypes.string_at(arg))
                return 0
            rt.submit_c(job, buf)      # future, callback and buffer all dropped
        for _ in range(20):
            make()
        gc.collect()
        go.set()
        rt.call(int)                   # FIFO: the C jobs ran
        for _ in range(200):
            if not _reaper._reaper.pending:
                break
            threading.Event().wait(0.01)
        print(len(seen), set(seen) == {b"still here"}, len(_reaper._reaper.pending))
        rt.shutdown()
    """)
    proc = subprocess.run([sys.executable, "-c", code, qthr.__path__[0] + "/.."],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["20", "True", "0"]
