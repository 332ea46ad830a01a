"""What qthr keeps per process: the runtimes not yet shut down, their drain at
interpreter exit (atexit), and what a fork child inherits of them."""

from __future__ import annotations

import atexit
import os
import threading
from typing import TYPE_CHECKING, Set

from ._core_jobs import _jobs
from ._drainer import _batches
from ._lib import LIB
from ._logging import _logger
from ._reaper import _reaper
from ._worker import _worker_idents

if TYPE_CHECKING:
    from ._runtime import Runtime

__all__ = ["runtimes"]

#: Runtimes not yet shut down; shut down at interpreter exit.
_live: Set["Runtime"] = set()
_live_lock = threading.Lock()


def runtimes() -> "list[Runtime]":
    """The runtimes of this process that are not shut down yet."""
    with _live_lock:
        return list(_live)


def _register(rt: "Runtime") -> None:
    with _live_lock:
        _live.add(rt)


def _forget(rt: "Runtime") -> None:
    with _live_lock:
        _live.discard(rt)


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
        rt._after_fork_in_child()
    _live.clear()
    _jobs.clear()
    _batches.clear()
    _worker_idents.clear()
    _reaper.after_fork_in_child()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
