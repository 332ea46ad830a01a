"""The worker side of the Python lane: batches and the drainer that runs them.

A batch's jobs are run by ONE C job, the drainer (:func:`_drain`), which takes
the GIL once, runs every job of the batch in order (jobs appended while it
runs too) and closes the batch when it is empty (see ``_lane``).
"""

from __future__ import annotations

import collections
import ctypes
import time
from ctypes import byref, c_void_p
from typing import TYPE_CHECKING, Any, Deque, Dict, List, Optional

from ._asyncio_jobs import _FLUSH_AFTER
from ._errors import _OK
from ._lib import HAS_0_2, JOB_FN, LIB, SubmitOpts
from ._logging import _log_swallowed

if TYPE_CHECKING:
    from ._lane import _Lane

_perf_counter = time.perf_counter


class _Batch:
    """Jobs run by ONE drainer C job, in order."""

    __slots__ = ("rt", "q", "closed", "cfut", "old_cfuts", "n_gates", "gate_cfuts",
                 "__weakref__")

    def __init__(self, rt: "_Lane") -> None:
        self.rt = rt
        self.q: Deque[Any] = collections.deque()
        self.closed = False
        self.cfut: Optional[int] = None  # the (latest) drainer's qthr_future
        self.old_cfuts: List[int] = []  # earlier drainers' (waiters may still hold them)
        # Gate jobs queued before the drainer (see _GATE): stats() counts them
        # with the drainers, as started once the drainer starts (FIFO).
        self.n_gates = 0  # not yet counted as started
        self.gate_cfuts: List[int] = []

    def withdraw_all(self) -> None:
        """Claim every job still queued here so that it never runs."""
        for job in list(self.q):
            job._qthr_withdraw()

    def __del__(self) -> None:
        cfuts = self.old_cfuts + self.gate_cfuts + ([self.cfut] if self.cfut else [])
        self.cfut = None
        self.old_cfuts = []
        self.gate_cfuts = []
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
        rt._n_drains_started += 1 + batch.n_gates  # its gates ran before it
        batch.n_gates = 0
        rt._draining.append(batch)
        try:
            _run_batch(rt, batch)
        finally:
            rt._draining.pop()
    except BaseException as exc:  # never let anything unwind into C
        _log_swallowed(exc, "qthr: internal error in the Python lane")
    return None


_DRAIN_CB = JOB_FN(_drain)
_DRAIN_ADDR: int = ctypes.cast(_DRAIN_CB, c_void_p).value  # type: ignore[assignment]


def _yield_addr() -> Optional[int]:
    try:
        return ctypes.cast(ctypes.CDLL(None).sched_yield, c_void_p).value
    except (AttributeError, OSError):  # no sched_yield in the process: no gate
        return None


#: The gate: C jobs (``sched_yield``, no GIL) queued right before a drainer
#: that its submitter waits for at once (an ``await rt.run`` that finishes
#: before suspending, see ``_Lane._submit_drainer``). The submitter gets the
#: GIL back when ``qthr_submit`` returns and gives it up again a moment later,
#: in ``qthr_wait``; a worker that picks the drainer up at once arrives at the
#: GIL in between and sleeps on it: a futex wake-up (~20 us here) both ways.
#: Behind the gate it arrives after the waiter let go: measured (submit, then
#: wait at once), a Python job's round trip went from ~25-50 us to ~4-7 us. On
#: one core the yield also lets the submitter reach its wait. The margin is
#: thin (a 1-2 us longer gap before the wait doubled the time of an
#: ``await rt.run(noop)``): one yield was clearly worse than two, three was at
#: least as good as two in interleaved runs and leaves more margin.
_GATE_ADDR = _yield_addr()
_GATE = 3 if _GATE_ADDR is not None else 0
_GATED_FNS = (c_void_p * (_GATE + 1))(*([_GATE_ADDR] * _GATE + [_DRAIN_ADDR]))
_GatedArgs = c_void_p * (_GATE + 1)


def _run_batch(rt: "_Lane", b: _Batch) -> None:
    """Worker, GIL held: run the jobs of ``b`` until it is empty, then close it."""
    q = b.q
    popleft = q.popleft
    lock = rt._lock
    ion = rt._on_interrupt is not None
    urgent = rt._urgent_seq
    ticks = 0
    while True:
        if rt._urgent_seq != urgent and q and _continue_urgently(rt, b):
            return  # urgent jobs were queued: they go first, the rest right after
        try:
            job = popleft()
        except IndexError:
            with lock:
                if q:
                    continue
                b.closed = True
                if rt._open is b:
                    rt._open = None
                rt._live_batches.discard(b)
                if rt._room_waiters:
                    rt._room.notify_all()
            if rt._dirty:
                _flush_inboxes(rt)
            return
        if ion:
            rt._run_interruptible(job)
        else:
            job._qthr_run(rt)
        if rt._room_waiters:
            _maybe_wake_submitters(rt)
        if rt._dirty:
            ticks += 1
            if not ticks & 7 and _perf_counter() - rt._dirty_since > _FLUSH_AFTER:
                _flush_inboxes(rt)  # the clock is read every 8th job only


def _continue_urgently(rt: "_Lane", b: _Batch) -> bool:
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
    if not HAS_0_2 or int(LIB.qthr_submit_ex(rt._handle, _DRAIN_ADDR, key, byref(opts),
                                              byref(out))) != _OK:
        _batches.pop(key, None)
        return False
    if b.cfut:
        b.old_cfuts.append(b.cfut)
    b.cfut = out.value
    with rt._lock:
        rt._n_drains += 1
    return True


def _flush_inboxes(rt: "_Lane") -> None:
    dirty = rt._dirty
    for inbox in dirty:
        inbox.flush()
    dirty.clear()


def _maybe_wake_submitters(rt: "_Lane") -> None:
    with rt._lock:
        if rt._room_waiters and rt._lane_len() <= rt._capacity // 2:
            rt._room.notify_all()
