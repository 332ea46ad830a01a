"""proxy(obj): attribute reads, writes and method calls run on the worker."""

import sqlite3
import threading

import pytest

import qthr


def test_seed_scenario_8_threads_upsert_through_a_worker_owned_connection(rt):
    conn = rt.call(sqlite3.connect, ":memory:", check_same_thread=True)
    # the connection really is confined: touching it here raises
    with pytest.raises(sqlite3.ProgrammingError):
        conn.execute("select 1")
    db = rt.proxy(conn)
    db.execute("create table kv(k integer primary key, v integer, n integer)")

    threads_n, keys_per_thread, rounds = 8, 50, 3
    errors = []

    def writer(t):
        try:
            for r in range(rounds):
                for i in range(keys_per_thread):
                    k = t * keys_per_thread + i
                    db.execute(
                        "insert into kv(k, v, n) values (?, ?, 1) "
                        "on conflict(k) do update set v = excluded.v, n = n + 1",
                        (k, r),
                    )
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(t,)) for t in range(threads_n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    db.commit()
    assert db.execute("select count(*) from kv").fetchone() == (threads_n * keys_per_thread,)
    assert db.execute("select min(n), max(n), min(v), max(v) from kv").fetchone() == (
        rounds, rounds, rounds - 1, rounds - 1)
    db.close()


def test_results_that_are_engine_objects_are_proxied(rt):
    db = rt.proxy(rt.call(sqlite3.connect, ":memory:"))
    db.execute("create table t(x)")
    db.executemany("insert into t values (?)", [(i,) for i in range(5)])
    cur = db.execute("select x from t order by x")
    assert isinstance(cur, qthr.Proxy)
    assert isinstance(qthr.unwrap(cur), sqlite3.Cursor)
    assert [row for row in cur] == [(i,) for i in range(5)]  # iteration on the worker
    assert db.execute("select x from t where x > 2 order by x").fetchall() == [(3,), (4,)]
    with db:  # the connection's own context manager (commit), run on the worker
        db.execute("insert into t values (9)")
    assert db.execute("select count(*) from t").fetchone()[0] == 6
    assert db.in_transaction is False  # a plain attribute read
    db.close()


class Engine:
    def __init__(self):
        self.owner = threading.get_ident()
        self.log = []
        self._level = 0
        self.items = {}

    @property
    def level(self):
        self.log.append(("get", threading.get_ident()))
        return self._level

    @level.setter
    def level(self, value):
        self.log.append(("set", threading.get_ident()))
        self._level = value

    def where(self):
        return threading.get_ident()

    def __len__(self):
        return len(self.items)

    def __getitem__(self, k):
        return self.items[k]

    def __setitem__(self, k, v):
        self.log.append(("setitem", threading.get_ident()))
        self.items[k] = v

    def __contains__(self, k):
        return k in self.items

    def __call__(self, x):
        return (x, threading.get_ident())

    def boom(self):
        raise KeyError("nope")


def test_attribute_reads_writes_and_calls_run_on_the_worker(rt):
    worker = rt.call(threading.get_ident)
    eng = rt.call(Engine)
    p = rt.proxy(eng)
    assert p.owner == worker
    p.level = 3
    assert p.level == 3
    assert p.where() == worker
    p["a"] = 1
    assert len(p) == 1 and p["a"] == 1 and "a" in p and "b" not in p
    assert p(5) == (5, worker)
    p.new_attr = "x"
    assert eng.new_attr == "x"
    del p.new_attr
    assert not hasattr(eng, "new_attr")
    assert {ident for _, ident in eng.log} == {worker}
    with pytest.raises(KeyError):
        p.boom()
    with pytest.raises(AttributeError):
        p.missing
    assert "Engine" in repr(p)


def test_proxy_args_are_unwrapped_on_the_worker(rt):
    a = rt.proxy(rt.call(list))
    b = rt.proxy(rt.call(list))
    a.append(1)
    b.extend(a)  # b.extend receives the list itself, not the proxy
    assert qthr.unwrap(b) == [1]


def test_proxy_used_inside_a_job_runs_inline(rt):
    p = rt.proxy(rt.call(Engine))
    assert rt.call(lambda: p.where()) == rt.call(threading.get_ident)


def test_wrap_results_off(rt):
    db = rt.proxy(rt.call(sqlite3.connect, ":memory:"), wrap_results=False)
    cur = db.execute("select 1")
    assert isinstance(cur, sqlite3.Cursor)
    db.close()


class Owned:
    deaths = []

    def __del__(self):
        Owned.deaths.append(threading.get_ident())


class Factory:
    def make(self):
        return Owned()


def test_proxied_results_are_released_on_the_worker(rt):
    import gc

    Owned.deaths.clear()
    worker = rt.call(threading.get_ident)
    factory = rt.proxy(rt.call(Factory))
    child = factory.make()  # an Owned, proxied; only the proxy holds it
    assert isinstance(child, qthr.Proxy)
    del child
    gc.collect()
    rt.call(int)  # FIFO: the release job has run
    assert Owned.deaths == [worker]
