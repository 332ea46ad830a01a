"""Ctrl-C and interrupts: waits the main thread can leave, and stopping a job.

On the main thread a long wait inside qthr goes in 0.1 s slices, so that a
SIGINT (KeyboardInterrupt) gets through; the waiter then leaves at once and its
job is withdrawn (queued) or interrupted (running: ``qthr_interrupt``, which
calls the runtime's ``on_interrupt``). A KeyboardInterrupt that lands in a
ctypes callback, which cannot pass it on into C, is raised again in the main
thread.
"""

from __future__ import annotations

import _thread
import threading
import time
from ctypes import byref, c_void_p
from typing import Any, Optional

from ._errors import _OK, _TIMEOUT
from ._lib import HAS_0_2, LIB

_MAIN_IDENT = threading.main_thread().ident
_SLICE_NS = 100_000_000
_get_ident = threading.get_ident
_monotonic = time.monotonic


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


def _interrupt_quietly(fut: Any) -> None:
    """Ctrl-C reached a waiter of ``fut``: the caller leaves now; the job does
    not run (queued) or is asked to stop (running, with on_interrupt). What
    that raises is dropped: the KeyboardInterrupt goes on."""
    try:
        fut.interrupt()
    except BaseException:
        pass


def _rearm_interrupt(exc: BaseException) -> None:
    """A KeyboardInterrupt caught in a ctypes callback (which cannot pass it on
    into C) is raised again in the main thread as soon as it runs Python."""
    if isinstance(exc, KeyboardInterrupt):
        try:
            _thread.interrupt_main()
        except BaseException:
            pass
