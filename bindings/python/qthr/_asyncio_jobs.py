"""asyncio: ``rt.run`` jobs, whose results go to ``asyncio.Future`` objects,
handed to their event loop in bulk (:class:`_Inbox`).

Cancelling the awaiting task withdraws a queued job (and calls
``on_interrupt`` for a running one).
"""

from __future__ import annotations

import asyncio
import collections
import time
from typing import TYPE_CHECKING, Any, Deque, List, Optional, Tuple

if TYPE_CHECKING:
    from ._drainer import _Batch
    from ._runtime import Runtime

_perf_counter = time.perf_counter


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
