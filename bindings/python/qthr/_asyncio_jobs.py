"""asyncio: ``rt.run`` jobs. Each is its own ``asyncio.Future``
(:class:`_RunFuture`); results are handed to their event loop in bulk
(:class:`_Inbox`).

Cancelling the awaiting task withdraws a queued job (and calls
``on_interrupt`` for a running one).

Awaiting without a wake-up
--------------------------
Every completion that reaches a sleeping event loop costs a GIL hand-off to
the worker, a wake-up of the loop's selector (``call_soon_threadsafe``) and a
hand-off back: tens of microseconds each on a VM, far more than a short job.
So when a task awaits its ``rt.run`` and the loop has nothing else ready (the
awaiting task is the only thing the loop would run), the awaiting thread
queues the batch's drainer at once and waits for it inside qthr for at most
:data:`_SPIN_NS`, GIL released: the worker takes the free GIL without a
wake-up, the loop thread delivers the results itself (the worker sends no
``call_soon_threadsafe`` meanwhile) and the task goes on without suspending.
A wait that runs out falls back to the ordinary path, and makes the next
waits rarer (:data:`_SKIP_MAX`), so long jobs do not burn the loop thread's
CPU. Other tasks wait at most :data:`_SPIN_NS` for it, and only when nothing
of theirs was ready; timers and I/O get a turn at least every
:data:`_MAX_INERT` awaits. Loops without asyncio's ready queue (uvloop) always
take the ordinary path.
"""

from __future__ import annotations

import asyncio
import collections
import threading
import time
from typing import TYPE_CHECKING, Any, Deque, Generator, List, Optional, Tuple

from ._lib import LIB
from ._worker import _worker_idents

if TYPE_CHECKING:
    from ._drainer import _Batch
    from ._runtime import Runtime

_perf_counter = time.perf_counter
_get_ident = threading.get_ident
_future_await = asyncio.Future.__await__

#: How long an awaiting task whose loop has nothing else ready waits for its
#: job inside qthr before it suspends (about one futex wake-up round trip:
#: waiting longer would save nothing over the ordinary path).
_SPIN_NS = 50_000

#: After a wait that ran out, this many later chances are skipped (doubling,
#: up to :data:`_SKIP_MAX`, while waits keep running out; reset by one that
#: does not): jobs that take longer than the wait stop costing spins.
_SKIP_MAX = 256

#: A task whose awaits keep finishing this way would never give the loop a
#: turn; each leaves one cancelled handle in the loop's ready queue (its
#: drainer's ``call_soon``, see ``_lane._push``) until the loop runs. With
#: this many there, the await still finishes this way but then yields once
#: (like ``asyncio.sleep(0)``): the loop polls its I/O, runs its timers and
#: drops the handles at least once per this many ``rt.run`` awaits.
_MAX_INERT = 8


class _Inbox:
    """Completions of ``rt.run`` jobs for one event loop, delivered in bulk.

    The worker appends every completion here and hands the lot to the loop
    (one ``call_soon_threadsafe``) when its batch ends, or once the oldest
    waited ``_FLUSH_AFTER`` seconds while the batch goes on: the loop is woken
    once per batch of completions, not once per job, and it does not compete
    for the GIL with a worker that is still running the batch."""

    __slots__ = ("loop", "items", "scheduled", "dirty", "spinning", "call_soon_threadsafe",
                 "ready", "miss", "skip")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.items: Deque[Tuple["asyncio.Future[Any]", Any, bool]] = collections.deque()
        self.scheduled = False  # a _deliver is queued on the loop
        self.dirty = False  # items the loop has not been told about
        # The loop's thread waits for a completion itself (see the module doc):
        # the worker must not schedule a _deliver, the waiter delivers.
        self.spinning = False
        self.call_soon_threadsafe = loop.call_soon_threadsafe
        # The loop's ready queue (asyncio's BaseEventLoop; None for other loops,
        # uvloop: those always take the ordinary path).
        ready = getattr(loop, "_ready", None)
        self.ready: Optional[Deque[Any]] = ready if isinstance(ready, collections.deque) else None
        self.miss = 0  # consecutive waits that ran out
        self.skip = 0  # chances to skip before the next wait

    def flush(self) -> None:
        """Worker: make sure the loop will deliver what is queued."""
        self.dirty = False
        # The check of `spinning` comes after the items were appended; the
        # waiter clears it before it looks at the items: one of us sees them.
        if self.scheduled or not self.items or self.spinning:
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


class _RunFuture(asyncio.Future[Any]):
    """What ``rt.run`` returns: an ``asyncio.Future`` that is also the lane job
    (one object per call); awaiting it may finish it without suspending (see
    the module doc)."""

    __slots__ = ("c", "inbox", "_qthr_batch")
    c: List[Any]  # [(fn, args, kwargs, context)]: whoever pops it owns the job
    inbox: _Inbox
    _qthr_batch: "Optional[_Batch]"

    def __await__(self) -> Generator[Any, None, Any]:
        # The cheap tests first: in a crowd of tasks (the common case) the
        # ready queue is long and nothing more is done here.
        ready = self.inbox.ready
        if (ready is not None and len(ready) <= _MAX_INERT and not self.done()
                and _finish_before_suspending(self)):
            return _turn_then_await(self)
        return _future_await(self)

    __iter__ = __await__  # ``yield from fut`` (old-style coroutines) does the same

    # -- the worker side (lane) --------------------------------------------------

    def _qthr_run(self, rt: "Runtime") -> None:
        try:
            fn, args, kwargs, ctx = self.c.pop()
        except IndexError:
            return
        if self.cancelled():  # the awaiting task was cancelled while queued
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
            inbox.items.append((self, exc, True))
            del exc
        else:
            if rt._on_interrupt is not None:
                rt._job_returned(self)
            rt._n_done += 1
            inbox.items.append((self, result, False))
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
        if not self.done():
            try:
                self.get_loop().call_soon_threadsafe(_cancel_afut, self)
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
        try:
            self.get_loop().call_soon_threadsafe(_fail_afut, self, exc)
        except RuntimeError:
            pass
        return True

    def _on_afut_done(self, afut: "asyncio.Future[Any]") -> None:
        """On the loop: the awaiting task gave up; stop the job if it runs."""
        b = self._qthr_batch
        if afut.cancelled() and not self._qthr_withdraw() and b is not None:
            b.rt._interrupt_running(self)


def _turn_then_await(job: _RunFuture) -> Generator[Any, None, Any]:
    """Give the loop one turn (a bare yield: the task is scheduled again at
    once, as by ``asyncio.sleep(0)``), then await ``job`` as usual."""
    yield None
    return (yield from _future_await(job))


def _finish_before_suspending(job: _RunFuture) -> bool:
    """The loop's thread, about to suspend on ``job``: if the loop has nothing
    else ready, wait for the job inside qthr for at most ``_SPIN_NS`` (GIL
    released) and deliver what completed (see the module doc). True if the
    loop is owed a turn (see ``_MAX_INERT``)."""
    inbox = job.inbox
    ready = inbox.ready
    b = job._qthr_batch
    if ready is None or b is None:
        return False
    rt = b.rt
    pending_handle = rt._pending_handle
    for h in ready:
        if h is not pending_handle and not h.cancelled():
            return False  # something else is ready: let it run
    if inbox.skip:
        inbox.skip -= 1
        return False
    ident = _get_ident()
    if ident in _worker_idents:
        return False  # a worker (of another runtime) runs this loop: never wait on it here
    if b.cfut is None and (rt._pending is not b or rt._pending_owner != ident):
        return False
    inbox.spinning = True
    try:
        if b.cfut is None:
            if pending_handle is not None:
                pending_handle.cancel()  # the loop skips it (it stays in `ready`)
            # its drainer goes now, not after the loop's turn, and we wait for it
            rt._kick_pending(b, _SPIN_NS)
        else:
            LIB.qthr_wait(b.cfut, _SPIN_NS, None)
    finally:
        inbox.spinning = False  # first, then look at the items (see _Inbox.flush)
        if inbox.items:
            inbox._deliver()
    if not job.done():
        inbox.miss = min(inbox.miss + 1, 8)
        inbox.skip = min(_SKIP_MAX, (1 << inbox.miss) - 1)
        return False
    inbox.miss = 0
    return len(ready) >= _MAX_INERT


def _cancel_afut(afut: "asyncio.Future[Any]") -> None:
    if not afut.done():
        afut.cancel()


def _fail_afut(afut: "asyncio.Future[Any]", exc: BaseException) -> None:
    if not afut.done():
        afut.set_exception(exc)
