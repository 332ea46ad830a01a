"""The Python lane: how Python jobs reach the worker, in batches.

How a Python job travels
------------------------
Python jobs (``submit``, ``run``, ``map``, proxies' fire-and-forget releases)
do not cross into C one by one. They go into the
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

``rt.call`` does not use the lane: from an ordinary thread it goes straight to
the core (``qthr_call``: one C call, the core's mailbox, no allocation); on the
main thread it is submitted to the core and waited for in slices, so that
Ctrl-C can interrupt the wait; on the worker itself it runs the function inline.

:class:`_Lane` holds the lane's state and its submitting side, and a
:class:`Runtime` is one; the worker side is in ``_drainer``.
"""

from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures._base import RUNNING
from ctypes import byref, c_void_p
from typing import TYPE_CHECKING, Any, Callable, List, Optional, Set, Tuple

from ._asyncio_jobs import _Inbox
from ._drainer import _DRAIN_ADDR, _GATE, _GATED_FNS, _Batch, _batches, _GatedArgs
from ._errors import _OK, _TIMEOUT, QthrError, ShutdownError, Status, error_for
from ._futures import _DONE
from ._interrupts import _MAIN_IDENT
from ._lib import HAS_0_2, LIB, SubmitOpts
from ._logging import _logger
from ._worker import _worker_idents

if TYPE_CHECKING:
    from ._futures import Future

_get_ident = threading.get_ident
_monotonic = time.monotonic


class _PostJob:
    """A fire-and-forget job (what it raises is logged, not re-raised)."""

    def __init__(self, fn: Callable[..., Any], args: Tuple[Any, ...], rt: "_Lane") -> None:
        self._qthr_c = (fn, args)
        self._qthr_rt = rt
        self._qthr_batch: Optional[_Batch] = None

    def _qthr_run(self, rt: "_Lane") -> None:
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


class _Lane:
    """The Python lane of a runtime (see the module doc): its state, its
    submitting side, and what keeps C jobs in order with it."""

    # Set by the Runtime; the lane reads them.
    _handle: Optional[int]
    _forked: bool
    _worker_ident: Optional[int]

    def _init_lane(self, capacity: int, nonblocking: bool,
                   on_interrupt: Optional[Callable[[], Any]]) -> None:
        self._capacity = capacity
        self._nonblocking = nonblocking
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
        self._pending_handle: Any = None  # the call_soon that will queue it (see _asyncio_jobs)
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
        self._on_interrupt = on_interrupt
        self._ilock = threading.Lock()
        self._running: List[Any] = []  # lane jobs running now (only with on_interrupt)

    def _is_worker_thread(self) -> bool:
        return self._worker_ident == _get_ident()

    def _lane_len(self) -> int:
        """Lane jobs accepted that have not started (or been withdrawn)."""
        return self._n_sub - self._n_started - self._n_cancel - self._n_worker_withdrawn

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
            # self._lane_len(), inlined: every submit goes through here
            n = self._n_sub - self._n_started - self._n_cancel - self._n_worker_withdrawn
            if n >= self._n_high:
                if n >= self._capacity:
                    self._wait_for_room_locked(1)
                    n = self._lane_len()
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
                self._pending_handle = loop.call_soon(  # type: ignore[union-attr]
                    self._kick_pending, b)
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
                n = self._lane_len()
                if n >= self._capacity:
                    self._wait_for_room_locked(1)
                    n = self._lane_len()
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
            if self._lane_len() + need <= self._capacity:
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

    def _kick_pending(self, batch: Optional[_Batch] = None,
                      wait_ns: Optional[int] = None) -> None:
        """Queue the drainer of the deferred batch (``batch``, or whichever);
        with ``wait_ns``, then wait for it that long (see _submit_drainer)."""
        with self._kick_lock:
            with self._lock:
                b = self._pending
                if b is None or (batch is not None and b is not batch):
                    return
                self._pending = None
                self._pending_loop = None
                epoch = self._epoch
            self._submit_drainer(b, epoch, swallow=True, wait_ns=wait_ns)

    def _kick_mine(self) -> None:
        """Before a C job, a core call or a wait: our deferred batch goes first."""
        if self._pending is not None and self._pending_owner == _get_ident():
            self._kick_pending()

    def _submit_drainer(self, b: _Batch, epoch: int, swallow: bool = False,
                        wait_ns: Optional[int] = None) -> None:
        """Queue the drainer of ``b`` (in _live_batches), then publish ``b``.

        ``wait_ns``: the caller waits for the drainer right away, at most that
        long (GIL released), before the bookkeeping: the drainer goes behind the
        gate (see ``_drainer._GATE``) and the wait follows the submit with
        nothing in between, so the worker finds the GIL free."""
        key = id(b)
        _batches[key] = b
        if wait_ns is None:
            out = c_void_p()
            st = LIB.qthr_submit(self._handle, _DRAIN_ADDR, key, byref(out))
            cfut = out.value
        else:
            args = _GatedArgs()
            args[_GATE] = key
            outs = _GatedArgs()  # the gate's futures, then the drainer's
            b.n_gates = _GATE  # before the drainer can start
            st = LIB.qthr_submit_batch(self._handle, _GATE + 1, _GATED_FNS, args, outs)
            if st == _OK:
                # Nothing between the submit and the wait: every microsecond
                # here is one the worker may reach the GIL first (see _GATE).
                try:  # (the caller holds _kick_lock meanwhile: at most wait_ns)
                    LIB.qthr_wait(outs[_GATE], wait_ns, None)
                finally:  # a KeyboardInterrupt raised after the wait skips nothing
                    b.gate_cfuts.extend(f for f in outs[:_GATE] if f)  # freed with the batch
                    self._publish(b, outs[_GATE], epoch, _GATE)
                return
            b.n_gates = 0
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
        self._publish(b, cfut, epoch)

    def _publish(self, b: _Batch, cfut: Optional[int], epoch: int, gates: int = 0) -> None:
        """``b``'s drainer (and ``gates`` gate jobs before it) are queued: count
        them, and open ``b`` to others if it may still take jobs (see the
        comment inside)."""
        if b.cfut is None:
            b.cfut = cfut
        elif cfut:  # the drainer already went on as an urgent one (_continue_urgently)
            b.old_cfuts.append(cfut)
        with self._lock:
            self._n_drains += 1 + gates
            # Others may append only once the drainer is queued, and only to the
            # batch whose drainer is the last one queued: if any other job was
            # queued (and registered) since before ours, ours may not be last.
            # Either way the batch open so far is closed: a thread whose last job
            # is in ``b`` must not put its next one in a batch queued before ``b``.
            publish = not b.closed and not self._closed and self._epoch == epoch
            self._epoch += 1
            self._open = b if publish else None

    def _seal(self) -> None:
        """After a C job was queued: later Python jobs go into a new batch."""
        with self._lock:
            self._open = None
            self._epoch += 1

    def _submit_ex(self, fn_addr: int, arg: Optional[int], opts: SubmitOpts) -> int:
        """Queue one job with per-job options through the core (``qthr_submit_ex``:
        a C or Python job of an options view), in order with the lane (see the
        module doc). Its ``qthr_future``."""
        if not HAS_0_2:
            raise QthrError(Status.INVALID_ARGUMENT, "per-job options need a 0.2 qthr library")
        if self._closed and not self._is_worker_thread():
            raise self._refuse()
        self._kick_mine()
        out = c_void_p()
        st = LIB.qthr_submit_ex(self._handle, fn_addr, arg, byref(opts), byref(out))
        if st != _OK:
            raise error_for(st)
        self._seal()
        if opts.priority:
            self._urgent_seq += 1
        return out.value or 0

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

    # -- shutdown and fork -------------------------------------------------------------

    def _withdraw_queued(self) -> None:
        """shutdown(cancel_futures=True): no lane job that has not started runs."""
        with self._lock:
            batches = list(self._live_batches)
        for b in batches:
            b.withdraw_all()

    def _drop_batches(self) -> None:
        """The worker is joined: batches whose drainer never ran (discarded by
        QTHR_CANCEL, or refused while being queued) are dropped; their jobs
        never run. Every drainer registered in _n_drains has run or been
        discarded (see stats())."""
        for key, b in list(_batches.items()):
            if b.rt is self and _batches.pop(key, None) is not None:
                if b.n_gates:  # count the gates that ran before the discard
                    self._n_drains_started += sum(
                        1 for f in b.gate_cfuts if int(LIB.qthr_wait(f, 0, None)) == _OK)
                    b.n_gates = 0
                b.withdraw_all()
                b.q.clear()
                with self._lock:
                    self._live_batches.discard(b)
        with self._lock:
            leftover = list(self._live_batches)
            self._live_batches.clear()
        for b in leftover:
            b.withdraw_all()
            b.q.clear()

    def _lane_after_fork(self) -> None:
        """In a fork child: the lane is closed, and its locks are new (another
        thread of the parent may have held them)."""
        self._closed = True
        self._lock = threading.Lock()
        self._room = threading.Condition(self._lock)
        self._ilock = threading.Lock()
        self._kick_lock = threading.Lock()
        self._open = None
        self._pending = None
        self._pending_loop = None
        self._live_batches = set()
