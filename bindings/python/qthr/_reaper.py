"""The reaper: the thread that resolves futures whose job finished while
nobody was blocked on them.

A future is watched once something waits for it without calling ``result()``
(``add_done_callback``, ``asyncio.wrap_future``, ``concurrent.futures.wait`` /
``as_completed``), and so is what is left of a future dropped before its job
finished (its ``qthr_future`` must be freed, and the C function and argument
objects kept alive, until then). The core wakes the ``qthr-reaper`` thread
through an eventfd that ``qthr_then_notify_fd`` writes to: the worker never
takes the GIL for it.
"""

from __future__ import annotations

import ctypes
import os
import sys
import threading
import weakref
from ctypes import c_void_p
from typing import Any, List, Optional, Protocol

from ._errors import _OK, _TIMEOUT
from ._lib import LIB, NOTIFY_FD_ADDR, THEN_FN


class _Watched(Protocol):
    """What the reaper watches: a future with a ``qthr_future`` (CFuture, the
    future of a core-path Python job, an _Orphan)."""

    @property
    def _qthr_cfut(self) -> Optional[int]: ...

    def done(self) -> bool: ...

    def _qthr_poll(self, timeout_ns: int) -> int: ...


class _Watchable(Protocol):
    """A future that starts being watched when a waiter is installed."""

    def _qthr_watch(self) -> None: ...


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

    def __init__(self, fut: _Watchable) -> None:
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
        self.pending: List[_Watched] = []

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

    def watch(self, fut: _Watched) -> None:
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


def _free_when_done(cfut: int, keep: Any) -> None:
    """The reaper frees ``cfut`` once its job is done, keeping ``keep`` (the
    objects the job uses) alive until then."""
    _reaper.watch(_Orphan(cfut, keep))


def _release_cfut(cfut: int, keep: Any) -> None:
    """The future that owns ``cfut`` is being dropped: free it now if its job
    is done (or the interpreter is exiting), else once it is
    (:func:`_free_when_done`)."""
    try:
        if LIB.qthr_wait(cfut, 0, None) == _TIMEOUT and not sys.is_finalizing():
            _free_when_done(cfut, keep)
        else:
            LIB.qthr_future_free(cfut)
    except Exception:  # interpreter teardown
        pass
