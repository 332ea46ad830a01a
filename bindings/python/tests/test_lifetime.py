"""Engine objects never die on the wrong thread: rt.create, proxies released at shutdown."""

import textwrap
import threading

import pytest

import qthr

from support import run_py


def _has_tk():
    try:
        import tkinter

        tkinter.Tcl()
        return True
    except Exception:
        return False


needs_tk = pytest.mark.skipif(not _has_tk(), reason="tkinter/Tcl is not installed")

# Shared by the scenarios: 8 threads use the engine through the proxy.
PRELUDE = """
import threading, qthr

def run8(step):
    errors = []
    def work(t):
        try:
            for i in range(50):
                step(t, i)
        except BaseException as exc:
            errors.append(exc)
    ts = [threading.Thread(target=work, args=(t,)) for t in range(8)]
    [t.start() for t in ts]; [t.join() for t in ts]
    assert not errors, errors
"""


@needs_tk
@pytest.mark.parametrize("ending", ["shutdown", "with", "atexit"])
def test_tcl_interpreter_through_create_dies_on_its_thread(ending):
    """tkinter.Tcl: an interpreter deleted on another thread aborts the process
    ("Tcl_AsyncDelete: async handler deleted by the wrong thread")."""
    code = PRELUDE + textwrap.dedent("""
        import tkinter
        ENDING = %r
        rt = qthr.Runtime(name="tcl")
        tcl = rt.create(tkinter.Tcl)
        tcl.eval("set n 0")
        run8(lambda t, i: tcl.eval("incr n"))
        assert tcl.eval("set n") == "400"
        cmd = tcl.eval               # a method of the proxy, kept too
        if ENDING == "with":
            with rt:
                pass
        elif ENDING == "shutdown":
            rt.shutdown()
        if ENDING != "atexit":       # else the atexit hook shuts the runtime down
            for use in (lambda: tcl.eval("set n"), lambda: cmd("set n")):
                try:
                    use()
                except qthr.ShutdownError:
                    print("ShutdownError")
        print("done")
    """ % ending)
    proc = run_py(code)
    assert proc.returncode == 0, (proc.returncode, proc.stderr)
    want = ["done"] if ending == "atexit" else ["ShutdownError", "ShutdownError", "done"]
    assert proc.stdout.split() == want, proc.stdout
    assert "Tcl_AsyncDelete" not in proc.stderr and "Traceback" not in proc.stderr, proc.stderr


@pytest.mark.parametrize("ending", ["shutdown", "atexit"])
def test_sqlite_connection_through_create_closes_on_its_thread(ending):
    proc = run_py(PRELUDE + textwrap.dedent("""
        import sqlite3
        ENDING = %r
        rt = qthr.Runtime(name="sqlite")
        db = rt.create(sqlite3.connect, ":memory:", check_same_thread=True)
        db.execute("create table t(k integer primary key, v)")
        run8(lambda t, i: db.execute("insert into t(v) values (?)", (t,)))
        cur = db.execute("select count(*) from t")   # a proxied cursor, alive at shutdown
        assert isinstance(cur, qthr.Proxy)
        assert cur.fetchone() == (400,)
        if ENDING == "shutdown":
            rt.shutdown()
            for use in (lambda: db.execute("select 1"), lambda: cur.fetchone()):
                try:
                    use()
                except qthr.ShutdownError:
                    print("ShutdownError")
        print("done")
    """ % ending))
    assert proc.returncode == 0, proc.stderr
    want = ["ShutdownError", "ShutdownError", "done"] if ending == "shutdown" else ["done"]
    assert proc.stdout.split() == want
    assert "Traceback" not in proc.stderr and "ProgrammingError" not in proc.stderr, proc.stderr


class Tracked:
    deaths = []

    def __init__(self, tag):
        self.tag = tag

    def __del__(self):
        Tracked.deaths.append((self.tag, threading.get_ident()))

    def child(self, tag):
        return Tracked(tag)


def test_live_proxies_are_released_on_the_worker_before_on_stop():
    order = []
    rt = qthr.Runtime(on_stop=lambda: order.append(("on_stop", list(Tracked.deaths))))
    Tracked.deaths.clear()
    worker = rt.call(threading.get_ident)
    p = rt.create(Tracked, "root")
    c = p.child("child")            # a result wrapped on the worker
    assert isinstance(c, qthr.Proxy) and c.tag == "child"
    rt.shutdown()
    # both died on the worker, before on_stop ran
    assert sorted(Tracked.deaths) == [("child", worker), ("root", worker)]
    assert order and sorted(order[0][1]) == sorted(Tracked.deaths)
    with pytest.raises(qthr.ShutdownError):
        p.tag
    with pytest.raises(qthr.ShutdownError):
        c.child("x")
    assert "released" in repr(p)
    del p, c  # dropping released proxies afterwards is harmless


def test_create_never_hands_the_raw_object_out(rt):
    seen = []

    class Engine:
        def __init__(self):
            seen.append(threading.get_ident())

        def me(self):
            return self            # the object itself: comes back as the same proxy

    p = rt.create(Engine)
    assert isinstance(p, qthr.Proxy)
    assert seen == [rt.call(threading.get_ident)]
    assert p.me() is p
    with pytest.raises(qthr.ShutdownError):
        rt.shutdown()
        rt.create(Engine)


def test_proxy_dropped_on_another_thread_dies_on_the_worker(rt):
    import gc

    Tracked.deaths.clear()
    worker = rt.call(threading.get_ident)
    box = [rt.create(Tracked, "t")]
    t = threading.Thread(target=box.clear)
    t.start()
    t.join()
    gc.collect()
    rt.call(int)  # FIFO: the release job has run
    assert Tracked.deaths == [("t", worker)]
