"""The future of a Python job: :class:`Future` (C jobs have :class:`CFuture`,
in ``_c_jobs``).

A :class:`Future` is a real :class:`concurrent.futures.Future`, made light: it
creates its condition variable, waiter list and callback list only when somebody
needs them (a thread that blocks in ``result()`` past the short spin,
``add_done_callback``, ``concurrent.futures.wait``). A job whose future nobody
waits on is created, run and resolved without any lock.
"""

from __future__ import annotations

import concurrent.futures
import threading
import time
from concurrent.futures._base import (  # the states concurrent.futures uses
    CANCELLED,
    CANCELLED_AND_NOTIFIED,
    FINISHED,
    PENDING,
    RUNNING,
)
from typing import TYPE_CHECKING, Any, Generic, Optional, TypeVar

from ._interrupts import _interrupt_quietly
from ._lib import LIB
from ._worker import _worker_idents

if TYPE_CHECKING:
    from ._drainer import _Batch
    from ._runtime import Runtime

    _FutureBase = concurrent.futures.Future
else:

    class _FutureBase(Generic[TypeVar("_T")], concurrent.futures.Future):
        pass


__all__ = ["Future"]

T = TypeVar("T")

_DONE = (FINISHED, CANCELLED, CANCELLED_AND_NOTIFIED)
_CANCELLED_STATES = (CANCELLED, CANCELLED_AND_NOTIFIED)
_get_ident = threading.get_ident
_monotonic = time.monotonic

#: How long a waiter spins inside qthr_wait (GIL released) on its job's batch
#: before it sleeps on the future's condition: a batch that ends within it (a
#: lone job: rt.submit(f).result()) costs no sleep and no wake-up.
_SPIN_NS = 50_000

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
        except KeyboardInterrupt:  # Ctrl-C on the main thread
            _interrupt_quietly(self)
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
