"""Smoke test of an installed qthr (run by run_tests.sh inside a fresh venv).

Not collected by pytest (the venv has no pytest): plain asserts, exit code.
"""

import asyncio
import concurrent.futures
import ctypes
import ctypes.util
import os
import sqlite3
import sys
import threading

import qthr

pkg_dir = os.path.dirname(os.path.abspath(qthr.__file__))
assert "site-packages" in pkg_dir, pkg_dir
assert os.path.dirname(qthr.LIBRARY_PATH) == pkg_dir, (qthr.LIBRARY_PATH, pkg_dir)
assert os.path.isfile(os.path.join(pkg_dir, "py.typed"))

with qthr.Runtime(name="smoke") as rt:
    worker = rt.call(threading.get_ident)
    assert worker != threading.get_ident()
    fut = rt.submit(pow, 2, 10)
    assert isinstance(fut, concurrent.futures.Future) and fut.result(10) == 1024

    async def main():
        return await rt.run(lambda: "async"), await asyncio.wrap_future(rt.submit(abs, -3))

    assert asyncio.run(main()) == ("async", 3)
    libc = ctypes.CDLL(ctypes.util.find_library("c"))
    assert rt.submit_c(libc.labs, 5).result(10) == 5
    db = rt.proxy(rt.call(sqlite3.connect, ":memory:"))
    db.execute("create table t(x)")
    ts = [threading.Thread(target=db.execute, args=("insert into t values (?)", (i,))) for i in range(8)]
    [t.start() for t in ts]
    [t.join() for t in ts]
    assert db.execute("select count(*) from t").fetchone() == (8,)
    db.close()
    try:
        rt.call(lambda: 1 / 0)
    except ZeroDivisionError:
        pass
    else:
        raise AssertionError("exception not re-raised")
    stats = rt.stats()
    assert stats["completed"] > 0, stats

print(f"smoke ok: qthr {'.'.join(map(str, qthr.version()))} from {qthr.LIBRARY_PATH} "
      f"(python {sys.version.split()[0]})")
