"""The worker thread: starting it (``qthr_init`` with the hooks installed), its
``on_start`` / ``on_stop`` / ``on_interrupt`` hooks, and the idents of every
live worker.

``on_start`` keeps one ``PyGILState_Ensure`` count open until ``on_stop``, so
the worker keeps ONE Python thread state for its whole life
(``threading.local`` values persist from job to job).
"""

from __future__ import annotations

import ctypes
import threading
from ctypes import byref, c_void_p
from typing import TYPE_CHECKING, Any, Callable, Dict, Optional, Set

from ._errors import _OK, QthrError
from ._lib import CONFIG_SIZE_0_1, LIB, START_FN, STOP_FN, Config, config_init
from ._logging import _log_swallowed, _logger

if TYPE_CHECKING:
    from ._proxy import _Owned

_get_ident = threading.get_ident

#: Thread idents of every live qthr worker thread (of any runtime).
_worker_idents: Set[int] = set()


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


#: id(hooks) -> hooks, for every runtime whose worker may still call them.
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
        _log_swallowed(exc, "qthr: on_stop of runtime %r raised", hooks.name)
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
        _log_swallowed(exc, "qthr: on_interrupt of runtime %r raised", hooks.name)


_START_CB = START_FN(_on_start)
_STOP_CB = STOP_FN(_on_stop)
_INTERRUPT_CB = STOP_FN(_on_interrupt)
_START_ADDR = ctypes.cast(_START_CB, c_void_p).value
_STOP_ADDR = ctypes.cast(_STOP_CB, c_void_p).value
_INTERRUPT_ADDR = ctypes.cast(_INTERRUPT_CB, c_void_p).value


def _start_worker(hooks: _Hooks, name_bytes: bytes, queue_capacity: int, nonblocking: bool,
                  cpu: int) -> Optional[int]:
    """``qthr_init`` with ``hooks`` installed: the new runtime's handle, once
    ``on_start`` has run on its worker. If the worker cannot start (or
    ``on_start`` raises), raises :class:`QthrError` chained to what on_start
    raised."""
    key = id(hooks)
    cfg = Config()
    config_init(cfg)
    cfg.thread_name = name_bytes
    cfg.queue_capacity = int(queue_capacity)
    cfg.nonblocking = 1 if nonblocking else 0
    cfg.cpu = int(cpu)
    cfg.on_start = _START_ADDR
    cfg.on_stop = _STOP_ADDR
    cfg.hook_ctx = key
    if hooks.on_interrupt is not None and cfg.size > CONFIG_SIZE_0_1:
        cfg.on_interrupt = _INTERRUPT_ADDR
    _hooks[key] = hooks
    out = c_void_p()
    st = LIB.qthr_init(byref(cfg), byref(out))
    if st != _OK:
        _hooks.pop(key, None)
        exc = hooks.start_exc
        hooks.start_exc = None
        err = QthrError(st)
        if exc is not None:
            raise err from exc
        raise err
    return out.value
