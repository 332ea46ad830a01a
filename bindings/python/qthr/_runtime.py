"""qthr.Runtime: a concurrent.futures.Executor whose one worker thread owns an engine.

Where things are
----------------
* ``_runtime``: :class:`Runtime`, its public methods and its shutdown;
* ``_lane``: the Python lane (how Python jobs reach the worker, in batches, and
  keep their order with C jobs); ``_drainer``: its worker side;
* ``_futures``: :class:`Future`; ``_c_jobs``: C jobs and :class:`CFuture`;
  ``_core_jobs``: Python jobs that go through the core one by one (``rt.call``,
  options views); ``_options``: :class:`Options`; ``_asyncio_jobs``: ``rt.run``;
* ``_worker``: starting the worker and its hooks; ``_interrupts``: Ctrl-C and
  ``on_interrupt``; ``_reaper``: the thread that resolves futures nobody
  blocks on; ``_proxy``: proxies and the engine objects behind them;
  ``_process``: the live runtimes, atexit and fork; ``_logging``: records.

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

import asyncio
import concurrent.futures
import contextvars
import ctypes
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
    Dict,
    Iterable,
    Iterator,
    List,
    Optional,
    Tuple,
    TypeVar,
)

from . import _process
from ._asyncio_jobs import _Inbox, _RunFuture
from ._c_jobs import CFuture, _arg_address, _fn_address
from ._core_jobs import _JOB_ADDR, _call_interruptible, _Job, _jobs, _raise_job_exc
from ._errors import _OK, QthrError, Status, error_for
from ._futures import Future
from ._interrupts import _MAIN_IDENT
from ._lane import _Lane
from ._lib import HAS_0_2, LIB, STATS_SIZE_0_1, Stats
from ._logging import _logger
from ._options import Options
from ._proxy import Proxy, _make_on_worker, _Owned
from ._reaper import _reaper
from ._worker import _hooks, _Hooks, _start_worker

if TYPE_CHECKING:
    if sys.version_info >= (3, 10):
        from typing import ParamSpec
    else:
        from typing_extensions import ParamSpec
    P = ParamSpec("P")

__all__ = ["Runtime"]

T = TypeVar("T")

_QTHR_DRAIN = 0
_QTHR_CANCEL = 1

_get_ident = threading.get_ident
_monotonic = time.monotonic


class Runtime(_Lane, concurrent.futures.Executor):
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
        self._init_lane(int(queue_capacity), bool(nonblocking), on_interrupt)
        self._inbox: Optional[_Inbox] = None  # rt.run's, for the last event loop seen
        self._owned = _Owned()
        self._owned.rt = weakref.ref(self)
        self._hooks = _Hooks(on_start, on_stop, on_interrupt, self._name, self._owned)
        self._hooks_key = id(self._hooks)
        self._name_bytes = self._name.encode("utf-8", "replace")
        self._handle = _start_worker(self._hooks, self._name_bytes, int(queue_capacity),
                                     bool(nonblocking), int(cpu))
        self._worker_ident = self._hooks.worker_tid
        _process._register(self)

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
            return _call_interruptible(self, job, key)  # type: ignore[no-any-return]
        st = LIB.qthr_call(self._handle, _JOB_ADDR, key, None)
        if st != _OK:
            _jobs.pop(key, None)
            raise error_for(st)
        return _raise_job_exc(job)  # type: ignore[no-any-return]

    def run(self, fn: "Callable[P, T]", /, *args: "P.args",
            **kwargs: "P.kwargs") -> "Awaitable[T]":
        """``await rt.run(fn, ...)``: run on the worker without blocking the loop.

        Called in a running event loop it returns an ``asyncio.Future`` (no
        Task per call: ``gather`` and ``ensure_future`` take it as it is).
        ``fn`` runs in a copy of the caller's contextvars, like
        ``asyncio.to_thread``. Awaited while the loop has nothing else ready,
        it first waits for the job up to 50 us (no wake-up for short jobs).
        Cancelling the awaiting task withdraws the job
        if it has not started (and calls ``on_interrupt`` if it runs). Called
        with no running loop it returns a coroutine that does the same when
        awaited.
        """
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return self._run_later(fn, args, kwargs)
        job = _RunFuture(loop=loop)
        inbox = self._inbox
        if inbox is None or inbox.loop is not loop:
            inbox = self._inbox = _Inbox(loop)
        job.c = [(fn, args, kwargs, contextvars.copy_context())]
        job.inbox = inbox
        job._qthr_batch = None
        self._push(job, loop)
        if self._on_interrupt is not None:
            job.add_done_callback(job._on_afut_done)
        return job

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
        # Written out (not shared with Options.submit_c): the hot path of C jobs.
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
        self._withdraw_queued()
        # core-path Python jobs: their callers wait in qthr_call / qthr_wait themselves
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
        # Batches whose drainer never ran: their jobs never run (the worker is
        # joined).
        self._drop_batches()
        _reaper.drain()
        _hooks.pop(self._hooks_key, None)
        _process._forget(self)
        self._shutdown_done.set()

    def _after_fork_in_child(self) -> None:
        """In a fork child: the runtime belongs to the parent (see _process);
        its locks are new (another thread of the parent may have held them)."""
        self._forked = True
        self._shutdown_started = True
        self._shutdown_lock = threading.Lock()
        self._owned.lock = threading.Lock()
        self._lane_after_fork()
        self._worker_ident = None
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
