"""qthr: confine a single-threaded engine to ONE worker thread, call it from any thread.

>>> import sqlite3, qthr
>>> with qthr.Runtime(name="engine") as rt:
...     conn = rt.create(sqlite3.connect, ":memory:")   # made on the worker: a proxy
...     _ = conn.execute("create table t(k primary key, v)")
...     rt.call(lambda: 6 * 7)
42

:class:`Runtime` is a :class:`concurrent.futures.Executor` (``submit``, ``map``,
``shutdown``, ``with``) whose futures work with ``asyncio.wrap_future`` and
``loop.run_in_executor``; ``await rt.run(fn)`` for asyncio; ``rt.submit_c`` runs a
C function on the worker without the GIL; ``rt.create(factory)`` makes an engine
object on the worker and returns a proxy whose attribute access and method calls run
there (the object never reaches another thread, and is released on the worker);
``rt.options(deadline=..., urgent=...)`` gives per-job options. Records of the library
go to the logger "qthr".
"""

from __future__ import annotations

from concurrent.futures import CancelledError, TimeoutError

from ._cdef import CDEF
from ._errors import ExpiredError, QthrError, ShutdownError, Status, status_str
from ._c_jobs import CFuture
from ._futures import Future
from ._lib import LIBRARY_PATH, LIB as _LIB, candidate_paths, library_path
from ._logging import set_log_level
from ._options import Options
from ._process import runtimes
from ._proxy import Proxy, unwrap
from ._runtime import Runtime

__all__ = [
    "Runtime",
    "Options",
    "Future",
    "CFuture",
    "Proxy",
    "unwrap",
    "QthrError",
    "ShutdownError",
    "ExpiredError",
    "CancelledError",
    "TimeoutError",
    "Status",
    "status_str",
    "version",
    "runtimes",
    "set_log_level",
    "candidate_paths",
    "LIBRARY_PATH",
    "library_path",
    "CDEF",
    "__version__",
]

__version__ = "0.2.0"


def version() -> "tuple[int, int, int]":
    """The loaded library's version as (major, minor, patch) (qthr_version)."""
    v = int(_LIB.qthr_version())
    return (v >> 16) & 0xFFFF, (v >> 8) & 0xFF, v & 0xFF
