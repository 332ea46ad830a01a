"""qthr.Runtime: a concurrent.futures.Executor whose one worker thread owns an engine.

How a Python job travels
------------------------
Python jobs (``submit``, ``run``, ``map``, proxies' fire-and-forget releases,
``call`` on the main thread) do not cross into C one by one. They go into the
runtime's *Python lane*: a deque of pending jobs, grouped in *batches*. The
first job of a batch submits ONE C job to the core, the drainer (``_drain``, a
module-level ctypes callback that lives as long as the process); jobs that
arrive while that batch is open are appended to it without any C call. On the
worker, the drainer takes the GIL once and runs every job of its batch in
order, including jobs appended while it runs, until the batch is empty; then it
closes the batch and returns, releasing the GIL. So a burst of N jobs costs one
C submit, one wake-up of the worker and one GIL acquisition on the worker,
instead of N of each.

Order with C jobs: a C job (``submit_c``, ``options(...).submit``) closes the
open batch after it is queued, so Python jobs submitted after it go into a new
batch, whose drainer the core queues after the C job. A batch becomes open for
other threads only after its drainer is in the core's queue. Together this keeps
the core's one FIFO: per submitting thread, jobs run in submission order,
whatever their kind.

``rt.call`` from an ordinary thread goes straight to the core (``qthr_call``:
one C call, the core's mailbox, no allocation); on the main thread it goes
through the lane, so that Ctrl-C can interrupt the wait; on the worker itself it
runs the function inline.

The GIL
-------
* Callers wait inside qthr (``qthr_call`` / ``qthr_wait``) with the GIL released
  (ctypes releases it around every foreign call); a waiter on a lane future
  spins inside ``qthr_wait`` on its batch for up to 50 us, then sleeps on the
  future's condition (created only then).
* The worker takes the GIL once per batch (the drainer) or once per job that
  went through the core (``rt.call`` from a thread). ``on_start`` keeps one
  ``PyGILState_Ensure`` count open until ``on_stop``, so the worker keeps ONE
  Python thread state for its whole life (``threading.local`` values persist).
* asyncio: ``rt.run`` returns an ``asyncio.Future`` (no Task). The worker
  appends each result to the event loop's inbox and wakes the loop with one
  ``call_soon_threadsafe`` only when the inbox was empty: one wake-up per
  batch of completions the loop has not yet seen, not one per job.
* C jobs (:meth:`Runtime.submit_c`) run with no Python at all on the worker.
"""

from __future__ import annotations

import _thread
import asyncio
import atexit
import collections
import concurrent.futures
import contextvars
import ctypes
import gc
import importlib
import logging
import os
import sys
import threading
import time
import weakref
from ctypes import byref, c_void_p
from typing import (
    TYPE_CHECKING,
    Any,
    Awaitable,
    Callable,
    Deque,
    Dict,
    Iterable,
    Iterator,
    List,
    Optional,
    Set,
    Tuple,
    TypeVar,
)

from ._errors import QthrError, ShutdownError, Status, error_for
from concurrent.futures._base import RUNNING

from ._futures import (
    _WatchOnWait,
    _CANCELLED_STATES,
    _DONE,
    _MAIN_IDENT,
    CFuture,
    Future,
    _finish,
    _reaper,
    _wait_interruptible,
    _worker_idents,
    interrupt_c,
)
from ._lib import (
    CONFIG_SIZE_0_1,
    HAS_0_2,
    JOB_FN,
    LIB,
    LOG_FN,
    START_FN,
    STATS_SIZE_0_1,
    STOP_FN,
    Config,
    Stats,
    SubmitOpts,
    config_init,
)

if TYPE_CHECKING:
    if sys.version_info >= (3, 10):
        from typing import ParamSpec
    else:
        from typing_extensions import ParamSpec
    P = ParamSpec("P")
    from ._proxy import Proxy

__all__ = ["Runtime", "Options", "set_log_level", "runtimes"]

T = TypeVar("T")

_OK = 0
_TIMEOUT = int(Status.TIMEOUT)
_CANCELLED = int(Status.CANCELLED)
_QUEUE_FULL = int(Status.QUEUE_FULL)
_QTHR_DRAIN = 0
_QTHR_CANCEL = 1

_logger = logging.getLogger("qthr")
_logger.addHandler(logging.NullHandler())  # a library: the application configures output
_get_ident = threading.get_ident
_monotonic = time.monotonic
_perf_counter = time.perf_counter


def _rearm_interrupt(exc: BaseException) -> None:
    """A KeyboardInterrupt caught in a ctypes callback (which cannot pass it on
    into C) is raised again in the main thread as soon as it runs Python."""
    if isinstance(exc, KeyboardInterrupt):
        try:
            _thread.interrupt_main()
        except BaseException:
            pass


# --- the Python lane ----------------------------------------------------------------


class _Batch:
    """Jobs run by ONE drainer C job, in order."""

    __slots__ = ("rt", "q", "closed", "cfut", "old_cfuts", "__weakref__")

    def __init__(self, rt: "Runtime") -> None:
        self.rt = rt
        self.q: Deque[Any] = collections.deque()
        self.closed = False
        self.cfut: Optional[int] = None  # the (latest) drainer's qthr_future
        self.old_cfuts: List[int] = []  # earlier drainers' (waiters may still hold them)

    def __del__(self) -> None:
        cfuts = self.old_cfuts + ([self.cfut] if self.cfut else [])
        self.cfut = None
        self.old_cfuts = []
        try:
            for cfut in cfuts:
                LIB.qthr_future_free(cfut)
        except Exception:  # interpreter teardown
            pass


#: key -> batch whose drainer C may still run (the drainer pops it).
_batches: Dict[int, _Batch] = {}


def _drain(key: Optional[int]) -> None:
    """The drainer: runs on the worker with the GIL (ctypes took it for us)."""
    try:
        batch = _batches.pop(key, None)  # type: ignore[arg-type]
        if batch is None:
            return None
        rt = batch.rt
        rt._n_drains_started += 1
        rt._draining.append(batch)
        try:
            rt._run_batch(batch)
        finally:
            rt._draining.pop()
    except BaseException as exc:  # never let anything unwind into C
        _rearm_interrupt(exc)
        try:
            _logger.exception("qthr: internal error in the Python lane")
        except BaseException:
            pass
    return None


_DRAIN_CB = JOB_FN(_drain)
_DRAIN_ADDR: int = ctypes.cast(_DRAIN_CB, c_void_p).value  # type: ignore[assignment]


class _Inbox:
    """Completions of ``rt.run`` jobs for one event loop, delivered in bulk.

    The worker appends every completion here and hands the lot to the loop
    (one ``call_soon_threadsafe``) when its batch ends, or once the oldest
    waited ``_FLUSH_AFTER`` seconds while the batch goes on: the loop is woken
    once per batch of completions, not once per job, and it does not compete
    for the GIL with a worker that is still running the batch."""

    __slots__ = ("loop", "items", "scheduled", "dirty", "call_soon_threadsafe")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.items: Deque[Tuple["asyncio.Future[Any]", Any, bool]] = collections.deque()
        self.scheduled = False  # a _deliver is queued on the loop
        self.dirty = False  # items the loop has not been told about
        self.call_soon_threadsafe = loop.call_soon_threadsafe

    def flush(self) -> None:
        """Worker: make sure the loop will deliver what is queued."""
        self.dirty = False
        if self.scheduled or not self.items:
            return
        self.scheduled = True
        try:
            self.call_soon_threadsafe(self._deliver)
        except RuntimeError:  # the loop is closed: nobody awaits these any more
            self.items.clear()
            self.scheduled = False

    def _deliver(self) -> None:
        """On the loop: resolve every queued completion."""
        self.scheduled = False  # first: a flush from now on schedules again
        popleft = self.items.popleft
        while True:
            try:
                afut, value, failed = popleft()
            except IndexError:
                return
            if afut.done():  # cancelled by the awaiting task
                continue
            if failed:
                if isinstance(value, StopIteration):  # asyncio refuses it as is
                    err = RuntimeError("the job raised StopIteration")
                    err.__cause__ = value
                    value = err
                afut.set_exception(value)
            else:
                afut.set_result(value)


#: A batch that goes on longer than this hands the completions it has so far to
#: their event loops.
_FLUSH_AFTER = 0.0005


class _AJob:
    """An ``rt.run`` job: its result goes to an asyncio future."""

    __slots__ = ("c", "afut", "inbox", "_qthr_batch")

    def __init__(self, c: List[Any], afut: "asyncio.Future[Any]", inbox: _Inbox) -> None:
        self.c = c  # [(fn, args, kwargs, context)]: whoever pops it owns the job
        self.afut = afut
        self.inbox = inbox
        self._qthr_batch: Optional[_Batch] = None

    def _qthr_run(self, rt: "Runtime") -> None:
        try:
            fn, args, kwargs, ctx = self.c.pop()
        except IndexError:
            return
        afut = self.afut
        if afut.cancelled():  # the awaiting task was cancelled while queued
            rt._n_worker_withdrawn += 1
            return
        rt._n_started += 1
        inbox = self.inbox
        try:
            result = ctx.run(fn, *args, **kwargs)
        except BaseException as exc:
            if rt._on_interrupt is not None:
                rt._job_returned(self)
            rt._n_done += 1
            inbox.items.append((afut, exc, True))
            del exc
        else:
            if rt._on_interrupt is not None:
                rt._job_returned(self)
            rt._n_done += 1
            inbox.items.append((afut, result, False))
        if not inbox.dirty:
            inbox.dirty = True
            if not rt._dirty:
                rt._dirty_since = _perf_counter()
            rt._dirty.append(inbox)

    def _qthr_withdraw(self) -> bool:
        try:
            self.c.pop()
        except IndexError:
            return False
        b = self._qthr_batch
        if b is not None:
            b.rt._note_withdrawn()
        afut = self.afut
        if not afut.done():
            try:
                afut.get_loop().call_soon_threadsafe(_cancel_afut, afut)
            except RuntimeError:
                pass
        return True

    def _qthr_refused(self, exc: BaseException) -> bool:
        """The drainer could not be queued (shutdown): the job fails with ``exc``.
        True if this call claimed it (it had not been withdrawn)."""
        try:
            self.c.pop()
        except IndexError:
            return False
        afut = self.afut
        try:
            afut.get_loop().call_soon_threadsafe(_fail_afut, afut, exc)
        except RuntimeError:
            pass
        return True

    def _on_afut_done(self, afut: "asyncio.Future[Any]") -> None:
        """On the loop: the awaiting task gave up; stop the job if it runs."""
        b = self._qthr_batch
        if afut.cancelled() and not self._qthr_withdraw() and b is not None:
            b.rt._interrupt_running(self)


def _cancel_afut(afut: "asyncio.Future[Any]") -> None:
    if not afut.done():
        afut.cancel()


def _fail_afut(afut: "asyncio.Future[Any]", exc: BaseException) -> None:
    if not afut.done():
        afut.set_exception(exc)


class _PostJob:
    """A fire-and-forget job (what it raises is logged, not re-raised)."""

    def __init__(self, fn: Callable[..., Any], args: Tuple[Any, ...], rt: "Runtime") -> None:
        self._qthr_c = (fn, args)
        self._qthr_rt = rt
        self._qthr_batch: Optional[_Batch] = None

    def _qthr_run(self, rt: "Runtime") -> None:
        c = self.__dict__.pop("_qthr_c", None)
        if c is None:
            return
        rt._n_started += 1
        fn, args = c
        rt._n_done += 1
        try:
            fn(*args)
        except BaseException:
            _logger.exception("qthr: a fire-and-forget job raised")

    def _qthr_withdraw(self) -> bool:
        if self.__dict__.pop("_qthr_c", None) is None:
            return False
        self._qthr_rt._note_withdrawn()
        return True

    def _qthr_refused(self, exc: BaseException) -> bool:
        return self.__dict__.pop("_qthr_c", None) is not None


# --- Python jobs through the core (rt.call from a thread, options views) --------------


class _Job:
    """Per-job state of a Python job that travels through the core on its own."""

    __slots__ = ("fn", "args", "kwargs", "result", "exc", "ctx")

    def __init__(self, fn: Callable[..., Any], args: Tuple[Any, ...], kwargs: Dict[str, Any],
                 ctx: Optional[contextvars.Context] = None) -> None:
        self.fn = fn
        self.args = args
        self.kwargs = kwargs
        self.result: Any = None
        self.exc: Optional[BaseException] = None
        self.ctx = ctx


#: key (id of the _Job) -> _Job, for every core-path Python job C may still run.
_jobs: Dict[int, _Job] = {}


def _run_job(key: Optional[int]) -> None:
    """The trampoline of core-path Python jobs: worker, GIL held."""
    job = _jobs.pop(key, None)  # type: ignore[arg-type]
    if job is None:  # withdrawn from Python and already popped
        return None
    fn, args, kwargs, ctx = job.fn, job.args, job.kwargs, job.ctx
    job.fn = job.args = job.kwargs = job.ctx = None  # type: ignore[assignment]
    try:
        if ctx is not None:
            job.result = ctx.run(fn, *args, **kwargs)
        else:
            job.result = fn(*args, **kwargs)
    except BaseException as exc:  # SystemExit, KeyboardInterrupt too
        job.exc = exc
    finally:
        job = fn = args = kwargs = ctx = None  # type: ignore[assignment]
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


# --- C function pointers and arguments ------------------------------------------------

_cffi_ffi: Any = None


def _cffi_address(obj: Any) -> Optional[int]:
    """The address behind a cffi cdata (function pointer, pointer, array), or None."""
    global _cffi_ffi
    if type(obj).__module__ != "_cffi_backend":
        return None
    if _cffi_ffi is None:
        # a cffi object exists, so cffi is installed (imported by name: no stubs needed)
        _cffi_ffi = importlib.import_module("cffi").FFI()
    return int(_cffi_ffi.cast("uintptr_t", obj))


def _fn_address(cfunc: Any) -> int:
    if isinstance(cfunc, int):
        return cfunc
    if isinstance(cfunc, c_void_p):
        return cfunc.value or 0
    if isinstance(cfunc, ctypes._CFuncPtr):  # type: ignore[attr-defined]
        return ctypes.cast(cfunc, c_void_p).value or 0
    addr = _cffi_address(cfunc)
    if addr is not None:
        return addr
    raise TypeError("submit_c: expected a ctypes function, a cffi function pointer or an "
                    f"int address, got {type(cfunc).__name__}")


def _arg_address(arg: Any) -> Optional[int]:
    if arg is None or isinstance(arg, int):
        return arg
    if isinstance(arg, c_void_p):
        return arg.value
    if isinstance(arg, (ctypes._Pointer, ctypes.c_char_p, bytes)):
        return ctypes.cast(arg, c_void_p).value  # type: ignore[arg-type]
    if isinstance(arg, (ctypes.Structure, ctypes.Union, ctypes.Array, ctypes._SimpleCData)):
        return ctypes.addressof(arg)
    addr = _cffi_address(arg)
    if addr is not None:
        return addr
    raise TypeError("submit_c: expected an int address, a ctypes object or a cffi pointer as "
                    f"arg, got {type(arg).__name__}")


# --- hooks (on_start / on_stop / on_interrupt) -------------------------------------------


class _Hooks:
    __slots__ = ("on_start", "on_stop", "on_interrupt", "worker_tid", "start_exc", "gil_state",
                 "name", "owned")

    def __init__(self, on_start: Optional[Callable[[], Any]],
                 on_stop: Optional[Callable[[], Any]],
                 on_interrupt: Optional[Callable[[], Any]], name: str,
                 owned: "_Owned") -> None:
        self.on_start = on_start
        self.on_stop = on_stop
        self.on_interrupt = on_interrupt
        self.worker_tid: Optional[int] = None
        self.start_exc: Optional[BaseException] = None
        self.gil_state: Optional[int] = None
        self.name = name
        self.owned = owned


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
        ident = _get_ident()
        hooks.worker_tid = ident
        _worker_idents.add(ident)
        try:  # the worker is a foreign thread: give its threading object the runtime's name
            threading.current_thread().name = hooks.name
        except Exception:
            pass
        if hooks.on_start is not None:
            hooks.on_start()
    except BaseException as exc:
        hooks.start_exc = exc
        _worker_idents.discard(_get_ident())
        return 1
    # Keep this thread's Python thread state until on_stop (see the module doc).
    hooks.gil_state = _PyGILState_Ensure()
    return 0


def _on_stop(ctx: Optional[int]) -> None:
    hooks = _hooks.get(ctx)  # type: ignore[arg-type]
    if hooks is None:
        return
    try:
        try:
            hooks.owned.release_all()  # engine objects of live proxies die HERE, before on_stop
        except BaseException:
            _logger.exception("qthr: releasing the proxies of runtime %r", hooks.name)
        if hooks.on_stop is not None:
            hooks.on_stop()
    except BaseException as exc:
        _rearm_interrupt(exc)
        try:
            _logger.exception("qthr: on_stop of runtime %r raised", hooks.name)
        except BaseException:
            pass
    finally:
        _worker_idents.discard(_get_ident())
        _forget_dummy_thread()
        state = hooks.gil_state
        hooks.gil_state = None
        if state is not None:
            _PyGILState_Release(state)


def _forget_dummy_thread() -> None:
    """The worker ends: drop the threading object made for it in _on_start (a
    foreign thread's _DummyThread otherwise stays in threading.enumerate())."""
    try:
        ident = _get_ident()
        lock = getattr(threading, "_active_limbo_lock", None)
        active = getattr(threading, "_active", None)
        if lock is None or active is None:
            return
        with lock:
            t = active.get(ident)
            if isinstance(t, threading._DummyThread):  # type: ignore[attr-defined,unused-ignore]
                del active[ident]
    except Exception:
        pass


def _on_interrupt(ctx: Optional[int]) -> None:
    """cfg.on_interrupt (0.2 core): runs on the interrupting thread."""
    hooks = _hooks.get(ctx)  # type: ignore[arg-type]
    if hooks is None or hooks.on_interrupt is None:
        return
    try:
        hooks.on_interrupt()
    except BaseException as exc:
        _rearm_interrupt(exc)
        try:
            _logger.exception("qthr: on_interrupt of runtime %r raised", hooks.name)
        except BaseException:
            pass


_START_CB = START_FN(_on_start)
_STOP_CB = STOP_FN(_on_stop)
_INTERRUPT_CB = STOP_FN(_on_interrupt)
_START_ADDR = ctypes.cast(_START_CB, c_void_p).value
_STOP_ADDR = ctypes.cast(_STOP_CB, c_void_p).value
_INTERRUPT_ADDR = ctypes.cast(_INTERRUPT_CB, c_void_p).value


class _Owned:
    """The engine objects behind a runtime's proxies: they are released on its worker.

    A proxy that dies on another thread hands its object over here and a
    fire-and-forget job drops it on the worker; at shutdown, on the worker and
    before on_stop, every live proxy's object is taken out and dropped.
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.live: "weakref.WeakSet[Proxy]" = weakref.WeakSet()
        self.pending: List[Any] = []
        self.posted = False
        self.final = False
        self.rt: "Optional[weakref.ReferenceType[Runtime]]" = None

    def add(self, proxy: "Proxy") -> bool:
        with self.lock:
            if self.final:
                return False
            self.live.add(proxy)
            return True

    def give_back(self, box: List[Any]) -> None:
        """A proxy's last reference to its object, in ``box`` (its ``__del__``, any
        thread): moved to the worker, which drops it. No reference stays here."""
        rt = self.rt() if self.rt is not None else None
        if rt is not None and rt._worker_ident == _get_ident():
            box.clear()  # on the worker: it dies here
            return
        with self.lock:
            if self.final:  # cannot happen (the final release took it)
                box.clear()
                return
            self.pending.append(box.pop())
            post = not self.posted
            self.posted = True
        if post and rt is not None:
            try:
                if not rt._post(self.release_pending):
                    with self.lock:
                        self.posted = False  # on_stop (or the next post) takes them
            except BaseException:
                with self.lock:
                    self.posted = False

    def release_pending(self) -> None:
        """Worker: drop what proxies handed over."""
        with self.lock:
            items, self.pending = self.pending, []
            self.posted = False
        items.clear()

    def release_all(self) -> None:
        """Worker, at shutdown before on_stop: every live proxy lets go of its object."""
        from ._proxy import _take_object

        with self.lock:
            self.final = True
            items, self.pending = self.pending, []
            for proxy in list(self.live):
                items.append(_take_object(proxy))
            self.live = weakref.WeakSet()
        had = bool(items)
        items.clear()
        if had:
            gc.collect()  # objects in reference cycles die on this thread too


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
    objects there (``on_start``, :meth:`create`, or a job) and they never see
    another thread.

    Args:
        name: the worker thread's name (truncated to the OS limit for the OS
            thread; ``threading`` sees it in full).
        queue_capacity: how many jobs may wait at once; a full queue makes
            ``submit`` wait for room (with the GIL released). Blocked
            submitters are woken in bulk, when half the room is free.
        on_start: called on the worker before any job; if it raises, the
            constructor raises :class:`QthrError` (status ``START_FAILED``)
            chained to that exception.
        on_stop: called on the worker after the last job, at shutdown (after
            the objects of live proxies were released there).
        on_interrupt: called with no arguments on the INTERRUPTING thread
            (:meth:`Future.interrupt`, Ctrl-C) while a job runs; it must only do
            what the engine allows from another thread (``conn.interrupt`` of a
            sqlite3 connection, setting a flag). It is never called after the
            job returned.
        nonblocking: if true, a full queue raises ``QthrError(QUEUE_FULL)``
            instead of waiting.
        cpu: pin the worker to this CPU (-1: no pinning).
    """

    def __init__(self, name: str = "engine", queue_capacity: int = 4096,
                 on_start: Optional[Callable[[], Any]] = None,
                 on_stop: Optional[Callable[[], Any]] = None,
                 on_interrupt: Optional[Callable[[], Any]] = None, *,
                 nonblocking: bool = False, cpu: int = -1) -> None:
        self._handle: Optional[int] = None
        self._name = str(name)
        self._shutdown_lock = threading.Lock()
        self._shutdown_started = False
        self._shutdown_done = threading.Event()
        self._forked = False
        for label, hook in (("on_start", on_start), ("on_stop", on_stop),
                            ("on_interrupt", on_interrupt)):
            if hook is not None and not callable(hook):
                raise TypeError(f"{label} must be callable")
        if int(queue_capacity) < 1:
            raise ValueError("queue_capacity must be at least 1")
        # The Python lane (see the module doc).
        self._capacity = int(queue_capacity)
        self._nonblocking = bool(nonblocking)
        self._lock = threading.Lock()
        self._room = threading.Condition(self._lock)
        self._room_waiters = 0
        self._closed = False  # no more lane jobs (shutdown or fork)
        self._open: Optional[_Batch] = None
        self._epoch = 0  # bumped when a C job closes the open batch
        self._live_batches: Set[_Batch] = set()
        self._pending: Optional[_Batch] = None  # an event loop's batch, drainer not yet queued
        self._pending_owner = 0  # the loop's thread
        self._pending_loop: Optional[asyncio.AbstractEventLoop] = None
        self._kick_lock = threading.Lock()
        self._dirty: List[_Inbox] = []  # worker only: inboxes with unflushed completions
        self._dirty_since = 0.0
        self._draining: List[_Batch] = []  # worker only: batches being drained, innermost last
        self._n_sub = 0  # lane jobs accepted (under _lock)
        self._n_cancel = 0  # lane jobs withdrawn before they started (under _lock)
        self._n_worker_withdrawn = 0  # rt.run jobs found cancelled by the worker (worker only)
        self._n_started = 0  # worker only
        self._n_done = 0  # worker only
        self._n_high = 0  # lane high water (under _lock)
        self._n_drains = 0  # drainer C jobs queued (under _lock)
        self._n_drains_started = 0  # worker only
        self._urgent_seq = 0  # bumped after each urgent job is queued (see _run_batch)
        self._inbox: Optional[_Inbox] = None
        self._on_interrupt = on_interrupt
        self._ilock = threading.Lock()
        self._running: List[Any] = []  # lane jobs running now (only with on_interrupt)
        self._owned = _Owned()
        self._owned.rt = weakref.ref(self)
        self._hooks = _Hooks(on_start, on_stop, on_interrupt, self._name, self._owned)
        self._hooks_key = id(self._hooks)
        cfg = Config()
        config_init(cfg)
        self._name_bytes = self._name.encode("utf-8", "replace")
        cfg.thread_name = self._name_bytes
        cfg.queue_capacity = int(queue_capacity)
        cfg.nonblocking = 1 if nonblocking else 0
        cfg.cpu = int(cpu)
        cfg.on_start = _START_ADDR
        cfg.on_stop = _STOP_ADDR
        cfg.hook_ctx = self._hooks_key
        if on_interrupt is not None and cfg.size > CONFIG_SIZE_0_1:
            cfg.on_interrupt = _INTERRUPT_ADDR
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
        self._worker_ident = self._hooks.worker_tid
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
        return self._worker_ident == _get_ident()

    def on_worker(self) -> bool:
        """True when called on this runtime's worker thread."""
        return bool(LIB.qthr_on_worker(self._handle))

    def stats(self) -> Dict[str, int]:
        """Counters of every job of this runtime, whatever its kind.

        ``submitted`` (jobs accepted), ``completed`` (jobs that ran),
        ``cancelled`` (jobs that never ran: cancelled, withdrawn, discarded at
        shutdown, expired), ``queue_len`` (jobs waiting now), ``queue_high_water``
        (the most jobs that waited at once in the Python lane or the core's
        queue) and ``expired`` (jobs whose deadline passed; also counted in
        ``cancelled``; always 0 with a 0.1 core). Exact when nothing runs.
        """
        if self._forked:
            raise QthrError(Status.FORKED)
        s = Stats()
        s.size = ctypes.sizeof(Stats) if HAS_0_2 else STATS_SIZE_0_1
        st = LIB.qthr_get_stats(self._handle, byref(s))
        if st != _OK:
            raise error_for(st)
        with self._lock:
            n_sub, n_cancel, n_high, n_drains = self._n_sub, self._n_cancel, self._n_high, \
                self._n_drains
        started_d = self._n_drains_started
        # after shutdown (worker joined) a registered drainer that never started
        # was discarded by the core: it is in the core's `cancelled`
        lost = max(0, n_drains - started_d) if self._shutdown_done.is_set() else 0
        lane_cancel = n_cancel + self._n_worker_withdrawn
        lane_queued = max(0, n_sub - self._n_started - lane_cancel)
        queued_drains = max(0, n_drains - started_d - lost)
        return {
            "submitted": int(s.submitted) - n_drains + n_sub,
            "completed": int(s.completed) - started_d + self._n_done,
            "cancelled": int(s.cancelled) - lost + lane_cancel,
            "queue_len": max(0, int(s.queue_len) - queued_drains) + lane_queued,
            "queue_high_water": max(int(s.queue_high_water), n_high),
            "expired": int(s.expired) if HAS_0_2 else 0,
        }

    # -- the Python lane ---------------------------------------------------------------

    def _refuse(self) -> BaseException:
        if self._forked:
            return QthrError(Status.FORKED, "the runtime belongs to the parent process (fork)")
        return ShutdownError(message="cannot schedule new futures after shutdown")

    def _push(self, job: Any, loop: Optional[asyncio.AbstractEventLoop] = None) -> None:
        """Queue one lane job (see the module doc).

        ``loop``: the caller is that event loop's thread (``rt.run``). When a
        new batch is needed, its drainer is then queued by a ``call_soon``
        callback, after the loop has run the callbacks it has ready now: a
        burst of ``rt.run`` calls from many tasks fills one batch, and the loop
        does not hand the GIL to the worker in the middle of it."""
        ident = _get_ident()
        if self._pending is not None and self._pending_owner == ident and \
                self._pending_loop is not loop:
            # our deferred batch belongs to another (or no) event loop, which may
            # have stopped before queueing it: queue it now, in order
            self._kick_pending()
        with self._lock:
            if self._closed:
                raise self._refuse()
            n = self._n_sub - self._n_started - self._n_cancel - self._n_worker_withdrawn
            if n >= self._n_high:
                if n >= self._capacity:
                    self._wait_for_room_locked(1)
                    n = self._n_sub - self._n_started - self._n_cancel - self._n_worker_withdrawn
                if n >= self._n_high:
                    self._n_high = n + 1
            self._n_sub += 1
            b = self._pending
            if b is None or self._pending_owner != ident:
                b = self._open
            if b is not None:
                job._qthr_batch = b
                b.q.append(job)
                return
            b = _Batch(self)
            job._qthr_batch = b
            b.q.append(job)
            self._live_batches.add(b)
            if loop is not None and self._pending is None and ident not in _worker_idents:
                self._pending = b
                self._pending_owner = ident
                self._pending_loop = loop
                defer = True
            else:
                epoch = self._epoch
                defer = False
        if defer:
            try:
                loop.call_soon(self._kick_pending, b)  # type: ignore[union-attr]
            except RuntimeError:  # the loop is closing
                self._kick_pending(b)
            return
        self._submit_drainer(b, epoch)

    def _push_many(self, jobs: List[Any]) -> None:
        """Queue lane jobs in order, as few batches as room allows."""
        i, total = 0, len(jobs)
        ident = _get_ident()
        if self._pending is not None and self._pending_owner == ident:
            self._kick_pending()  # not an event loop's burst: queue ours first, in order
        while i < total:
            with self._lock:
                if self._closed:
                    for job in jobs[i:]:
                        job.__dict__.pop("_qthr_c", None)
                    raise self._refuse()
                n = self._n_sub - self._n_started - self._n_cancel - self._n_worker_withdrawn
                if n >= self._capacity:
                    self._wait_for_room_locked(1)
                    n = self._n_sub - self._n_started - self._n_cancel - self._n_worker_withdrawn
                k = min(total - i, self._capacity - n)
                chunk = jobs[i:i + k]
                self._n_sub += k
                if n + k > self._n_high:
                    self._n_high = n + k
                b = self._pending
                if b is None or self._pending_owner != ident:
                    b = self._open
                new = b is None
                if new:
                    b = _Batch(self)
                    self._live_batches.add(b)
                    epoch = self._epoch
                for job in chunk:
                    job._qthr_batch = b
                b.q.extend(chunk)  # type: ignore[union-attr]
            i += k
            if new:
                try:
                    self._submit_drainer(b, epoch)  # type: ignore[arg-type]
                except BaseException:
                    for job in jobs[i:]:
                        job.__dict__.pop("_qthr_c", None)
                    raise

    def _wait_for_room_locked(self, need: int) -> None:
        """With _lock held: wait until the lane has room (or raise)."""
        if self._nonblocking or self._is_worker_thread():
            raise QthrError(Status.QUEUE_FULL)
        main = _get_ident() == _MAIN_IDENT
        while True:
            n = self._n_sub - self._n_started - self._n_cancel - self._n_worker_withdrawn
            if n + need <= self._capacity:
                return
            if self._closed:
                raise self._refuse()
            pending = self._pending
            if pending is not None and self._pending_owner == _get_ident():
                # our own jobs wait for a drainer only we would queue: queue it now
                self._lock.release()
                try:
                    self._kick_pending(pending)
                finally:
                    self._lock.acquire()
                continue
            self._room_waiters += 1
            try:
                self._room.wait(0.1 if main else 1.0)  # bulk wake-ups; the timeout is a safety net
            finally:
                self._room_waiters -= 1

    def _kick_pending(self, batch: Optional[_Batch] = None) -> None:
        """Queue the drainer of the deferred batch (``batch``, or whichever)."""
        with self._kick_lock:
            with self._lock:
                b = self._pending
                if b is None or (batch is not None and b is not batch):
                    return
                self._pending = None
                self._pending_loop = None
                epoch = self._epoch
            self._submit_drainer(b, epoch, swallow=True)

    def _kick_mine(self) -> None:
        """Before a C job, a core call or a wait: our deferred batch goes first."""
        if self._pending is not None and self._pending_owner == _get_ident():
            self._kick_pending()

    def _submit_drainer(self, b: _Batch, epoch: int, swallow: bool = False) -> None:
        """Queue the drainer of ``b`` (in _live_batches), then publish ``b``."""
        key = id(b)
        _batches[key] = b
        out = c_void_p()
        st = LIB.qthr_submit(self._handle, _DRAIN_ADDR, key, byref(out))
        if st != _OK:
            _batches.pop(key, None)
            jobs = list(b.q)
            b.q.clear()
            # jobs withdrawn meanwhile (cancel_futures) stay counted as cancelled
            refused = sum(1 for job in jobs if job._qthr_refused(error_for(st)))
            with self._lock:
                self._live_batches.discard(b)
                self._n_sub -= refused
            if swallow:
                return
            raise error_for(st)
        b.cfut = out.value
        with self._lock:
            self._n_drains += 1
            # Others may append only once the drainer is queued, and only to the
            # batch whose drainer is the last one queued: if any other job was
            # queued (and registered) since before ours, ours may not be last.
            # Either way the batch open so far is closed: a thread whose last job
            # is in ``b`` must not put its next one in a batch queued before ``b``.
            publish = not b.closed and not self._closed and self._epoch == epoch
            self._epoch += 1
            self._open = b if publish else None

    def _flush_inboxes(self) -> None:
        dirty = self._dirty
        for inbox in dirty:
            inbox.flush()
        dirty.clear()

    def _seal(self) -> None:
        """After a C job was queued: later Python jobs go into a new batch."""
        with self._lock:
            self._open = None
            self._epoch += 1

    def _run_batch(self, b: _Batch) -> None:
        """Worker, GIL held: run the jobs of ``b`` until it is empty, then close it."""
        q = b.q
        popleft = q.popleft
        lock = self._lock
        ion = self._on_interrupt is not None
        urgent = self._urgent_seq
        ticks = 0
        while True:
            if self._urgent_seq != urgent and q and self._continue_urgently(b):
                return  # urgent jobs were queued: they go first, the rest right after
            try:
                job = popleft()
            except IndexError:
                with lock:
                    if q:
                        continue
                    b.closed = True
                    if self._open is b:
                        self._open = None
                    self._live_batches.discard(b)
                    if self._room_waiters:
                        self._room.notify_all()
                if self._dirty:
                    self._flush_inboxes()
                return
            if ion:
                self._run_interruptible(job)
            else:
                job._qthr_run(self)
            if self._room_waiters:
                self._maybe_wake_submitters()
            if self._dirty:
                ticks += 1
                if not ticks & 7 and _perf_counter() - self._dirty_since > _FLUSH_AFTER:
                    self._flush_inboxes()  # the clock is read every 8th job only

    def _continue_urgently(self, b: _Batch) -> bool:
        """Queue the rest of ``b`` as an URGENT drainer: after the urgent jobs
        queued meanwhile, before every queued normal job (which all came after
        ``b``'s jobs, so their order holds). False if it cannot be queued."""
        key = id(b)
        _batches[key] = b
        opts = SubmitOpts()
        opts.size = ctypes.sizeof(SubmitOpts)
        opts.deadline_ns = 0
        opts.priority = 1
        out = c_void_p()
        if not HAS_0_2 or int(LIB.qthr_submit_ex(self._handle, _DRAIN_ADDR, key, byref(opts),
                                                  byref(out))) != _OK:
            _batches.pop(key, None)
            return False
        if b.cfut:
            b.old_cfuts.append(b.cfut)
        b.cfut = out.value
        with self._lock:
            self._n_drains += 1
        return True

    def _run_interruptible(self, job: Any) -> None:
        with self._ilock:
            self._running.append(job)
        try:
            job._qthr_run(self)
        finally:
            self._job_returned(job)

    def _job_returned(self, job: Any) -> None:
        """The job's function returned: from now on on_interrupt is not called
        for it. Waits for a call in flight, before the job's future resolves."""
        running = self._running
        if running and running[-1] is job:
            with self._ilock:
                if running and running[-1] is job:
                    running.pop()

    def _maybe_wake_submitters(self) -> None:
        with self._lock:
            n = self._n_sub - self._n_started - self._n_cancel - self._n_worker_withdrawn
            if self._room_waiters and n <= self._capacity // 2:
                self._room.notify_all()

    def _note_withdrawn(self) -> None:
        with self._lock:
            self._n_cancel += 1
            if self._room_waiters:
                self._room.notify_all()

    def _interrupt_running(self, job: Any) -> bool:
        """Call on_interrupt if ``job`` (a lane job) is running now."""
        hook = self._on_interrupt
        if hook is None:
            return False
        with self._ilock:
            if not any(j is job for j in self._running):
                return False
            hook()
            return True

    def _wait_on_worker(self, fut: "Future[Any]", timeout: Optional[float]) -> bool:
        """On this runtime's worker: run what is queued ahead of ``fut`` inline."""
        end = None if timeout is None else _monotonic() + timeout
        while fut._state not in _DONE:
            if fut._state == RUNNING:
                raise QthrError(Status.WOULD_DEADLOCK,
                                "waiting on the worker thread for a job that is already "
                                "running there")
            b = fut._qthr_batch
            if b is not None and any(d is b for d in self._draining):
                try:
                    job = b.q.popleft()
                except IndexError:  # a canceller claimed it and is resolving it
                    time.sleep(0)
                    continue
                if self._on_interrupt is not None:
                    self._run_interruptible(job)
                else:
                    job._qthr_run(self)
            elif b is not None and b.cfut:
                # Its drainer waits in the core's queue behind us: the core runs
                # the queue inline up to it.
                ns = -1 if end is None else max(0, int((end - _monotonic()) * 1e9))
                st = int(LIB.qthr_wait(b.cfut, ns, None))
                if st == _TIMEOUT:
                    return False
                if st != _OK and fut._state not in _DONE:
                    raise error_for(st)
            else:
                time.sleep(0)
            if end is not None and _monotonic() >= end and fut._state not in _DONE:
                return False
        return True

    def _post(self, fn: Callable[..., Any], *args: Any) -> bool:
        """Fire and forget ``fn(*args)`` on the worker (what it raises is logged).
        False if it could not be queued."""
        try:
            self._push(_PostJob(fn, args, self))
        except QthrError:
            return False
        return True

    # -- Python jobs -----------------------------------------------------------------

    def submit(self, fn: "Callable[P, T]", /, *args: "P.args",
               **kwargs: "P.kwargs") -> "Future[T]":
        """Queue ``fn(*args, **kwargs)`` to run on the worker; return its Future.

        Raises :class:`ShutdownError` (a RuntimeError) after :meth:`shutdown`
        and ``QthrError(FORKED)`` in a fork child.
        """
        fut: Future[T] = Future()
        fut._qthr_c = (fn, args, kwargs)  # type: ignore[attr-defined]
        fut._qthr_rt = self
        self._push(fut)
        return fut

    def submit_many(self, fn: "Callable[..., T]",
                    args_iterable: "Iterable[Iterable[Any]]") -> "List[Future[T]]":
        """Queue ``fn(*args)`` for every ``args`` of ``args_iterable`` (like
        ``itertools.starmap``), in order, in as few batches as the queue's room
        allows; return their futures. All of them are queued, or (shutdown)
        :class:`ShutdownError` is raised for the first one refused."""
        futs: List[Future[T]] = []
        for args in args_iterable:
            fut: Future[T] = Future()
            fut._qthr_c = (fn, tuple(args), {})  # type: ignore[attr-defined]
            fut._qthr_rt = self
            futs.append(fut)
        self._push_many(futs)
        return futs

    def map(self, fn: "Callable[..., T]", *iterables: "Iterable[Any]",
            timeout: Optional[float] = None, chunksize: int = 1) -> "Iterator[T]":
        """:meth:`concurrent.futures.Executor.map`, queued with :meth:`submit_many`.

        ``chunksize`` is accepted and ignored (one worker thread)."""
        end = None if timeout is None else _monotonic() + timeout
        fs = self.submit_many(fn, zip(*iterables))

        def results() -> "Iterator[T]":
            try:
                fs.reverse()
                while fs:
                    if end is None:
                        yield fs.pop().result()
                    else:
                        yield fs.pop().result(end - _monotonic())
            finally:
                for f in fs:
                    f.cancel()

        return results()

    def call(self, fn: "Callable[P, T]", /, *args: "P.args", **kwargs: "P.kwargs") -> T:
        """Run ``fn(*args, **kwargs)`` on the worker and return its result.

        Re-raises whatever ``fn`` raised (BaseException included) with its
        original traceback. On the worker itself, runs ``fn`` inline. On the
        main thread, Ctrl-C raises KeyboardInterrupt at once (the job is
        withdrawn if queued, interrupted through ``on_interrupt`` if running).
        """
        ident = _get_ident()
        if ident == self._worker_ident:
            return fn(*args, **kwargs)
        if self._closed:
            raise self._refuse()
        self._kick_mine()
        job = _Job(fn, args, kwargs)
        key = id(job)
        _jobs[key] = job
        if ident == _MAIN_IDENT:
            return self._call_interruptible(job, key)  # type: ignore[no-any-return]
        st = LIB.qthr_call(self._handle, _JOB_ADDR, key, None)
        if st != _OK:
            _jobs.pop(key, None)
            raise error_for(st)
        return _raise_job_exc(job)  # type: ignore[no-any-return]

    def _call_interruptible(self, job: _Job, key: int) -> Any:
        """rt.call on the main thread: submit + wait in slices, so that Ctrl-C
        gets through; then the job is withdrawn (queued) or interrupted
        (running, ``qthr_interrupt`` -> on_interrupt)."""
        out = c_void_p()
        st = LIB.qthr_submit(self._handle, _JOB_ADDR, key, byref(out))
        if st != _OK:
            _jobs.pop(key, None)
            raise error_for(st)
        cfut: int = out.value or 0
        try:
            st = _wait_interruptible(cfut, None, None)
        except KeyboardInterrupt:
            interrupt_c(cfut)
            if int(LIB.qthr_wait(cfut, 0, None)) == _TIMEOUT:
                _reaper_keep(cfut, None)  # still running: freed once it is done
            else:
                LIB.qthr_future_free(cfut)
                _jobs.pop(key, None)  # withdrawn: the trampoline never runs
            raise
        LIB.qthr_future_free(cfut)
        if st != _OK:
            _jobs.pop(key, None)
            raise error_for(st)
        return _raise_job_exc(job)

    def run(self, fn: "Callable[P, T]", /, *args: "P.args",
            **kwargs: "P.kwargs") -> "Awaitable[T]":
        """``await rt.run(fn, ...)``: run on the worker without blocking the loop.

        Called in a running event loop it returns an ``asyncio.Future`` (no
        Task per call: ``gather`` and ``ensure_future`` take it as it is).
        ``fn`` runs in a copy of the caller's contextvars, like
        ``asyncio.to_thread``. Cancelling the awaiting task withdraws the job
        if it has not started (and calls ``on_interrupt`` if it runs). Called
        with no running loop it returns a coroutine that does the same when
        awaited.
        """
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return self._run_later(fn, args, kwargs)
        afut = loop.create_future()
        inbox = self._inbox
        if inbox is None or inbox.loop is not loop:
            inbox = self._inbox = _Inbox(loop)
        job = _AJob([(fn, args, kwargs, contextvars.copy_context())], afut, inbox)
        self._push(job, loop)
        if self._on_interrupt is not None:
            afut.add_done_callback(job._on_afut_done)
        return afut

    async def _run_later(self, fn: Callable[..., T], args: Tuple[Any, ...],
                         kwargs: Dict[str, Any]) -> T:
        return await self.run(fn, *args, **kwargs)

    # -- engine objects ------------------------------------------------------------------

    def create(self, factory: "Callable[P, Any]", /, *args: "P.args",
               **kwargs: "P.kwargs") -> Any:
        """Run ``factory(*args, **kwargs)`` on the worker and return a proxy of
        what it made; the object itself never reaches another thread.

        The runtime tracks its live proxies: at shutdown (explicit, ``with``,
        at exit) every live proxy's object is released on the worker before
        ``on_stop``; afterwards using a proxy raises :class:`ShutdownError`.
        """
        from ._proxy import _make_on_worker

        return self.call(_make_on_worker, self, factory, args, kwargs, True)

    def proxy(self, obj: Any, *, wrap_results: bool = True) -> Any:
        """A stand-in for ``obj`` whose attribute reads, writes and method calls
        (and ``len``, iteration, indexing, ``with``, calls) run on the worker.

        With ``wrap_results`` (the default), results that are not plain values
        (numbers, strings, bytes, tuples, lists, dicts, sets, ...) come back
        proxied too; they are made into proxies on the worker. ``obj`` should
        have been made on the worker (:meth:`create` does both in one step);
        ``qthr.unwrap(p)`` gives the object itself (use it only on the worker).
        """
        from ._proxy import Proxy

        if self._closed:
            raise self._refuse()
        return Proxy(self, obj, wrap_results)

    # -- C jobs ------------------------------------------------------------------------

    def submit_c(self, cfunc: Any, arg: Any = None) -> CFuture:
        """Queue a C function ``void *(*)(void *)`` to run on the worker WITHOUT the GIL.

        ``cfunc`` is a ctypes function (``CDLL(...).name``, a ``CFUNCTYPE``
        object), a cffi function pointer (``lib.name`` of an ABI-mode
        ``ffi.dlopen``, ``ffi.callback``, ``ffi.cast("void *(*)(void *)", ...)``)
        or an int address; ``arg`` is None, an int address, a ctypes object
        (passed by address) or a cffi pointer, kept alive until the job
        finishes. The future's result is the returned pointer as an int.
        """
        if self._closed and not self._is_worker_thread():
            raise self._refuse()
        addr = _fn_address(cfunc)
        argp = _arg_address(arg)
        fut = CFuture()
        fut._qthr_rt = self
        fut._qthr_keep = (cfunc, arg)
        self._kick_mine()
        out = c_void_p()
        st = LIB.qthr_submit(self._handle, addr, argp, byref(out))
        if st != _OK:
            raise error_for(st)
        self._seal()
        fut._qthr_cfut = out.value
        return fut

    def call_c(self, cfunc: Any, arg: Any = None) -> int:
        """Run a C function on the worker without the GIL and return its result
        (``qthr_call``: the core's call mailbox, no allocation). The wait is not
        interruptible by Ctrl-C; ``rt.submit_c(...).result()`` is."""
        addr = _fn_address(cfunc)
        argp = _arg_address(arg)
        self._kick_mine()
        res = c_void_p()
        st = LIB.qthr_call(self._handle, addr, argp, byref(res))
        if st != _OK:
            raise error_for(st)
        return res.value or 0

    def run_c(self, cfunc: Any, arg: Any = None) -> "Awaitable[int]":
        """``await rt.run_c(cfunc, arg)``: :meth:`submit_c` for asyncio (an
        ``asyncio.Future`` in a running loop)."""
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return self._run_c_later(cfunc, arg)
        return asyncio.wrap_future(self.submit_c(cfunc, arg))

    async def _run_c_later(self, cfunc: Any, arg: Any) -> int:
        return await self.run_c(cfunc, arg)

    # -- per-job options (0.2) -------------------------------------------------------------

    def options(self, *, deadline: Optional[float] = None, urgent: bool = False) -> "Options":
        """A view of this runtime whose ``submit`` / ``call`` / ``run`` /
        ``submit_c`` queue jobs with these options (``qthr_submit_ex``):

        Args:
            deadline: seconds from the submit; a job not STARTED by then never
                runs and its future raises :class:`ExpiredError` (also a
                TimeoutError). None: no deadline.
            urgent: run before every queued normal job (FIFO among urgent jobs).

        Needs a 0.2 core (QthrError(INVALID_ARGUMENT) otherwise).
        """
        return Options(self, deadline, urgent)

    # -- shutdown ----------------------------------------------------------------------

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Stop the runtime: new submits raise :class:`ShutdownError`.

        Queued jobs still run (their futures resolve) unless ``cancel_futures``,
        which cancels every job that has not started. Then the objects of live
        proxies are released on the worker, ``on_stop`` runs there and the
        worker thread ends. With ``wait`` (the default) this returns after all
        that; without, it returns at once. Idempotent. On the worker thread
        itself only ``wait=False`` is allowed (``wait=True`` raises
        ``QthrError(WOULD_DEADLOCK)``). On the main thread the wait can be
        interrupted with Ctrl-C (the shutdown goes on in the background).
        """
        on_worker = self._is_worker_thread()
        if on_worker and wait:
            raise QthrError(Status.WOULD_DEADLOCK,
                            "shutdown(wait=True) called from the runtime's own worker thread")
        with self._shutdown_lock:
            first = not self._shutdown_started
            self._shutdown_started = True
        with self._lock:
            self._closed = True
            self._open = None
            self._room.notify_all()
        self._kick_pending()  # a deferred batch was accepted: it drains like the rest
        if cancel_futures:
            self._cancel_queued()
        if first:
            mode = _QTHR_CANCEL if cancel_futures else _QTHR_DRAIN
            if wait and _get_ident() != _MAIN_IDENT:
                self._do_shutdown(mode)
            else:
                threading.Thread(target=self._do_shutdown, args=(mode,),
                                 name=f"qthr-shutdown-{self._name}", daemon=True).start()
        if wait:
            self._shutdown_done.wait()

    def _cancel_queued(self) -> None:
        with self._lock:
            batches = list(self._live_batches)
        for b in batches:
            for job in list(b.q):
                job._qthr_withdraw()
        for key, job in list(_jobs.items()):
            pass  # core-path jobs: their callers wait in qthr_call / qthr_wait themselves
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
        # Batches whose drainer never ran (discarded by QTHR_CANCEL, or refused
        # while being queued): their jobs never run. The worker is joined, so
        # every drainer registered in _n_drains has run or been discarded (see
        # stats()).
        for key, b in list(_batches.items()):
            if b.rt is self and _batches.pop(key, None) is not None:
                for job in list(b.q):
                    job._qthr_withdraw()
                b.q.clear()
                with self._lock:
                    self._live_batches.discard(b)
        with self._lock:
            leftover = list(self._live_batches)
            self._live_batches.clear()
        for b in leftover:
            for job in list(b.q):
                job._qthr_withdraw()
            b.q.clear()
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


def _reaper_keep(cfut: int, keep: Any) -> None:
    from ._futures import _Orphan

    _reaper.watch(_Orphan(cfut, keep))


class Options:
    """A view of a runtime whose jobs carry per-job options (``rt.options(...)``).

    Its jobs go through the core one by one (``qthr_submit_ex``), so an
    urgent job overtakes the queued ones and an expired job is resolved
    without running (:class:`ExpiredError`)."""

    def __init__(self, rt: Runtime, deadline: Optional[float], urgent: bool) -> None:
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

    def _submit_ex(self, fn_addr: int, arg: Optional[int]) -> int:
        rt = self.runtime
        if not HAS_0_2:
            raise QthrError(Status.INVALID_ARGUMENT, "per-job options need a 0.2 qthr library")
        if rt._closed and not rt._is_worker_thread():
            raise rt._refuse()
        rt._kick_mine()
        out = c_void_p()
        st = LIB.qthr_submit_ex(rt._handle, fn_addr, arg, byref(self._opts), byref(out))
        if st != _OK:
            raise error_for(st)
        rt._seal()
        if self.urgent:
            rt._urgent_seq += 1
        return out.value or 0

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
        fut._waiters = _WatchOnWait(fut)  # type: ignore[arg-type]
        try:
            cfut = self._submit_ex(_JOB_ADDR, key)
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
        fut._qthr_cfut = self._submit_ex(addr, argp)
        return fut


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
            concurrent.futures.Future.cancel(self)
            with self._condition:  # type: ignore[attr-defined,unused-ignore]
                if self._state == "CANCELLED":
                    concurrent.futures.Future.set_running_or_notify_cancel(self)
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
            _reaper.watch(self)  # type: ignore[arg-type]

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
        try:
            if LIB.qthr_wait(cfut, 0, None) == _TIMEOUT and not sys.is_finalizing():
                _reaper_keep(cfut, None)  # the reaper frees it once the job is done
            else:
                LIB.qthr_future_free(cfut)
        except Exception:
            pass


_lazy_lock_for_watch = threading.Lock()


# --- logging --------------------------------------------------------------------

_PY_LEVEL = {1: logging.ERROR, 2: logging.WARNING, 3: logging.INFO, 4: logging.DEBUG, 5: 5}
_QTHR_LEVEL = ((logging.ERROR, 1), (logging.WARNING, 2), (logging.INFO, 3), (logging.DEBUG, 4))


def _on_log(ctx: Optional[int], level: int, message: Optional[bytes]) -> None:
    try:
        pylevel = _PY_LEVEL.get(level, logging.DEBUG)
        if _logger.isEnabledFor(pylevel):
            text = message.decode("utf-8", "replace") if message else ""
            _logger.log(pylevel, "%s", text)
    except BaseException as exc:
        # Never swallow Ctrl-C: a KeyboardInterrupt that landed in this callback
        # is raised again in the main thread.
        _rearm_interrupt(exc)


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
    """atexit: drain every live runtime. A Ctrl-C during that wait abandons the
    drain (the process exits; queued jobs may not run)."""
    try:
        for rt in runtimes():  # one after the other, as they would be by hand
            rt.shutdown(wait=False)
            rt._shutdown_done.wait()  # interruptible: Ctrl-C lands here
    except KeyboardInterrupt:
        try:
            _logger.warning("qthr: interrupted at exit; not waiting for queued jobs")
        except BaseException:
            pass
        LIB.qthr_set_log_callback(0, None, None)
        return
    except BaseException:
        try:
            _logger.exception("qthr: shutting down runtimes at exit")
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
        rt._closed = True
        rt._shutdown_started = True
        rt._lock = threading.Lock()
        rt._room = threading.Condition(rt._lock)
        rt._ilock = threading.Lock()
        rt._open = None
        rt._pending = None
        rt._pending_loop = None
        rt._live_batches = set()
        rt._worker_ident = None
        rt._shutdown_done.set()
    _live.clear()
    _jobs.clear()
    _batches.clear()
    _worker_idents.clear()
    _reaper.after_fork_in_child()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)

