#!/usr/bin/env python3
"""N Python threads upsert into ONE sqlite3 connection that only its own thread may use.

The connection is opened with check_same_thread=True on qthr's worker thread (in
on_start), so touching it from any other thread would raise; every thread goes
through the runtime instead. The same work then runs through
ThreadPoolExecutor(max_workers=1) for comparison.

    python3 examples/python/threads_sqlite.py [--threads 8] [--ops 2000] [--keys 500]

Works from a source checkout (after `cargo build --release`) or with the
package installed (`pip install ./bindings/python`).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import os
import sqlite3
import statistics
import sys
import threading
import time
from typing import Callable, List

try:
    import qthr
except ImportError:  # a source checkout: use bindings/python
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                    "..", "..", "bindings", "python"))
    import qthr

UPSERT = ("insert into kv(k, v, n) values (?, ?, 1) "
          "on conflict(k) do update set v = excluded.v, n = n + 1")

# The engine: one connection, owned by the thread that opened it.
_engine = threading.local()


def open_engine() -> None:
    conn = sqlite3.connect(":memory:", check_same_thread=True)
    conn.execute("create table kv(k integer primary key, v integer, n integer)")
    _engine.conn = conn


def upsert(k: int, v: int) -> None:
    _engine.conn.execute(UPSERT, (k, v))


def summary() -> "tuple[int, int]":
    conn = _engine.conn
    conn.commit()
    return conn.execute("select count(*), coalesce(sum(n), 0) from kv").fetchone()


def close_engine() -> None:
    _engine.conn.close()


def drive(call: Callable[[int, int], None], threads: int, ops: int, keys: int) -> "tuple[float, List[float]]":
    """`threads` threads each do `ops` upserts through `call`; returns (seconds, latencies)."""
    lat: List[List[float]] = [[] for _ in range(threads)]
    barrier = threading.Barrier(threads + 1)

    def body(t: int) -> None:
        mine = lat[t]
        clock = time.perf_counter
        barrier.wait()
        for i in range(ops):
            t0 = clock()
            call((t * 7919 + i * 104729) % keys, i)
            mine.append(clock() - t0)

    ts = [threading.Thread(target=body, args=(t,)) for t in range(threads)]
    for t in ts:
        t.start()
    barrier.wait()
    start = time.perf_counter()
    for t in ts:
        t.join()
    return time.perf_counter() - start, [x for xs in lat for x in xs]


def report(label: str, rows: int, total: int, seconds: float, lat: List[float]) -> None:
    lat.sort()
    p50 = lat[len(lat) // 2] * 1e6
    p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1e6
    print(f"{label:38s} {rows:7d} {total:8d} {total / seconds:11,.0f} "
          f"{statistics.fmean(lat) * 1e6:9.1f} {p50:8.1f} {p99:8.1f}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=8)
    ap.add_argument("--ops", type=int, default=2000, help="upserts per thread")
    ap.add_argument("--keys", type=int, default=500, help="distinct keys")
    args = ap.parse_args()
    expected = args.threads * args.ops

    print(f"{args.threads} threads x {args.ops} upserts into {args.keys} keys "
          f"(qthr {'.'.join(map(str, qthr.version()))}, python {sys.version.split()[0]})")
    print(f"{'through':38s} {'rows':>7s} {'upserts':>8s} {'upserts/s':>11s} "
          f"{'mean us':>9s} {'p50 us':>8s} {'p99 us':>8s}")

    # 1. qthr: rt.call(upsert, ...) from every thread.
    with qthr.Runtime(name="sqlite", on_start=open_engine, on_stop=close_engine) as rt:
        seconds, lat = drive(lambda k, v: rt.call(upsert, k, v), args.threads, args.ops, args.keys)
        rows, total = rt.call(summary)
        assert total == expected, (total, expected)
        report("qthr Runtime.call", rows, total, seconds, lat)

    # 2. qthr: a proxy of the connection (db.execute runs on the worker).
    with qthr.Runtime(name="sqlite") as rt:
        db = rt.create(sqlite3.connect, ":memory:", check_same_thread=True)  # made on the worker
        db.execute("create table kv(k integer primary key, v integer, n integer)")
        seconds, lat = drive(lambda k, v: db.execute(UPSERT, (k, v)), args.threads, args.ops, args.keys)
        db.commit()
        rows, total = db.execute("select count(*), sum(n) from kv").fetchone()
        assert total == expected, (total, expected)
        report("qthr Runtime.create(connect).execute", rows, total, seconds, lat)
        # no close needed: at shutdown the connection is released on the worker

    # 3. The usual way: a one-thread pool (the connection lives in its thread).
    with concurrent.futures.ThreadPoolExecutor(max_workers=1, initializer=open_engine) as pool:
        seconds, lat = drive(lambda k, v: pool.submit(upsert, k, v).result(),
                             args.threads, args.ops, args.keys)
        rows, total = pool.submit(summary).result()
        assert total == expected, (total, expected)
        report("ThreadPoolExecutor(1).submit().result()", rows, total, seconds, lat)
        pool.submit(close_engine).result()

    print(f"every run: {expected} upserts counted exactly")
    return 0


if __name__ == "__main__":
    sys.exit(main())
