"""qthr.Runtime: a concurrent.futures.Executor whose one worker thread owns an engine.

How a Python job crosses into the worker
-----------------------------------------
Every Python job goes through ONE module-level ctypes trampoline (``_JOB_ADDR``),
created at import and never freed, so C can never call a dead callback object. The
job's per-call state (function, arguments, future) lives in the module dict
``_jobs`` under an integer key that travels through C as the job's ``void *arg``;
the trampoline pops it, so the state lives exactly as long as C may still run it.
Jobs that C resolves without running them (``qthr_cancel``, shutdown with
``QTHR_CANCEL``) are popped by the Python side that caused it.

The GIL
-------
* Callers wait inside ``qthr_call`` / ``qthr_wait`` / ``qthr_submit`` with the GIL
  released (ctypes.CDLL releases it around every foreign call).
* The worker takes the GIL only while a Python job (or hook, or log record) runs:
  ctypes' callback wrapper does ``PyGILState_Ensure`` / ``Release``. ``on_start``
  additionally keeps one ``PyGILState_Ensure`` count open until ``on_stop``, so the
  worker keeps ONE Python thread state for its whole life: ``threading.local``
  values set by a job are still there for the next job, and no thread state is
  created and destroyed per job.
* C jobs (:meth:`Runtime.submit_c`) run with no Python at all on the worker: their
  completion is signalled by the core's ``qthr_then_notify_fd`` continuation,
  which writes to an eventfd that the ``qthr-reaper`` thread (or a direct waiter
  in ``result()``) watches.
"""

from __future__ import annotations

import asyncio
import atexit
import collections
import concurrent.futures
import ctypes
import logging
import os
import sys
import threading
import weakref
from ctypes import byref, c_void_p
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional, Set, Tuple, TypeVar

if TYPE_CHECKING:
    _FutureBase = concurrent.futures.Future[Any]
else:
    _FutureBase = concurrent.futures.Future

from ._errors import QthrError, ShutdownError, Status, error_for
from ._lib import (
    JOB_FN,
    LIB,
    LOG_FN,
    NOTIFY_FD_ADDR,
    START_FN,
    STATS_FIELDS,
    STOP_FN,
    THEN_FN,
    Config,
    Stats,
)

__all__ = [
    "Runtime",
    "Future",
    "CFuture",
    "set_log_level",
    "runtimes",
]

T = TypeVar("T")

_OK = 0
_TIMEOUT = int(Status.TIMEOUT)
_CANCELLED = int(Status.CANCELLED)
_QTHR_DRAIN = 0
_QTHR_CANCEL = 1

_logger = logging.getLogger("qthr")
_logger.addHandler(logging.NullHandler())  # a library: the application configures output
_get_ident = threading.get_ident

# --- Python jobs ------------------------------------------------------------------


class _Job:
    """Per-job state, alive from submit until the worker (or a canceller) pops it."""

    __slots__ = ("fn", "args", "kwargs", "fut", "rt", "result", "exc")

    def __init__(self, fn: Callable[..., Any], args: Tuple[Any, ...], kwargs: Dict[str, Any],
                 fut: "Optional[Future]", rt: "Runtime") -> None:
        self.fn = fn
        self.args = args
        self.kwargs = kwargs
        self.fut = fut
        self.rt = rt
        self.result: Any = None
        self.exc: Optional[BaseException] = None


#: key (id of the _Job) -> _Job, for every Python job C may still run.
_jobs: Dict[int, _Job] = {}


def _run_job(key: Optional[int]) -> None:
    """The trampoline: runs on the worker with the GIL (ctypes took it for us)."""
    job = _jobs.pop(key, None)  # type: ignore[arg-type]
    if job is None:  # cancelled from Python and already popped
        return None
    fut = job.fut
    fn, args, kwargs = job.fn, job.args, job.kwargs
    job.fn = job.args = job.kwargs = None  # type: ignore[assignment]
    try:
        if fut is None:  # Runtime.call: the caller reads job.result / job.exc
            try:
                job.result = fn(*args, **kwargs)
            except BaseException as exc:  # SystemExit, KeyboardInterrupt too
                job.exc = exc
            return None
        if not fut.set_running_or_notify_cancel():
            return None  # cancelled before it started
        try:
            result = fn(*args, **kwargs)
        except BaseException as exc:
            fut.set_exception(exc)
        else:
            fut.set_result(result)
    except BaseException:  # never let anything unwind into C
        try:
            _logger.exception("qthr: internal error in the Python job trampoline")
        except BaseException:
            pass
    finally:
        job = fut = fn = args = kwargs = None  # type: ignore[assignment]
    return None


_JOB_TRAMPOLINE = JOB_FN(_run_job)
_JOB_ADDR: int = ctypes.cast(_JOB_TRAMPOLINE, c_void_p).value  # type: ignore[assignment]


_MAIN_IDENT = threading.main_thread().ident
_SLICE_NS = 100_000_000


def _wait_interruptible(cfut: int, timeout: Optional[float], res: Optional[c_void_p]) -> int:
    """qthr_wait with the GIL released. On the main thread a long wait goes in
    0.1 s slices, so Ctrl-C (KeyboardInterrupt) gets through as it does for
    ThreadPoolExecutor futures."""
    out = byref(res) if res is not None else None
    if timeout is not None:
        return int(LIB.qthr_wait(cfut, max(0, int(timeout * 1e9)), out))
    if _get_ident() != _MAIN_IDENT:
        return int(LIB.qthr_wait(cfut, -1, out))
    while True:
        st = int(LIB.qthr_wait(cfut, _SLICE_NS, out))
        if st != _TIMEOUT:
            return st


def _cancel_and_notify(fut: _FutureBase) -> None:
    """Cancel a future whose job will never run, and wake its waiters.

    ``concurrent.futures.wait``/``as_completed`` only see a cancelled future once
    the executor has called ``set_running_or_notify_cancel`` on it (state
    CANCELLED_AND_NOTIFIED); this does both, at most once.
    """
    concurrent.futures.Future.cancel(fut)
    with fut._condition:  # type: ignore[attr-defined,unused-ignore]
        if fut._state == "CANCELLED":  # type: ignore[attr-defined,unused-ignore]
            fut.set_running_or_notify_cancel()


class Future(_FutureBase):
    """The future of a Python job: a real :class:`concurrent.futures.Future`.

    ``cancel()`` also takes a not-yet-started job out of the worker's queue;
    ``result()`` / ``exception()`` wait inside qthr (GIL released, a short spin
    before sleeping), and on the worker thread itself run the queued jobs ahead
    of this one inline instead of deadlocking.
    """

    def __init__(self) -> None:
        super().__init__()
        self._qthr_rt: Optional[Runtime] = None
        self._qthr_cfut: Optional[int] = None
        self._qthr_key = 0

    def cancel(self) -> bool:
        """Cancel the job if it has not started; return True if it is cancelled."""
        if not super().cancel():
            return False
        cfut = self._qthr_cfut
        if cfut and LIB.qthr_cancel(cfut) == _OK:
            _jobs.pop(self._qthr_key, None)  # the trampoline will never run
            _cancel_and_notify(self)
        return True

    def _qthr_wait(self, timeout: Optional[float]) -> None:
        """Wait through qthr_wait, GIL released: it spins briefly before it sleeps,
        and on the worker thread it runs the queued jobs ahead of this one inline
        instead of deadlocking."""
        cfut = self._qthr_cfut
        if not cfut or self.done():
            return
        rt = self._qthr_rt
        if rt is not None and self.running() and rt._is_worker_thread():
            # a job waiting for itself (or for a job up its own stack)
            raise QthrError(Status.WOULD_DEADLOCK,
                            "waiting on the worker thread for a job that is already running there")
        st = _wait_interruptible(cfut, timeout, None)
        if st == _OK:
            return  # the trampoline resolved this future before the job returned
        if st == _TIMEOUT:
            raise concurrent.futures.TimeoutError()
        if st == _CANCELLED:
            if _jobs.pop(self._qthr_key, None) is not None:
                _cancel_and_notify(self)
            return
        raise error_for(st)

    def result(self, timeout: Optional[float] = None) -> Any:
        """The job's return value; re-raises what it raised (traceback kept)."""
        self._qthr_wait(timeout)
        return super().result(timeout)

    def exception(self, timeout: Optional[float] = None) -> Optional[BaseException]:
        """What the job raised, or None."""
        self._qthr_wait(timeout)
        return super().exception(timeout)

    def __del__(self) -> None:
        cfut = self._qthr_cfut
        if cfut:
            self._qthr_cfut = None
            try:
                LIB.qthr_future_free(cfut)
            except Exception:  # interpreter teardown
                pass


# --- C jobs -------------------------------------------------------------------------


class CFuture(_FutureBase):
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

    def add_done_callback(self, fn: Callable[[_FutureBase], object]) -> None:
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
        st = _wait_interruptible(self._qthr_cfut, timeout, res)
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
        """Cancel the C job if it has not started; return True if it is cancelled."""
        if self.done():
            return self.cancelled()
        cfut = self._qthr_cfut
        if not cfut:
            return False  # still being submitted
        LIB.qthr_cancel(cfut)
        self._qthr_poll(0)
        return self.cancelled()

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
            else:  # macOS: a pipe whose write end never blocks the worker
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


def _fn_address(cfunc: Any) -> int:
    if isinstance(cfunc, int):
        return cfunc
    if isinstance(cfunc, c_void_p):
        return cfunc.value or 0
    if isinstance(cfunc, ctypes._CFuncPtr):  # type: ignore[attr-defined]
        return ctypes.cast(cfunc, c_void_p).value or 0
    raise TypeError(f"submit_c: expected a ctypes function or an int address, got {type(cfunc).__name__}")


def _arg_address(arg: Any) -> Optional[int]:
    if arg is None or isinstance(arg, int):
        return arg
    if isinstance(arg, c_void_p):
        return arg.value
    if isinstance(arg, (ctypes._Pointer, ctypes.c_char_p, bytes)):
        return ctypes.cast(arg, c_void_p).value  # type: ignore[arg-type]
    if isinstance(arg, (ctypes.Structure, ctypes.Union, ctypes.Array, ctypes._SimpleCData)):
        return ctypes.addressof(arg)
    raise TypeError(f"submit_c: expected an int address or a ctypes object as arg, got {type(arg).__name__}")


# --- hooks (on_start / on_stop) ----------------------------------------------------


class _Hooks:
    __slots__ = ("on_start", "on_stop", "worker_tid", "start_exc", "gil_state", "name")

    def __init__(self, on_start: Optional[Callable[[], Any]],
                 on_stop: Optional[Callable[[], Any]], name: str) -> None:
        self.on_start = on_start
        self.on_stop = on_stop
        self.worker_tid: Optional[int] = None
        self.start_exc: Optional[BaseException] = None
        self.gil_state: Optional[int] = None
        self.name = name


_hooks: Dict[int, _Hooks] = {}

_PyGILState_Ensure = ctypes.pythonapi.PyGILState_Ensure
_PyGILState_Ensure.restype = ctypes.c_int
_PyGILState_Ensure.argtypes = []
_PyGILState_Release = ctypes.pythonapi.PyGILState_Release
_PyGILState_Release.restype = None
_PyGILState_Release.argtypes = [ctypes.c_int]


def _on_start(ctx: Optional[int]) -> int:
    hooks = _hooks.get(ctx)  # type: ignore[arg-type]
    if hooks is None:
        return 1
    try:
        hooks.worker_tid = _get_ident()
        if hooks.on_start is not None:
            hooks.on_start()
    except BaseException as exc:
        hooks.start_exc = exc
        return 1
    # Keep this thread's Python thread state until on_stop (see the module doc).
    hooks.gil_state = _PyGILState_Ensure()
    return 0


def _on_stop(ctx: Optional[int]) -> None:
    hooks = _hooks.get(ctx)  # type: ignore[arg-type]
    if hooks is None:
        return
    try:
        if hooks.on_stop is not None:
            hooks.on_stop()
    except BaseException:
        try:
            _logger.exception("qthr: on_stop of runtime %r raised", hooks.name)
        except BaseException:
            pass
    finally:
        state = hooks.gil_state
        hooks.gil_state = None
        if state is not None:
            _PyGILState_Release(state)


_START_CB = START_FN(_on_start)
_STOP_CB = STOP_FN(_on_stop)
_START_ADDR = ctypes.cast(_START_CB, c_void_p).value
_STOP_ADDR = ctypes.cast(_STOP_CB, c_void_p).value

# --- the runtime -----------------------------------------------------------------

#: Runtimes not yet shut down; shut down at interpreter exit.
_live: Set["Runtime"] = set()
_live_lock = threading.Lock()


def runtimes() -> "list[Runtime]":
    """The runtimes of this process that are not shut down yet."""
    with _live_lock:
        return list(_live)


class Runtime(concurrent.futures.Executor):
    """An executor with ONE worker thread that owns a single-threaded engine.

    Every job runs on that thread, in submission order. Create the engine's
    objects there (``on_start``, or a job) and they never see another thread.

    Args:
        name: the worker thread's name (truncated to the OS limit).
        queue_capacity: how many jobs may wait in the queue; a full queue makes
            ``submit`` wait for room (with the GIL released).
        on_start: called on the worker before any job; if it raises, the
            constructor raises :class:`QthrError` (status ``START_FAILED``)
            chained to that exception.
        on_stop: called on the worker after the last job, at shutdown.
        nonblocking: if true, a full queue raises ``QthrError(QUEUE_FULL)``
            instead of waiting.
        cpu: pin the worker to this CPU (-1: no pinning).
    """

    def __init__(self, name: str = "engine", queue_capacity: int = 4096,
                 on_start: Optional[Callable[[], Any]] = None,
                 on_stop: Optional[Callable[[], Any]] = None, *,
                 nonblocking: bool = False, cpu: int = -1) -> None:
        self._handle: Optional[int] = None
        self._name = str(name)
        self._shutdown_lock = threading.Lock()
        self._shutdown_started = False
        self._shutdown_done = threading.Event()
        self._forked = False
        if on_start is not None and not callable(on_start):
            raise TypeError("on_start must be callable")
        if on_stop is not None and not callable(on_stop):
            raise TypeError("on_stop must be callable")
        if int(queue_capacity) < 1:
            raise ValueError("queue_capacity must be at least 1")
        self._hooks = _Hooks(on_start, on_stop, self._name)
        self._hooks_key = id(self._hooks)
        cfg = Config()
        LIB.qthr_config_init(byref(cfg))
        self._name_bytes = self._name.encode("utf-8", "replace")
        cfg.thread_name = self._name_bytes
        cfg.queue_capacity = int(queue_capacity)
        cfg.nonblocking = 1 if nonblocking else 0
        cfg.cpu = int(cpu)
        cfg.on_start = _START_ADDR
        cfg.on_stop = _STOP_ADDR
        cfg.hook_ctx = self._hooks_key
        _hooks[self._hooks_key] = self._hooks
        out = c_void_p()
        st = LIB.qthr_init(byref(cfg), byref(out))
        if st != _OK:
            _hooks.pop(self._hooks_key, None)
            exc = self._hooks.start_exc
            self._hooks.start_exc = None
            err = QthrError(st)
            if exc is not None:
                raise err from exc
            raise err
        self._handle = out.value
        with _live_lock:
            _live.add(self)

    # -- introspection --------------------------------------------------------------

    @property
    def name(self) -> str:
        """The worker thread's name, as given to the constructor."""
        return self._name

    @property
    def handle(self) -> int:
        """The ``qthr_runtime *`` as an int, for C code that submits directly."""
        return self._handle or 0

    def __repr__(self) -> str:
        state = "shut down" if self._shutdown_started else "running"
        return f"<qthr.Runtime name={self._name!r} {state}>"

    def _is_worker_thread(self) -> bool:
        return self._hooks.worker_tid == _get_ident()

    def on_worker(self) -> bool:
        """True when called on this runtime's worker thread."""
        return bool(LIB.qthr_on_worker(self._handle))

    def stats(self) -> Dict[str, int]:
        """The qthr_stats counters: submitted, completed, cancelled, queue_len,
        queue_high_water."""
        s = Stats()
        s.size = ctypes.sizeof(Stats)
        st = LIB.qthr_get_stats(self._handle, byref(s))
        if st != _OK:
            raise error_for(st)
        return {f: int(getattr(s, f)) for f in STATS_FIELDS}

    # -- Python jobs -----------------------------------------------------------------

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> "Future":
        """Queue ``fn(*args, **kwargs)`` to run on the worker; return its Future.

        Raises :class:`ShutdownError` (a RuntimeError) after :meth:`shutdown`.
        """
        if self._shutdown_started and not self._is_worker_thread():
            raise ShutdownError(message="cannot schedule new futures after shutdown")
        fut = Future()
        fut._qthr_rt = self
        job = _Job(fn, args, kwargs, fut, self)
        key = id(job)
        fut._qthr_key = key
        _jobs[key] = job
        out = c_void_p()
        st = LIB.qthr_submit(self._handle, _JOB_ADDR, key, byref(out))
        if st != _OK:
            _jobs.pop(key, None)
            raise error_for(st)
        fut._qthr_cfut = out.value
        return fut

    def call(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        """Run ``fn(*args, **kwargs)`` on the worker and return its result.

        Re-raises whatever ``fn`` raised (BaseException included) with its
        original traceback. On the worker itself, runs ``fn`` inline.
        """
        job = _Job(fn, args, kwargs, None, self)
        key = id(job)
        _jobs[key] = job
        st = LIB.qthr_call(self._handle, _JOB_ADDR, key, None)
        if st != _OK:
            _jobs.pop(key, None)
            raise error_for(st)
        exc = job.exc
        if exc is not None:
            job.exc = None
            try:
                raise exc
            finally:
                exc = job = None  # type: ignore[assignment]
        return job.result  # type: ignore[no-any-return]

    def _post(self, fn: Callable[..., Any], *args: Any) -> bool:
        """Fire and forget ``fn(*args)`` on the worker (no future; what it raises
        is dropped). False if it could not be queued."""
        job = _Job(fn, args, {}, None, self)
        key = id(job)
        _jobs[key] = job
        if LIB.qthr_submit(self._handle, _JOB_ADDR, key, None) != _OK:
            _jobs.pop(key, None)
            return False
        return True

    async def run(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        """``await rt.run(fn, ...)``: run on the worker without blocking the loop.

        Cancelling the awaiting task cancels the job if it has not started.
        """
        return await asyncio.wrap_future(self.submit(fn, *args, **kwargs))

    # -- C jobs ------------------------------------------------------------------------

    def submit_c(self, cfunc: Any, arg: Any = None) -> CFuture:
        """Queue a C function ``void *(*)(void *)`` to run on the worker WITHOUT the GIL.

        ``cfunc`` is a ctypes function (``CDLL(...).name``, a ``CFUNCTYPE``
        object) or an int address; ``arg`` is None, an int address, or a ctypes
        object (passed by address and kept alive until the job finishes). The
        future's result is the returned pointer as an int (0 for NULL).
        """
        if self._shutdown_started and not self._is_worker_thread():
            raise ShutdownError(message="cannot schedule new futures after shutdown")
        addr = _fn_address(cfunc)
        argp = _arg_address(arg)
        fut = CFuture()
        fut._qthr_rt = self
        fut._qthr_keep = (cfunc, arg)
        out = c_void_p()
        st = LIB.qthr_submit(self._handle, addr, argp, byref(out))
        if st != _OK:
            raise error_for(st)
        fut._qthr_cfut = out.value
        return fut

    def call_c(self, cfunc: Any, arg: Any = None) -> int:
        """Run a C function on the worker without the GIL and return its result."""
        addr = _fn_address(cfunc)
        argp = _arg_address(arg)
        res = c_void_p()
        st = LIB.qthr_call(self._handle, addr, argp, byref(res))
        if st != _OK:
            raise error_for(st)
        return res.value or 0

    async def run_c(self, cfunc: Any, arg: Any = None) -> int:
        """``await rt.run_c(cfunc, arg)``: :meth:`submit_c` for asyncio."""
        return await asyncio.wrap_future(self.submit_c(cfunc, arg))

    # -- proxies -----------------------------------------------------------------------

    def proxy(self, obj: Any, *, wrap_results: bool = True) -> Any:
        """A stand-in for ``obj`` whose attribute reads, writes and method calls
        (and ``len``, iteration, indexing, ``with``, calls) run on the worker.

        With ``wrap_results`` (the default), results that are not plain values
        (numbers, strings, bytes, tuples, lists, dicts, sets, ...) come back
        proxied too, so a cursor returned by ``conn.execute`` is also used on the
        worker. ``qthr.unwrap(p)`` gives the object itself.
        """
        from ._proxy import Proxy

        return Proxy(self, obj, wrap_results)

    # -- shutdown ----------------------------------------------------------------------

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Stop the runtime: new submits raise :class:`ShutdownError`.

        Queued jobs still run (their futures resolve) unless ``cancel_futures``,
        which cancels every job that has not started. Then ``on_stop`` runs on the
        worker and the worker thread ends. With ``wait`` (the default) this
        returns after all that; without, it returns at once. Idempotent. On the
        worker thread itself only ``wait=False`` is allowed (``wait=True`` raises
        ``QthrError(WOULD_DEADLOCK)``).
        """
        on_worker = self._is_worker_thread()
        if on_worker and wait:
            raise QthrError(Status.WOULD_DEADLOCK,
                            "shutdown(wait=True) called from the runtime's own worker thread")
        with self._shutdown_lock:
            first = not self._shutdown_started
            self._shutdown_started = True
        if cancel_futures:
            self._cancel_queued()
        if first:
            mode = _QTHR_CANCEL if cancel_futures else _QTHR_DRAIN
            if wait:
                self._do_shutdown(mode)
            else:
                threading.Thread(target=self._do_shutdown, args=(mode,),
                                 name=f"qthr-shutdown-{self._name}", daemon=True).start()
        if wait:
            self._shutdown_done.wait()

    def _cancel_queued(self) -> None:
        for job in list(_jobs.values()):
            if job.rt is self and job.fut is not None:
                job.fut.cancel()
        with _reaper.lock:
            watched = list(_reaper.pending)
        for fut in watched:
            if isinstance(fut, CFuture) and fut._qthr_rt is self:
                fut.cancel()

    def _do_shutdown(self, mode: int) -> None:
        try:
            if not self._forked:
                st = LIB.qthr_shutdown(self._handle, mode)
                if st not in (_OK, int(Status.SHUTDOWN), int(Status.FORKED)):
                    _logger.error("qthr: shutdown of runtime %r: %s", self._name, error_for(st))
        finally:
            self._finish_shutdown()

    def _finish_shutdown(self) -> None:
        # Jobs C resolved without running them (QTHR_CANCEL): drop their state.
        for key, job in list(_jobs.items()):
            if job.rt is self and job.fut is not None:
                if _jobs.pop(key, None) is not None:
                    _cancel_and_notify(job.fut)
        _reaper.drain()
        _hooks.pop(self._hooks_key, None)
        with _live_lock:
            _live.discard(self)
        self._shutdown_done.set()

    def __del__(self) -> None:
        handle = self._handle
        if handle is None:
            return
        self._handle = None
        try:
            LIB.qthr_free(handle)
        except Exception:  # interpreter teardown
            pass


# --- logging --------------------------------------------------------------------

_PY_LEVEL = {1: logging.ERROR, 2: logging.WARNING, 3: logging.INFO, 4: logging.DEBUG, 5: 5}
_QTHR_LEVEL = ((logging.ERROR, 1), (logging.WARNING, 2), (logging.INFO, 3), (logging.DEBUG, 4))


def _on_log(ctx: Optional[int], level: int, message: Optional[bytes]) -> None:
    try:
        pylevel = _PY_LEVEL.get(level, logging.DEBUG)
        if _logger.isEnabledFor(pylevel):
            text = message.decode("utf-8", "replace") if message else ""
            _logger.log(pylevel, "%s", text)
    except BaseException:
        pass


_LOG_CB = LOG_FN(_on_log)
_LOG_ADDR = ctypes.cast(_LOG_CB, c_void_p).value


def set_log_level(level: int = logging.DEBUG) -> None:
    """Choose which qthr records cross into the Python logger ``"qthr"``.

    ``level`` is a :mod:`logging` level: records below it are dropped inside the
    library (no GIL taken for them). Default: DEBUG. ``logging.NOTSET`` or less
    also forwards TRACE records; a level above CRITICAL turns forwarding off.
    """
    if level > logging.CRITICAL:
        LIB.qthr_set_log_callback(0, None, None)
        return
    max_level = 5
    for pylevel, qlevel in _QTHR_LEVEL:
        if level >= pylevel:
            max_level = qlevel
            break
    LIB.qthr_set_log_callback(max_level, _LOG_ADDR, None)


set_log_level(logging.DEBUG)

# --- process lifecycle --------------------------------------------------------------


def _shutdown_all_at_exit() -> None:
    for rt in runtimes():
        try:
            rt.shutdown(wait=True)
        except BaseException:
            try:
                _logger.exception("qthr: shutting down %r at exit", rt)
            except BaseException:
                pass
    _reaper.stop()
    # No record may reach Python once the interpreter is finalizing.
    LIB.qthr_set_log_callback(0, None, None)


atexit.register(_shutdown_all_at_exit)


def _after_fork_in_child() -> None:
    global _live_lock
    _live_lock = threading.Lock()
    for rt in list(_live):
        rt._forked = True
        rt._shutdown_started = True
        rt._shutdown_done.set()
    _live.clear()
    _jobs.clear()
    _reaper.after_fork_in_child()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
