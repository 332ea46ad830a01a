#!/usr/bin/env python3
"""Benchmark of the Python binding: qthr vs ThreadPoolExecutor(max_workers=1).

Prints a table (ns per operation, ratio to the ThreadPoolExecutor baseline) and
then one JSON line per measurement:

    {"bench": "py.call_noop", "ns_per_op": 2100.0, "ops": 200000, "baseline": ...}

Each figure is the best of several repetitions (the least disturbed by other
processes on a shared machine). Run from anywhere:

    python3 bindings/python/bench.py            # about 15 s
    python3 bindings/python/bench.py --quick    # about 3 s
    python3 bindings/python/bench.py --check    # exit 1 if rt.call > 0.25x the baseline
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import ctypes
import ctypes.util
import json
import os
import sys
import threading
import time
from typing import Callable, Dict, List, Optional

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import qthr  # noqa: E402

TARGET_RATIO = 0.25


def noop() -> None:
    return None


def measure(fn: Callable[[int], None], seconds: float, reps: int) -> "tuple[float, int]":
    """Best ns/op of `reps` runs of fn(n), n chosen so a run takes ~seconds/reps."""
    n = 64
    while True:  # calibrate
        t = time.perf_counter_ns()
        fn(n)
        dt = time.perf_counter_ns() - t
        if dt > 20_000_000 or n >= 1 << 22:
            break
        n *= 2
    per_rep = max(1, int(n * (seconds / reps) / (dt / 1e9)))
    best = float("inf")
    for _ in range(reps):
        t = time.perf_counter_ns()
        fn(per_rep)
        best = min(best, (time.perf_counter_ns() - t) / per_rep)
    return best, per_rep * reps


def loop_of(call: Callable[[], object]) -> Callable[[int], None]:
    def run(n: int) -> None:
        for _ in range(n):
            call()
    return run


def threaded(call: Callable[[], object], threads: int) -> Callable[[int], None]:
    """n operations split over `threads` Python threads (ns/op of the aggregate)."""
    def run(n: int) -> None:
        per = max(1, n // threads)
        barrier = threading.Barrier(threads + 1)

        def body() -> None:
            barrier.wait()
            for _ in range(per):
                call()

        ts = [threading.Thread(target=body) for _ in range(threads)]
        for t in ts:
            t.start()
        barrier.wait()
        for t in ts:
            t.join()
    return run


def asyncio_loop(make: Callable[[], "asyncio.Future[object]"]) -> Callable[[int], None]:
    def run(n: int) -> None:
        async def main() -> None:
            for _ in range(n):
                await make()
        asyncio.run(main())
    return run


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="short runs (smoke test)")
    ap.add_argument("--seconds", type=float, default=None, help="time per measurement")
    ap.add_argument("--json-only", action="store_true", help="print only the JSON lines")
    ap.add_argument("--check", action="store_true",
                    help=f"exit 1 if rt.call(noop) is above {TARGET_RATIO}x the baseline")
    args = ap.parse_args(argv)
    seconds = args.seconds or (0.25 if args.quick else 1.2)
    reps = 3 if args.quick else 5

    libc = ctypes.CDLL(ctypes.util.find_library("c"))
    c_noop = libc.labs  # long labs(long): a C function that does next to nothing

    rt = qthr.Runtime(name="bench")
    tpe = concurrent.futures.ThreadPoolExecutor(max_workers=1)
    results: Dict[str, "tuple[float, int]"] = {}
    rows = [
        # name, what, baseline name, function
        ("tpe.submit_result_noop", "ThreadPoolExecutor(1).submit(noop).result()", None,
         loop_of(lambda: tpe.submit(noop).result())),
        ("py.call_noop", "rt.call(noop)", "tpe.submit_result_noop",
         loop_of(lambda: rt.call(noop))),
        ("py.submit_result_noop", "rt.submit(noop).result()", "tpe.submit_result_noop",
         loop_of(lambda: rt.submit(noop).result())),
        ("c.submit_result_noop", "rt.submit_c(c_noop, 0).result()", "tpe.submit_result_noop",
         loop_of(lambda: rt.submit_c(c_noop, 0).result())),
        ("c.call_noop", "rt.call_c(c_noop, 0)", "tpe.submit_result_noop",
         loop_of(lambda: rt.call_c(c_noop, 0))),
        ("tpe.8threads_noop", "8 threads: tpe.submit(noop).result()", None,
         threaded(lambda: tpe.submit(noop).result(), 8)),
        ("py.8threads_call_noop", "8 threads: rt.call(noop)", "tpe.8threads_noop",
         threaded(lambda: rt.call(noop), 8)),
        ("tpe.asyncio_noop", "await loop.run_in_executor(tpe, noop)", None,
         asyncio_loop(lambda: asyncio.get_running_loop().run_in_executor(tpe, noop))),
        ("py.asyncio_run_noop", "await rt.run(noop)", "tpe.asyncio_noop",
         asyncio_loop(lambda: rt.run(noop))),
        ("c.asyncio_run_c_noop", "await rt.run_c(c_noop, 0)", "tpe.asyncio_noop",
         asyncio_loop(lambda: rt.run_c(c_noop, 0))),
    ]
    try:
        for name, what, base, fn in rows:
            results[name] = measure(fn, seconds, reps)
            if not args.json_only:
                print(f"  measured {name}", file=sys.stderr, flush=True)
    finally:
        rt.shutdown()
        tpe.shutdown()

    lines = []
    if not args.json_only:
        print(f"\nqthr {'.'.join(map(str, qthr.version()))} Python binding, "
              f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs "
              f"(best of {reps}; ratio = qthr / ThreadPoolExecutor(max_workers=1))")
        print(f"{'operation':44s} {'ns/op':>10s} {'ratio':>7s}")
    for name, what, base, _ in rows:
        ns, ops = results[name]
        ratio = ns / results[base][0] if base else None
        rec = {"bench": f"python.{name}", "ns_per_op": round(ns, 1), "ops": ops}
        if base:
            rec["baseline"] = f"python.{base}"
            rec["ratio"] = round(ratio, 4)  # type: ignore[arg-type]
        lines.append(json.dumps(rec))
        if not args.json_only:
            rs = f"{ratio:7.3f}" if ratio is not None else "      -"
            print(f"{what:44s} {ns:10.0f} {rs}")
    call_ratio = results["py.call_noop"][0] / results["tpe.submit_result_noop"][0]
    ok = call_ratio <= TARGET_RATIO
    if not args.json_only:
        print(f"\nrt.call(noop) / ThreadPoolExecutor: {call_ratio:.3f} "
              f"(target <= {TARGET_RATIO}: {'met' if ok else 'MISSED'})\n")
    for line in lines:
        print(line)
    return 1 if (args.check and not ok) else 0


if __name__ == "__main__":
    sys.exit(main())
