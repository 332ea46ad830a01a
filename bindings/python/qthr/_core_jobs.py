"""Python jobs that travel through the core one by one, not through the lane:
``rt.call`` (from a thread: ``qthr_call``, the core's mailbox; on the main
thread: submit and an interruptible wait) and the jobs of ``rt.options(...)``
views (``qthr_submit_ex``), whose future is a :class:`_CoreFuture`.
"""

from __future__ import annotations

import concurrent.futures
import ctypes
import threading
from ctypes import byref, c_void_p
from typing import TYPE_CHECKING, Any, Callable, Dict, Optional, Tuple, TypeVar

from ._errors import _CANCELLED, _OK, _TIMEOUT, error_for
from ._futures import _CANCELLED_STATES, _DONE, Future, _cancel_and_notify, _finish
from ._interrupts import _wait_interruptible, interrupt_c
from ._lib import JOB_FN, LIB
from ._reaper import _free_when_done, _reaper, _release_cfut

if TYPE_CHECKING:
    from ._runtime import Runtime

T = TypeVar("T")


class _Job:
    """Per-job state of a Python job that travels through the core on its own."""

    __slots__ = ("fn", "args", "kwargs", "result", "exc")

    def __init__(self, fn: Callable[..., Any], args: Tuple[Any, ...],
                 kwargs: Dict[str, Any]) -> None:
        self.fn = fn
        self.args = args
        self.kwargs = kwargs
        self.result: Any = None
        self.exc: Optional[BaseException] = None


#: key (id of the _Job) -> _Job, for every core-path Python job C may still run.
_jobs: Dict[int, _Job] = {}


def _run_job(key: Optional[int]) -> None:
    """The trampoline of core-path Python jobs: worker, GIL held."""
    job = _jobs.pop(key, None)  # type: ignore[arg-type]
    if job is None:  # withdrawn from Python and already popped
        return None
    fn, args, kwargs = job.fn, job.args, job.kwargs
    job.fn = job.args = job.kwargs = None  # type: ignore[assignment]
    try:
        job.result = fn(*args, **kwargs)
    except BaseException as exc:  # SystemExit, KeyboardInterrupt too
        job.exc = exc
    finally:
        job = fn = args = kwargs = None  # type: ignore[assignment]
    return None


_JOB_TRAMPOLINE = JOB_FN(_run_job)
_JOB_ADDR: int = ctypes.cast(_JOB_TRAMPOLINE, c_void_p).value  # type: ignore[assignment]


def _raise_job_exc(job: _Job) -> Any:
    exc = job.exc
    if exc is not None:
        job.exc = None
        try:
            raise exc
        finally:
            exc = job = None  # type: ignore[assignment]
    return job.result


def _call_interruptible(rt: "Runtime", job: _Job, key: int) -> Any:
    """rt.call on the main thread: submit + wait in slices, so that Ctrl-C
    gets through; then the job is withdrawn (queued) or interrupted
    (running, ``qthr_interrupt`` -> on_interrupt)."""
    out = c_void_p()
    st = LIB.qthr_submit(rt._handle, _JOB_ADDR, key, byref(out))
    if st != _OK:
        _jobs.pop(key, None)
        raise error_for(st)
    cfut: int = out.value or 0
    try:
        st = _wait_interruptible(cfut, None, None)
    except KeyboardInterrupt:
        interrupt_c(cfut)
        if int(LIB.qthr_wait(cfut, 0, None)) == _TIMEOUT:
            _free_when_done(cfut, None)  # still running: freed once it is done
        else:
            LIB.qthr_future_free(cfut)
            _jobs.pop(key, None)  # withdrawn: the trampoline never runs
        raise
    LIB.qthr_future_free(cfut)
    if st != _OK:
        _jobs.pop(key, None)
        raise error_for(st)
    return _raise_job_exc(job)


_lazy_lock_for_watch = threading.Lock()


class _CoreFuture(Future[T]):
    """The future of a Python job that went through the core on its own
    (``rt.options(...).submit``): waits with ``qthr_wait``, withdraws with
    ``qthr_cancel`` / ``qthr_interrupt``."""

    _qthr_cfut: Optional[int] = None
    _qthr_job: Optional[_Job] = None
    _qthr_key = 0
    _qthr_watched = False

    def _qthr_settle(self, st: int) -> None:
        job = self._qthr_job
        if job is None or self._state in _DONE:
            return
        if st == _OK:
            self._qthr_job = None
            _finish(self, job.result, job.exc)
            job.exc = None
        elif st == _CANCELLED:
            _jobs.pop(self._qthr_key, None)  # the trampoline never runs
            self._qthr_job = None
            _cancel_and_notify(self)
        else:
            _jobs.pop(self._qthr_key, None)
            self._qthr_job = None
            _finish(self, None, error_for(st))

    def _qthr_wait(self, timeout: Optional[float]) -> bool:
        cfut = self._qthr_cfut
        if self._state in _DONE or not cfut:
            return self._state in _DONE
        st = _wait_interruptible(cfut, timeout, None)
        if st == _TIMEOUT:
            return False
        self._qthr_settle(st)
        return True

    def _qthr_withdraw(self) -> bool:
        cfut = self._qthr_cfut
        if not cfut or self._state in _DONE:
            return False
        if int(LIB.qthr_cancel(cfut)) != _OK:
            return False
        self._qthr_settle(_CANCELLED)
        return True

    def cancel(self) -> bool:
        """Cancel the job if it has not started; True if it is cancelled."""
        if self._state in _CANCELLED_STATES:
            return True
        return self._qthr_withdraw()

    def interrupt(self) -> bool:
        """Withdraw the job if queued, else call ``on_interrupt`` while it runs."""
        cfut = self._qthr_cfut
        if not cfut or self._state in _DONE:
            return False
        ok = interrupt_c(cfut)
        if LIB.qthr_wait(cfut, 0, None) == _CANCELLED:
            self._qthr_settle(_CANCELLED)
        return ok

    def add_done_callback(self, fn: Callable[["concurrent.futures.Future[T]"], object]) -> None:
        """Call ``fn(future)`` once the job has finished (from the reaper
        thread, or at once if it already has)."""
        super().add_done_callback(fn)
        self._qthr_watch()

    def _qthr_watch(self) -> None:
        """From now on the reaper resolves this future when its job finishes
        (for done callbacks and concurrent.futures.wait / as_completed)."""
        with _lazy_lock_for_watch:
            if self._qthr_watched or not self._qthr_cfut or self._state in _DONE:
                return
            self._qthr_watched = True
        if self._qthr_poll(0) == _TIMEOUT:
            _reaper.watch(self)

    def _qthr_poll(self, timeout_ns: int) -> int:
        cfut = self._qthr_cfut
        if not cfut or self._state in _DONE:
            return _OK
        st = int(LIB.qthr_wait(cfut, timeout_ns, None))
        if st != _TIMEOUT:
            self._qthr_settle(st)
        return st

    def __del__(self) -> None:
        cfut = self._qthr_cfut
        if not cfut:
            return
        self._qthr_cfut = None
        _release_cfut(cfut, None)  # the reaper frees it once the job is done


