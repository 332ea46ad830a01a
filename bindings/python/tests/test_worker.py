"""on_start / on_stop, re-entrancy, the worker's Python thread state."""

import threading

import pytest

import qthr


def test_on_start_and_on_stop_run_on_the_worker():
    events = []
    rt = qthr.Runtime(
        name="hooks",
        on_start=lambda: events.append(("start", threading.get_ident())),
        on_stop=lambda: events.append(("stop", threading.get_ident())),
    )
    # on_start has finished when the constructor returns
    assert events and events[0][0] == "start"
    worker = rt.call(threading.get_ident)
    rt.submit(lambda: events.append(("job", threading.get_ident())))
    rt.shutdown()
    assert [e[0] for e in events] == ["start", "job", "stop"]
    assert {e[1] for e in events} == {worker}
    assert worker != threading.get_ident()


def test_on_start_failure_raises_start_failed():
    def bad_start():
        raise RuntimeError("engine would not load")

    with pytest.raises(qthr.QthrError) as info:
        qthr.Runtime(on_start=bad_start)
    assert info.value.status == qthr.Status.START_FAILED
    assert isinstance(info.value.__cause__, RuntimeError)
    assert "engine would not load" in str(info.value.__cause__)


def test_on_stop_failure_is_logged_not_raised(caplog):
    def bad_stop():
        raise RuntimeError("stop failed")

    rt = qthr.Runtime(on_stop=bad_stop)
    with caplog.at_level("ERROR", logger="qthr"):
        rt.shutdown()
    assert any("on_stop" in r.getMessage() for r in caplog.records)


def test_engine_made_in_on_start_is_used_by_jobs():
    state = threading.local()

    def load():
        state.engine = {"owner": threading.get_ident()}

    with qthr.Runtime(on_start=load) as rt:
        # threading.local set in on_start is still there for every job: the worker
        # keeps one Python thread state for its whole life
        assert rt.call(lambda: state.engine["owner"] == threading.get_ident())
        rt.call(lambda: setattr(state, "x", 1))
        assert rt.call(lambda: state.x) == 1
    assert not hasattr(state, "engine")


def test_call_inside_a_job_runs_inline(rt):
    def outer():
        me = threading.get_ident()
        inner = rt.call(threading.get_ident)
        deeper = rt.call(lambda: rt.call(lambda: 5))
        return me == inner, deeper

    assert rt.call(outer) == (True, 5)
    assert rt.submit(outer).result(timeout=10) == (True, 5)


def test_waiting_on_the_worker_for_a_queued_job_does_not_deadlock(rt):
    def outer():
        fut = rt.submit(lambda: "inner")
        return fut.result(timeout=10)

    assert rt.call(outer) == "inner"


def test_a_job_waiting_for_itself_is_an_error_not_a_hang(rt):
    box = {}

    def selfwait():
        return box["fut"].result()

    started = threading.Event()
    go = threading.Event()
    rt.submit(lambda: (started.set(), go.wait(10)))
    assert started.wait(10)
    box["fut"] = rt.submit(selfwait)
    go.set()
    with pytest.raises(qthr.QthrError) as info:
        box["fut"].result(timeout=10)
    assert info.value.status == qthr.Status.WOULD_DEADLOCK


def test_engine_callback_calls_back_into_the_engine(rt):
    """sqlite3 (the engine) calls a Python function on the worker; it calls rt.call."""
    import sqlite3

    conn = rt.call(sqlite3.connect, ":memory:", check_same_thread=True)

    def lookup(k):
        # runs on the worker inside sqlite3's execution of the outer statement
        return rt.call(lambda: conn.execute("select v from kv where k = ?", (k,)).fetchone()[0])

    def setup():
        conn.execute("create table kv(k primary key, v)")
        conn.executemany("insert into kv values (?, ?)", [(i, i * 10) for i in range(5)])
        conn.create_function("lookup", 1, lookup)

    rt.call(setup)
    rows = rt.call(lambda: conn.execute("select lookup(k) from kv order by k").fetchall())
    assert rows == [(0,), (10,), (20,), (30,), (40,)]
    rt.call(conn.close)


def test_two_runtimes_call_each_other():
    with qthr.Runtime(name="a") as a, qthr.Runtime(name="b") as b:
        ta = a.call(threading.get_ident)
        tb = b.call(threading.get_ident)
        assert ta != tb
        assert a.call(lambda: b.call(threading.get_ident)) == tb
        assert b.submit(a.call, threading.get_ident).result(timeout=10) == ta
