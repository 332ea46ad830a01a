"""Records of the library: the logger ``"qthr"`` and the core's log callback."""

from __future__ import annotations

import ctypes
import logging
from ctypes import c_void_p
from typing import Any, Optional

from ._interrupts import _rearm_interrupt
from ._lib import LIB, LOG_FN

__all__ = ["set_log_level"]

_logger = logging.getLogger("qthr")
_logger.addHandler(logging.NullHandler())  # a library: the application configures output


def _log_swallowed(exc: BaseException, message: str, *args: Any) -> None:
    """In the ``except`` block of a callback from C, which must not let
    anything unwind into C: log ``exc`` with its traceback, and raise a
    KeyboardInterrupt again in the main thread."""
    _rearm_interrupt(exc)
    try:
        _logger.exception(message, *args)
    except BaseException:
        pass


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
