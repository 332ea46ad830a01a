#!/usr/bin/env python3
"""Benchmark of the Python binding: qthr against what a Python user would pick.

In ONE process it runs rounds of every workload below, qthr and its peer one
after the other inside each round (the order alternates from round to round),
checks every row / result count, and prints per workload the median over the
rounds for both, their ratio and the goal; then one JSON line per figure.

  A  asyncio: 50 tasks x 200 sqlite3 inserts, `await rt.run(conn.execute, ...)`
     on a connection made on the worker   vs  aiosqlite (goal >= 1.5x rows/s)
  B  8 threads x 2000 sqlite3 inserts, rt.call  vs  ThreadPoolExecutor(1)
     .submit(...).result()                                  (goal >= 3x rows/s)
  C  8 threads x 2048 sqlite3 inserts in windows of 64 submits, then waiting
     on the 64 futures  vs  the same with ThreadPoolExecutor(1)   (goal >= 2x)
  D  `await rt.run(noop)`  vs  `await loop.run_in_executor(tpe, noop)`
                                                         (goal: time <= 0.33x)
  E  asyncio.gather of 10,000 rt.run(noop)  vs  of 10,000 run_in_executor
                                                          (goal: time <= 0.5x)
  and, against ThreadPoolExecutor(1).submit(noop).result() (info): rt.call(noop),
  rt.submit(noop).result(), submit_c/call_c/run_c of a C no-op, 8 threads rt.call.

    python3 bindings/python/bench.py              # 7 rounds, about a minute
    python3 bindings/python/bench.py --rounds 5 --scale 0.5
    python3 bindings/python/bench.py --quick      # tiny sizes (a smoke test)

aiosqlite is a benchmark dependency (installed by .ci/install-deps.sh); without
it, A is reported as skipped.
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import ctypes
import ctypes.util
import json
import os
import platform
import sqlite3
import statistics
import sys
import threading
import time
from typing import Any, Callable, Dict, List, Optional, Tuple

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import qthr  # noqa: E402

try:
    import aiosqlite
except ImportError:  # pragma: no cover - reported as skipped
    aiosqlite = None

INSERT = "insert into t(v) values (?)"
CREATE = "create table t(id integer primary key, v integer)"
COUNT = "select count(*) from t"


def noop() -> None:
    return None


class Check(Exception):
    """A workload did not do what it claims (a wrong count)."""


def expect(got: Any, want: Any, what: str) -> None:
    if got != want:
        raise Check(f"{what}: got {got!r}, expected {want!r}")


# --- workloads: each returns (seconds, operations) ----------------------------------


def a_qthr(rt: qthr.Runtime, tasks: int, per: int) -> Tuple[float, int]:
    conn = rt.call(sqlite3.connect, ":memory:")  # made on the worker; used only there
    rt.call(conn.execute, CREATE)

    async def main() -> float:
        async def task(t: int) -> None:
            for i in range(per):
                await rt.run(conn.execute, INSERT, (i,))

        t0 = time.perf_counter()
        await asyncio.gather(*(task(t) for t in range(tasks)))
        return time.perf_counter() - t0

    dt = asyncio.run(main())
    expect(rt.call(lambda: conn.execute(COUNT).fetchone()[0]), tasks * per, "A qthr rows")
    rt.call(conn.close)
    return dt, tasks * per


def a_aiosqlite(tasks: int, per: int) -> Tuple[float, int]:
    async def main() -> float:
        async with aiosqlite.connect(":memory:") as db:
            await db.execute(CREATE)

            async def task(t: int) -> None:
                for i in range(per):
                    await db.execute(INSERT, (i,))

            t0 = time.perf_counter()
            await asyncio.gather(*(task(t) for t in range(tasks)))
            dt = time.perf_counter() - t0
            async with db.execute(COUNT) as cur:
                row = await cur.fetchone()
            expect(row[0] if row else None, tasks * per, "A aiosqlite rows")
            return dt

    return asyncio.run(main()), tasks * per


def threads_run(n: int, body: Callable[[int], None]) -> float:
    barrier = threading.Barrier(n + 1)
    errors: List[BaseException] = []

    def run(t: int) -> None:
        barrier.wait()
        try:
            body(t)
        except BaseException as exc:  # pragma: no cover - re-raised below
            errors.append(exc)

    ts = [threading.Thread(target=run, args=(t,)) for t in range(n)]
    for t in ts:
        t.start()
    barrier.wait()
    t0 = time.perf_counter()
    for t in ts:
        t.join()
    dt = time.perf_counter() - t0
    if errors:
        raise errors[0]
    return dt


class TpeSqlite:
    """A ThreadPoolExecutor(1) whose thread owns a sqlite3 connection."""

    def __init__(self) -> None:
        self.local = threading.local()
        self.pool = concurrent.futures.ThreadPoolExecutor(max_workers=1)

    def open(self) -> None:
        def op() -> None:
            self.local.conn = sqlite3.connect(":memory:")
            self.local.conn.execute(CREATE)
        self.pool.submit(op).result()

    def insert(self, v: int) -> None:
        self.local.conn.execute(INSERT, (v,))

    def count_and_close(self) -> int:
        def op() -> int:
            n = self.local.conn.execute(COUNT).fetchone()[0]
            self.local.conn.close()
            return int(n)
        return self.pool.submit(op).result()


def b_qthr(rt: qthr.Runtime, threads: int, per: int) -> Tuple[float, int]:
    conn = rt.call(sqlite3.connect, ":memory:")
    rt.call(conn.execute, CREATE)
    execute = conn.execute

    def body(t: int) -> None:
        call = rt.call
        for i in range(per):
            call(execute, INSERT, (i,))

    dt = threads_run(threads, body)
    expect(rt.call(lambda: conn.execute(COUNT).fetchone()[0]), threads * per, "B qthr rows")
    rt.call(conn.close)
    return dt, threads * per


def b_tpe(tpe: TpeSqlite, threads: int, per: int) -> Tuple[float, int]:
    tpe.open()
    insert, submit = tpe.insert, tpe.pool.submit

    def body(t: int) -> None:
        for i in range(per):
            submit(insert, i).result()

    dt = threads_run(threads, body)
    expect(tpe.count_and_close(), threads * per, "B tpe rows")
    return dt, threads * per


def c_qthr(rt: qthr.Runtime, threads: int, per: int, window: int) -> Tuple[float, int]:
    conn = rt.call(sqlite3.connect, ":memory:")
    rt.call(conn.execute, CREATE)
    execute = conn.execute

    def body(t: int) -> None:
        submit = rt.submit
        for w in range(per // window):
            futs = [submit(execute, INSERT, (i,)) for i in range(window)]
            for f in futs:
                f.result()

    dt = threads_run(threads, body)
    n = threads * (per // window) * window
    expect(rt.call(lambda: conn.execute(COUNT).fetchone()[0]), n, "C qthr rows")
    rt.call(conn.close)
    return dt, n


def c_tpe(tpe: TpeSqlite, threads: int, per: int, window: int) -> Tuple[float, int]:
    tpe.open()
    insert, submit = tpe.insert, tpe.pool.submit

    def body(t: int) -> None:
        for w in range(per // window):
            futs = [submit(insert, i) for i in range(window)]
            for f in futs:
                f.result()

    dt = threads_run(threads, body)
    n = threads * (per // window) * window
    expect(tpe.count_and_close(), n, "C tpe rows")
    return dt, n


def d_serial(make: Callable[[asyncio.AbstractEventLoop], Any], n: int) -> Tuple[float, int]:
    async def main() -> float:
        loop = asyncio.get_running_loop()
        for _ in range(20):  # warm-up
            await make(loop)
        t0 = time.perf_counter()
        for _ in range(n):
            r = await make(loop)
            if r is not None:
                raise Check(f"D: noop returned {r!r}")
        return time.perf_counter() - t0

    return asyncio.run(main()), n


def e_gather(make: Callable[[asyncio.AbstractEventLoop], Any], n: int) -> Tuple[float, int]:
    async def main() -> float:
        loop = asyncio.get_running_loop()
        t0 = time.perf_counter()
        results = await asyncio.gather(*(make(loop) for _ in range(n)))
        dt = time.perf_counter() - t0
        expect(len(results), n, "E results")
        expect(results.count(None), n, "E noop results")
        return dt

    return asyncio.run(main()), n


def loop_n(call: Callable[[], Any], n: int) -> Tuple[float, int]:
    t0 = time.perf_counter()
    for _ in range(n):
        call()
    return time.perf_counter() - t0, n


def threads_n(call: Callable[[], Any], threads: int, per: int) -> Tuple[float, int]:
    def body(t: int) -> None:
        for _ in range(per):
            call()
    return threads_run(threads, body), threads * per


async def _run_c(rt: qthr.Runtime, fn: Any, n: int) -> float:
    t0 = time.perf_counter()
    for _ in range(n):
        await rt.run_c(fn, 0)
    return time.perf_counter() - t0


# --- the table -------------------------------------------------------------------------

# key, label, unit ("rate": ops/s, higher is better; "time": us/op), goal or None
Row = Tuple[str, str, str, Optional[float]]


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--rounds", type=int, default=7, help="interleaved rounds (>= 5 for figures)")
    ap.add_argument("--scale", type=float, default=1.0, help="multiply every size")
    ap.add_argument("--quick", action="store_true", help="tiny sizes, 2 rounds (smoke test)")
    ap.add_argument("--json-only", action="store_true", help="print only the JSON lines")
    ap.add_argument("--only", default="", help="comma-separated workloads (A,B,C,D,E,X)")
    args = ap.parse_args(argv)
    scale = 0.02 if args.quick else args.scale
    rounds = 2 if args.quick else args.rounds
    only = {w.strip().upper() for w in args.only.split(",") if w.strip()} or set("ABCDEX")

    def sz(n: int, least: int = 1) -> int:
        return max(least, int(n * scale))

    a_tasks, a_per = 50, sz(200, 4)
    b_threads, b_per = 8, sz(2000, 8)
    c_threads, c_window = 8, 64
    c_per = max(c_window, sz(2048) // c_window * c_window)
    d_n = sz(5000, 20)
    e_n = sz(10000, 50) if not args.quick else 200
    x_n = sz(20000, 50)

    libc = ctypes.CDLL(ctypes.util.find_library("c"))
    c_noop = libc.labs  # long labs(long): a C function that does next to nothing

    rt = qthr.Runtime(name="bench")
    tpe = concurrent.futures.ThreadPoolExecutor(max_workers=1)
    tpe_sql = TpeSqlite()
    tpe.submit(noop).result()

    def tpe_run(loop: asyncio.AbstractEventLoop) -> Any:
        return loop.run_in_executor(tpe, noop)

    def rt_run(loop: asyncio.AbstractEventLoop) -> Any:
        return rt.run(noop)

    # name -> (qthr function, peer function) returning (seconds, ops)
    pairs: Dict[str, Tuple[Callable[[], Tuple[float, int]], Optional[Callable[[], Tuple[float, int]]]]] = {}
    if "A" in only:
        pairs["A"] = (lambda: a_qthr(rt, a_tasks, a_per),
                      (lambda: a_aiosqlite(a_tasks, a_per)) if aiosqlite is not None else None)
    if "B" in only:
        pairs["B"] = (lambda: b_qthr(rt, b_threads, b_per), lambda: b_tpe(tpe_sql, b_threads, b_per))
    if "C" in only:
        pairs["C"] = (lambda: c_qthr(rt, c_threads, c_per, c_window),
                      lambda: c_tpe(tpe_sql, c_threads, c_per, c_window))
    if "D" in only:
        pairs["D"] = (lambda: d_serial(rt_run, d_n), lambda: d_serial(tpe_run, d_n))
    if "E" in only:
        pairs["E"] = (lambda: e_gather(rt_run, e_n), lambda: e_gather(tpe_run, e_n))
    if "X" in only:
        pairs["x.tpe"] = (lambda: loop_n(lambda: tpe.submit(noop).result(), x_n // 4), None)
        pairs["x.call"] = (lambda: loop_n(lambda: rt.call(noop), x_n), None)
        pairs["x.submit"] = (lambda: loop_n(lambda: rt.submit(noop).result(), x_n), None)
        pairs["x.submit_c"] = (lambda: loop_n(lambda: rt.submit_c(c_noop, 0).result(), x_n), None)
        pairs["x.call_c"] = (lambda: loop_n(lambda: rt.call_c(c_noop, 0), x_n), None)
        pairs["x.run_c"] = (lambda: (asyncio.run(_run_c(rt, c_noop, x_n // 4)), x_n // 4), None)
        pairs["x.tpe8"] = (lambda: threads_n(lambda: tpe.submit(noop).result(), 8, x_n // 32), None)
        pairs["x.call8"] = (lambda: threads_n(lambda: rt.call(noop), 8, x_n // 8), None)
        pairs["x.call_thread"] = (lambda: threads_n(lambda: rt.call(noop), 1, x_n), None)

    samples: Dict[str, List[float]] = {}  # wall seconds per op
    cpu: Dict[str, List[float]] = {}  # process CPU seconds per op (all threads)
    try:
        for r in range(rounds):
            for name, (mine, peer) in pairs.items():
                order = [("qthr", mine), ("peer", peer)]
                if r % 2:
                    order.reverse()
                for who, fn in order:
                    if fn is None:
                        continue
                    c0 = time.process_time()
                    dt, ops = fn()
                    c1 = time.process_time()
                    samples.setdefault(f"{name}.{who}", []).append(dt / ops)
                    cpu.setdefault(f"{name}.{who}", []).append((c1 - c0) / ops)
            if not args.json_only:
                print(f"  round {r + 1}/{rounds} done", file=sys.stderr, flush=True)
    finally:
        rt.shutdown()
        tpe.shutdown()
        tpe_sql.pool.shutdown()

    def med(key: str, table: Optional[Dict[str, List[float]]] = None) -> Optional[float]:
        xs = (samples if table is None else table).get(key)
        return statistics.median(xs) if xs else None

    rows: List[Tuple[str, str, str, str, Optional[float], str]] = [
        # key, label, peer label, unit, goal, goal kind
        ("A", "A asyncio 50 tasks x sqlite insert (rt.run)", "aiosqlite", "rate", 1.5, ">="),
        ("B", "B 8 threads sqlite insert (rt.call)", "TPE(1)", "rate", 3.0, ">="),
        ("C", "C 8 threads windows of 64 submits", "TPE(1)", "rate", 2.0, ">="),
        ("D", "D await rt.run(noop)", "run_in_executor", "time", 0.33, "<="),
        ("E", "E gather of 10k rt.run(noop)", "run_in_executor", "time", 0.5, "<="),
    ]
    lines: List[str] = []
    missed: List[str] = []
    if not args.json_only:
        print(f"\nqthr {'.'.join(map(str, qthr.version()))} Python binding, python "
              f"{sys.version.split()[0]}, {platform.machine()}, {os.cpu_count()} CPUs; "
              f"medians of {rounds} interleaved rounds")
        print(f"{'workload':46s} {'qthr':>12s} {'peer':>12s} {'peer is':16s} {'ratio':>7s} "
              f"{'goal':18s} {'cpu us/op qthr/peer':>20s}")
    for key, label, peer_label, unit, goal, kind in rows:
        mq, mp = med(f"{key}.qthr"), med(f"{key}.peer")
        if mq is None:
            continue
        rec: Dict[str, Any] = {"bench": f"python.{key}", "label": label, "peer": peer_label,
                               "qthr_s_per_op": mq, "rounds": rounds}
        if unit == "rate":
            q_text = f"{1 / mq:,.0f}/s"
            p_text = f"{1 / mp:,.0f}/s" if mp else "skipped"
            ratio = (mp / mq) if mp else None  # throughput ratio qthr / peer
        else:
            q_text = f"{mq * 1e6:.1f} us"
            p_text = f"{mp * 1e6:.1f} us" if mp else "skipped"
            ratio = (mq / mp) if mp else None  # time ratio qthr / peer
        met = None
        if ratio is not None and goal is not None:
            met = ratio >= goal if kind == ">=" else ratio <= goal
            if not met:
                missed.append(key)
        if mp:
            rec["peer_s_per_op"] = mp
        cq, cp = med(f"{key}.qthr", cpu), med(f"{key}.peer", cpu)
        rec.update({"ratio": ratio, "ratio_kind": "throughput" if unit == "rate" else "time",
                    "goal": f"{kind} {goal}", "met": met, "qthr_cpu_s_per_op": cq,
                    "peer_cpu_s_per_op": cp})
        lines.append(json.dumps(rec))
        if not args.json_only:
            rs = f"{ratio:7.2f}" if ratio is not None else "      -"
            verdict = "" if met is None else ("met" if met else "MISSED")
            c_text = (f"{cq * 1e6:.1f} / {cp * 1e6:.1f}" if cq is not None and cp else "")
            print(f"{label:46s} {q_text:>12s} {p_text:>12s} {peer_label:16s} {rs} "
                  f"{kind + ' ' + str(goal) + ' ' + verdict:18s} {c_text:>20s}")
    base = med("x.tpe.qthr")
    extras = [("x.call", "rt.call(noop) (main thread)"), ("x.call_thread", "rt.call(noop) (a thread)"),
              ("x.submit", "rt.submit(noop).result()"), ("x.submit_c", "rt.submit_c(c_noop, 0).result()"),
              ("x.call_c", "rt.call_c(c_noop, 0)"), ("x.run_c", "await rt.run_c(c_noop, 0)"),
              ("x.call8", "8 threads: rt.call(noop), per call")]
    if base is not None:
        if not args.json_only:
            print(f"\nround trips (info), against ThreadPoolExecutor(1).submit(noop).result() = "
                  f"{base * 1e6:.1f} us; 8 threads on TPE: {(med('x.tpe8.qthr') or 0) * 1e6:.1f} us")
        lines.append(json.dumps({"bench": "python.x.tpe", "s_per_op": base, "rounds": rounds}))
        for key, label in extras:
            m = med(f"{key}.qthr")
            if m is None:
                continue
            ref = med("x.tpe8.qthr") if key == "x.call8" else base
            ratio = m / ref if ref else None
            lines.append(json.dumps({"bench": f"python.{key}", "label": label, "s_per_op": m,
                                     "time_ratio_vs_tpe": ratio, "rounds": rounds}))
            if not args.json_only:
                print(f"  {label:44s} {m * 1e6:9.2f} us  {ratio:6.3f}x")
    if not args.json_only:
        print("\ngoals " + ("all met" if not missed else "MISSED: " + ", ".join(missed)) + "\n")
    for line in lines:
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
