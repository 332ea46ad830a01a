"""Per-job options: :class:`Options`, the view ``rt.options(deadline=...,
urgent=...)`` returns (0.2 core)."""

from __future__ import annotations

import asyncio
import contextvars
import ctypes
import sys
from typing import TYPE_CHECKING, Any, Awaitable, Callable, Optional, TypeVar

from ._c_jobs import CFuture, _arg_address, _fn_address
from ._core_jobs import _JOB_ADDR, _CoreFuture, _Job, _jobs
from ._futures import Future
from ._lib import SubmitOpts
from ._reaper import _WatchOnWait

if TYPE_CHECKING:
    if sys.version_info >= (3, 10):
        from typing import ParamSpec
    else:
        from typing_extensions import ParamSpec
    P = ParamSpec("P")
    from ._runtime import Runtime

__all__ = ["Options"]

T = TypeVar("T")


class Options:
    """A view of a runtime whose jobs carry per-job options (``rt.options(...)``).

    Its jobs go through the core one by one (``qthr_submit_ex``), so an
    urgent job overtakes the queued ones and an expired job is resolved
    without running (:class:`ExpiredError`)."""

    def __init__(self, rt: "Runtime", deadline: Optional[float], urgent: bool) -> None:
        if deadline is not None:
            deadline = float(deadline)
            if not deadline > 0:
                raise ValueError("deadline must be a positive number of seconds")
        self.runtime = rt
        self.deadline = deadline
        self.urgent = bool(urgent)
        self._opts = SubmitOpts()
        self._opts.size = ctypes.sizeof(SubmitOpts)
        self._opts.deadline_ns = 0 if deadline is None else max(1, int(deadline * 1e9))
        self._opts.priority = 1 if urgent else 0

    def __repr__(self) -> str:
        return f"<qthr.Options deadline={self.deadline!r} urgent={self.urgent} of {self.runtime!r}>"

    def submit(self, fn: "Callable[P, T]", /, *args: "P.args",
               **kwargs: "P.kwargs") -> "Future[T]":
        """Queue ``fn(*args, **kwargs)`` with these options; return its Future."""
        fut: _CoreFuture[T] = _CoreFuture()
        job = _Job(fn, args, kwargs)
        key = id(job)
        _jobs[key] = job
        fut._qthr_job = job
        fut._qthr_key = key
        fut._qthr_rt = self.runtime
        fut._waiters = _WatchOnWait(fut)
        try:
            cfut = self.runtime._submit_ex(_JOB_ADDR, key, self._opts)
        except BaseException:
            _jobs.pop(key, None)
            raise
        fut._qthr_cfut = cfut
        return fut

    def call(self, fn: "Callable[P, T]", /, *args: "P.args", **kwargs: "P.kwargs") -> T:
        """Run ``fn(*args, **kwargs)`` with these options and return its result."""
        return self.submit(fn, *args, **kwargs).result()

    def run(self, fn: "Callable[P, T]", /, *args: "P.args",
            **kwargs: "P.kwargs") -> "Awaitable[T]":
        """``await o.run(fn, ...)``: :meth:`submit` for asyncio (contextvars copied)."""
        ctx = contextvars.copy_context()
        return asyncio.wrap_future(self.submit(ctx.run, fn, *args, **kwargs))  # type: ignore[arg-type]

    def submit_c(self, cfunc: Any, arg: Any = None) -> CFuture:
        """Queue a C function with these options (see :meth:`Runtime.submit_c`)."""
        addr = _fn_address(cfunc)
        argp = _arg_address(arg)
        fut = CFuture()
        fut._qthr_rt = self.runtime
        fut._qthr_keep = (cfunc, arg)
        fut._qthr_cfut = self.runtime._submit_ex(addr, argp, self._opts)
        return fut
