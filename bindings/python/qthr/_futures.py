"""Futures of qthr jobs: Python jobs (:class:`Future`) and C jobs (:class:`CFuture`).

A :class:`Future` is a real :class:`concurrent.futures.Future`, made light: it
creates its condition variable, waiter list and callback list only when somebody
needs them (a thread that blocks in ``result()`` past the short spin,
``add_done_callback``, ``concurrent.futures.wait``). A job whose future nobody
waits on is created, run and resolved without any lock.
"""

from __future__ import annotations

import concurrent.futures
import ctypes
import os
import sys
import threading
import time
import weakref
from concurrent.futures._base import (  # the states concurrent.futures uses
    CANCELLED,
    CANCELLED_AND_NOTIFIED,
    FINISHED,
    PENDING,
    RUNNING,
)
from ctypes import byref, c_void_p
from typing import TYPE_CHECKING, Any, Callable, Generic, List, Optional, Set, TypeVar

from ._errors import QthrError, Status, error_for
from ._lib import HAS_0_2, LIB, NOTIFY_FD_ADDR, THEN_FN

if TYPE_CHECKING:
    from ._runtime import Runtime, _Batch

    _FutureBase = concurrent.futures.Future
else:

    class _FutureBase(Generic[TypeVar("_T")], concurrent.futures.Future):
        pass


__all__ = ["Future", "CFuture"]

T = TypeVar("T")

_OK = 0
_TIMEOUT = int(Status.TIMEOUT)
_CANCELLED = int(Status.CANCELLED)
_NOT_CANCELLABLE = int(Status.NOT_CANCELLABLE)
_DONE = (FINISHED, CANCELLED, CANCELLED_AND_NOTIFIED)
_CANCELLED_STATES = (CANCELLED, CANCELLED_AND_NOTIFIED)
_get_ident = threading.get_ident
_monotonic = time.monotonic

#: How long a waiter spins inside qthr_wait (GIL released) on its job's batch
#: before it sleeps on the future's condition: a batch that ends within it (a
#: lone job: rt.submit(f).result()) costs no sleep and no wake-up.
_SPIN_NS = 50_000

#: Thread idents of every live qthr worker thread (of any runtime).
_worker_idents: Set[int] = set()

_lazy_lock = threading.Lock()


def _lazy(obj: Any, name: str) -> Any:
    """Create a future's condition / waiter list / callback list on first use."""
    with _lazy_lock:
        d = obj.__dict__
        value = d.get(name)
        if value is None:
            value = d[name] = threading.Condition() if name == "_condition" else []
        return value


def _cancel_and_notify(fut: "concurrent.futures.Future[Any]") -> None:
    """Cancel a future whose job will never run, and wake its waiters.

    ``concurrent.futures.wait``/``as_completed`` only see a cancelled future once
    the executor has called ``set_running_or_notify_cancel`` on it (state
    CANCELLED_AND_NOTIFIED); this does both, at most once.
    """
    concurrent.futures.Future.cancel(fut)
    with fut._condition:  # type: ignore[attr-defined,unused-ignore]
        if fut._state == CANCELLED:  # type: ignore[attr-defined,unused-ignore]
            fut.set_running_or_notify_cancel()


class Future(_FutureBase[T]):
    """The future of a Python job: a real :class:`concurrent.futures.Future`.

    ``result()`` / ``exception()`` first wait inside qthr (GIL released, a
    short spin), then on the future's condition; on the worker thread itself
    they run the queued jobs ahead of this one inline instead of deadlocking.
    ``cancel()`` withdraws a job that has not started; ``interrupt()`` also
    reaches a running one through the runtime's ``on_interrupt``. On the main
    thread, Ctrl-C in ``result()`` raises KeyboardInterrupt at once and
    withdraws (or interrupts) the job.
    """

    # Class-level defaults: a fresh future costs no attribute writes. The
    # condition, waiter and callback lists are created on first use.
    _state = PENDING
    _result: Any = None
    _exception: Optional[BaseException] = None
    _qthr_rt: "Optional[Runtime]" = None
    _qthr_batch: "Optional[_Batch]" = None

    def __init__(self) -> None:  # deliberately not calling super(): see the module doc
        pass

    if not TYPE_CHECKING:

        def __getattr__(self, name):
            if name in ("_condition", "_waiters", "_done_callbacks"):
                return _lazy(self, name)
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    # -- the worker side (lane) --------------------------------------------------

    def _qthr_run(self, rt: "Runtime") -> None:
        """Run the job (on the worker, GIL held) unless it was withdrawn."""
        c = self.__dict__.pop("_qthr_c", None)
        if c is None:
            return  # cancelled before it started
        rt._n_started += 1
        self._state = RUNNING
        fn, args, kwargs = c
        try:
            result = fn(*args, **kwargs)
        except BaseException as exc:  # SystemExit, KeyboardInterrupt too
            if rt._on_interrupt is not None:
                rt._job_returned(self)
            rt._n_done += 1  # counted before it resolves: a waiter that returns sees it
            _finish(self, None, exc)
            del exc
        else:
            if rt._on_interrupt is not None:
                rt._job_returned(self)
            rt._n_done += 1
            _finish(self, result, None)

    def _qthr_refused(self, exc: BaseException) -> bool:
        """Its drainer could not be queued (shutdown): the job fails with ``exc``.
        True if this call claimed it (it had not been withdrawn)."""
        if self.__dict__.pop("_qthr_c", None) is None:
            return False
        _finish(self, None, exc)
        return True

    def _qthr_withdraw(self) -> bool:
        """Claim a queued job so that it never runs; True if this call did."""
        if self.__dict__.pop("_qthr_c", None) is None:
            return False
        rt = self._qthr_rt
        if rt is not None:
            rt._note_withdrawn()
        _cancel_and_notify(self)
        return True

    # -- the caller side -----------------------------------------------------------

    def cancel(self) -> bool:
        """Cancel the job if it has not started; True if it is cancelled."""
        if self._state in _CANCELLED_STATES:
            return True
        if self._state != PENDING:
            return False
        if "_qthr_c" not in self.__dict__ and self._qthr_rt is None:
            return super().cancel()  # a Future made by hand, not by a runtime
        return self._qthr_withdraw() or self._state in _CANCELLED_STATES

    def interrupt(self) -> bool:
        """Stop the job: withdraw it if it has not started, else ask the engine
        to stop it through the runtime's ``on_interrupt`` (called here, on this
        thread). True if withdrawn or interrupted; False if it already finished
        or it is running and the runtime has no ``on_interrupt``."""
        if self._qthr_withdraw():
            return True
        rt = self._qthr_rt
        if rt is None or self._state != RUNNING:
            return False
        return rt._interrupt_running(self)

    def _qthr_wait(self, timeout: Optional[float]) -> bool:
        """Wait until done (True) or ``timeout`` seconds passed (False)."""
        if self._state in _DONE:
            return True
        rt = self._qthr_rt
        ident = _get_ident()
        if rt is not None and rt._worker_ident == ident:
            return rt._wait_on_worker(self, timeout)
        batch = self._qthr_batch
        if batch is not None and batch.cfut is None and rt is not None:
            rt._kick_pending(batch)  # an event loop's batch: its drainer goes now
        cfut = batch.cfut if batch is not None else None
        if cfut:
            if ident in _worker_idents:
                # Another runtime's worker: wait inside qthr, which keeps serving
                # the jobs other workers send to this one (no cross-runtime hang).
                ns = -1 if timeout is None else max(0, int(timeout * 1e9))
                LIB.qthr_wait(cfut, ns, None)
                if self._state in _DONE or timeout is not None:
                    return self._state in _DONE
            else:
                LIB.qthr_wait(cfut, _SPIN_NS if timeout is None else
                              min(_SPIN_NS, max(0, int(timeout * 1e9))), None)
                if self._state in _DONE:
                    return True
        cond = self._condition
        with cond:
            if timeout is None:
                while self._state not in _DONE:
                    cond.wait()
            else:
                end = _monotonic() + timeout
                while self._state not in _DONE:
                    left = end - _monotonic()
                    if left <= 0:
                        return False
                    cond.wait(left)
        return True

    def _qthr_wait_or_interrupt(self, timeout: Optional[float]) -> bool:
        try:
            return self._qthr_wait(timeout)
        except KeyboardInterrupt:
            # Ctrl-C on the main thread: the caller leaves now; the job does not
            # run (queued) or is asked to stop (running, with on_interrupt).
            try:
                self.interrupt()
            except BaseException:
                pass
            raise

    def result(self, timeout: Optional[float] = None) -> T:
        """The job's return value; re-raises what it raised (traceback kept).

        Raises concurrent.futures.CancelledError if it never ran and
        concurrent.futures.TimeoutError if ``timeout`` seconds passed first.
        """
        if self._state != FINISHED and not self._qthr_wait_or_interrupt(timeout):
            raise concurrent.futures.TimeoutError()
        state = self._state
        if state == FINISHED:
            exc = self._exception
            if exc is not None:
                try:
                    raise exc
                finally:
                    del exc, self
            return self._result  # type: ignore[no-any-return]
        if state in _CANCELLED_STATES:
            raise concurrent.futures.CancelledError()
        raise concurrent.futures.TimeoutError()  # pragma: no cover - not reachable

    def exception(self, timeout: Optional[float] = None) -> Optional[BaseException]:
        """What the job raised, or None (waits like :meth:`result`)."""
        if self._state != FINISHED and not self._qthr_wait_or_interrupt(timeout):
            raise concurrent.futures.TimeoutError()
        if self._state in _CANCELLED_STATES:
            raise concurrent.futures.CancelledError()
        return self._exception

    def set_running_or_notify_cancel(self) -> bool:
        """As :meth:`concurrent.futures.Future.set_running_or_notify_cancel`
        (for code that drives the future itself)."""
        with self._condition:
            return super().set_running_or_notify_cancel()

    def set_result(self, result: T) -> None:
        """As :meth:`concurrent.futures.Future.set_result`."""
        if self._state in _DONE:
            raise concurrent.futures.InvalidStateError(f"{self._state}: {self!r}")
        self.__dict__.pop("_qthr_c", None)
        _finish(self, result, None)

    def set_exception(self, exception: Optional[BaseException]) -> None:
        """As :meth:`concurrent.futures.Future.set_exception`."""
        if self._state in _DONE:
            raise concurrent.futures.InvalidStateError(f"{self._state}: {self!r}")
        self.__dict__.pop("_qthr_c", None)
        _finish(self, None, exception)


def _finish(fut: "Future[Any]", result: Any, exc: Optional[BaseException]) -> None:
    """Resolve ``fut``. Without a waiter or callback, no lock is taken at all."""
    d = fut.__dict__
    if "_condition" not in d:
        fut._result = result
        fut._exception = exc
        fut._state = FINISHED
        # A waiter that created the condition after the check above but before
        # the state was written may be asleep: look again (the state is
        # written first, so one created after this second look sees FINISHED).
        cond = d.get("_condition")
        if cond is None:
            return
    else:
        cond = d["_condition"]
    with cond:
        fut._result = result
        fut._exception = exc
        fut._state = FINISHED
        waiters = d.get("_waiters")
        if waiters:
            for waiter in waiters:
                if exc is not None:
                    waiter.add_exception(fut)
                else:
                    waiter.add_result(fut)
        cond.notify_all()
    if d.get("_done_callbacks"):
        fut._invoke_callbacks()  # type: ignore[attr-defined,unused-ignore]


# --- C jobs -------------------------------------------------------------------------

_MAIN_IDENT = threading.main_thread().ident
_SLICE_NS = 100_000_000


def _wait_interruptible(cfut: int, timeout: Optional[float], res: Optional[c_void_p]) -> int:
    """qthr_wait with the GIL released. On the main thread a long wait goes in
    0.1 s slices, so Ctrl-C (KeyboardInterrupt) gets through."""
    out = byref(res) if res is not None else None
    if timeout is not None:
        if _get_ident() != _MAIN_IDENT or timeout * 1e9 <= _SLICE_NS:
            return int(LIB.qthr_wait(cfut, max(0, int(timeout * 1e9)), out))
        end = _monotonic() + timeout
        while True:
            left = int((end - _monotonic()) * 1e9)
            st = int(LIB.qthr_wait(cfut, max(0, min(left, _SLICE_NS)), out))
            if st != _TIMEOUT or left <= _SLICE_NS:
                return st
    if _get_ident() != _MAIN_IDENT:
        return int(LIB.qthr_wait(cfut, -1, out))
    while True:
        st = int(LIB.qthr_wait(cfut, _SLICE_NS, out))
        if st != _TIMEOUT:
            return st


def interrupt_c(cfut: int) -> bool:
    """qthr_interrupt (0.2) or, with a 0.1 core, qthr_cancel: True on QTHR_OK."""
    if HAS_0_2:
        return int(LIB.qthr_interrupt(cfut)) == _OK
    return int(LIB.qthr_cancel(cfut)) == _OK


class CFuture(_FutureBase[int]):
    """The future of a C job (:meth:`Runtime.submit_c`); its result is an int address.

    Resolved by whoever sees the C future complete first: a thread blocked in
    :meth:`result` (waiting in ``qthr_wait`` with the GIL released) or, once
    something waits without calling result() (``add_done_callback``,
    ``asyncio.wrap_future``, ``concurrent.futures.wait``/``as_completed``), the
    ``qthr-reaper`` thread, woken through an eventfd that the core's
    ``qthr_then_notify_fd`` writes to. The worker never takes the GIL for it.
    """

    def __init__(self) -> None:
        super().__init__()
        self._qthr_rt: Optional[Runtime] = None
        self._qthr_cfut: Optional[int] = None
        self._qthr_keep: Any = None  # the function and argument objects, kept alive
        self._qthr_watched = False
        if isinstance(getattr(self, "_waiters", None), list):
            self._waiters = _WatchOnWait(self)

    def _qthr_watch(self) -> None:
        """From now on the reaper resolves this future when the job finishes."""
        with self._condition:  # type: ignore[attr-defined,unused-ignore]
            if self._qthr_watched or not self._qthr_cfut:
                return
            self._qthr_watched = True
        if self.done() or self._qthr_poll(0) != _TIMEOUT:
            return
        _reaper.watch(self)

    def add_done_callback(self, fn: Callable[["concurrent.futures.Future[int]"], object]) -> None:
        """Call ``fn(future)`` once the job has finished (from the reaper thread,
        or at once if it already has)."""
        super().add_done_callback(fn)
        self._qthr_watch()

    def _qthr_poll(self, timeout_ns: int) -> int:
        cfut = self._qthr_cfut
        if not cfut:
            return _OK
        res = c_void_p()
        st = int(LIB.qthr_wait(cfut, timeout_ns, byref(res)))
        if st != _TIMEOUT:
            self._qthr_resolve(st, res.value or 0)
        return st

    def _qthr_resolve(self, st: int, value: int) -> None:
        try:
            if st == _OK:
                self.set_result(value)
            elif st == _CANCELLED:
                _cancel_and_notify(self)
            else:
                self.set_exception(error_for(st))
        except concurrent.futures.InvalidStateError:
            pass  # someone else resolved it first, with the same outcome
        self._qthr_keep = None

    def _qthr_wait(self, timeout: Optional[float]) -> None:
        if self.done() or not self._qthr_cfut:
            return
        res = c_void_p()
        try:
            st = _wait_interruptible(self._qthr_cfut, timeout, res)
        except KeyboardInterrupt:
            try:
                self.interrupt()
            except BaseException:
                pass
            raise
        if st != _TIMEOUT:
            self._qthr_resolve(st, res.value or 0)

    def result(self, timeout: Optional[float] = None) -> int:
        """The C function's return value as an int (0 for NULL)."""
        self._qthr_wait(timeout)
        return int(super().result(0 if not self.done() else None))

    def exception(self, timeout: Optional[float] = None) -> Optional[BaseException]:
        """The error, if qthr could not run the job (C jobs cannot raise)."""
        self._qthr_wait(timeout)
        return super().exception(0 if not self.done() else None)

    def cancel(self) -> bool:
        """Cancel the C job if it has not started; True if it is cancelled."""
        if self.done():
            return self.cancelled()
        cfut = self._qthr_cfut
        if not cfut:
            return False  # still being submitted
        LIB.qthr_cancel(cfut)
        self._qthr_poll(0)
        return self.cancelled()

    def interrupt(self) -> bool:
        """Withdraw the C job if queued, else (0.2 core) call the runtime's
        ``on_interrupt`` while it runs (``qthr_interrupt``). True if withdrawn
        or interrupted."""
        if self.done():
            return False
        cfut = self._qthr_cfut
        if not cfut:
            return False
        ok = interrupt_c(cfut)
        self._qthr_poll(0)
        return ok

    def __del__(self) -> None:
        cfut = self._qthr_cfut
        if not cfut:
            return
        self._qthr_cfut = None
        try:
            if self._qthr_keep is not None and LIB.qthr_wait(cfut, 0, None) == _TIMEOUT:
                # Dropped while the C job may still run: its function and argument
                # objects must outlive it. The reaper keeps them until it is done.
                if not sys.is_finalizing():
                    _reaper.watch(_Orphan(cfut, self._qthr_keep))
                return
            LIB.qthr_future_free(cfut)
        except Exception:  # interpreter teardown
            pass


class _Orphan:
    """What is left of a CFuture dropped before its job finished."""

    __slots__ = ("_qthr_cfut", "keep")

    def __init__(self, cfut: int, keep: Any) -> None:
        self._qthr_cfut: Optional[int] = cfut
        self.keep = keep

    def done(self) -> bool:
        return self._qthr_cfut is None

    def _qthr_poll(self, timeout_ns: int) -> int:
        cfut = self._qthr_cfut
        if cfut is None:
            return _OK
        st = int(LIB.qthr_wait(cfut, timeout_ns, None))
        if st != _TIMEOUT:
            self._qthr_cfut = None
            self.keep = None
            LIB.qthr_future_free(cfut)
        return st


class _WatchOnWait(List[Any]):
    """CFuture._waiters: ``concurrent.futures.wait``/``as_completed`` install their
    waiter here; that is the moment the future must be watched by the reaper."""

    def __init__(self, fut: CFuture) -> None:
        super().__init__()
        self._fut = weakref.ref(fut)

    def append(self, waiter: Any) -> None:
        super().append(waiter)  # first: a synchronous resolution must see it
        fut = self._fut()
        if fut is not None:
            fut._qthr_watch()


class _Reaper:
    """Resolves C futures nobody waits on, woken by qthr_then_notify_fd (no GIL)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.thread: Optional[threading.Thread] = None
        self.rfd = -1
        self.wfd = -1
        self.stopping = False
        self.pending: List["CFuture | _Orphan"] = []

    def _start_locked(self) -> None:
        if self.thread is not None and not self.stopping:
            return
        # The fd is never closed (but in a forked child): a continuation of the
        # core may write to it at any time, and a reused fd number must not get it.
        if self.rfd < 0:
            if hasattr(os, "eventfd"):
                self.rfd = self.wfd = os.eventfd(0, getattr(os, "EFD_CLOEXEC", 0))
            else:  # macOS, Python < 3.10: a pipe whose write end never blocks the worker
                self.rfd, self.wfd = os.pipe()
                os.set_blocking(self.wfd, False)
        self.stopping = False
        self.thread = threading.Thread(target=self._loop, name="qthr-reaper", daemon=True)
        self.thread.start()

    def watch(self, fut: "CFuture | _Orphan") -> None:
        with self.lock:
            self._start_locked()
            self.pending.append(fut)
            wfd = self.wfd
        then = NOTIFY_FD_ADDR or _FALLBACK_THEN_ADDR  # the fallback takes the GIL
        if LIB.qthr_future_then(fut._qthr_cfut, then, wfd) != _OK:
            fut._qthr_poll(0)

    def kick(self) -> None:
        with self.lock:
            wfd = self.wfd
        if wfd >= 0:
            try:
                os.write(wfd, (1).to_bytes(8, "little"))
            except OSError:
                pass

    def _loop(self) -> None:
        rfd = self.rfd
        while True:
            try:
                os.read(rfd, 4096)
            except InterruptedError:
                continue
            except OSError:
                return
            self.drain()
            if self.stopping:
                return

    def drain(self) -> None:
        """Resolve every watched future whose job has finished."""
        with self.lock:
            items, self.pending = self.pending, []
        if not items:
            return
        still = [f for f in items if not f.done() and f._qthr_poll(0) == _TIMEOUT]
        if still:
            with self.lock:
                self.pending[:0] = still

    def stop(self) -> None:
        with self.lock:
            thread = self.thread
            self.stopping = True
        if thread is None:
            return
        self.kick()
        thread.join(timeout=5)
        with self.lock:
            if self.thread is thread and self.stopping:
                self.thread = None

    def after_fork_in_child(self) -> None:
        self.lock = threading.Lock()
        for fd in {self.rfd, self.wfd}:
            if fd >= 0:
                try:
                    os.close(fd)
                except OSError:
                    pass
        self.rfd = self.wfd = -1
        self.thread = None
        self.pending = []


def _fallback_then(ctx: Optional[int], st: int, result: Optional[int]) -> None:
    try:
        os.write(ctx or 0, (1).to_bytes(8, "little"))
    except BaseException:
        pass


_FALLBACK_THEN = THEN_FN(_fallback_then)
_FALLBACK_THEN_ADDR = ctypes.cast(_FALLBACK_THEN, c_void_p).value
_reaper = _Reaper()

# Silence "imported but unused" for names kept for their side effects / typing.
_ = (QthrError, _NOT_CANCELLABLE)
