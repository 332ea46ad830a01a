"""C jobs: their future (:class:`CFuture`) and the C function and argument
objects a job is made of (ctypes functions and objects, cffi pointers, int
addresses). A C job runs on the worker with no Python at all: the worker never
takes the GIL for it.
"""

from __future__ import annotations

import concurrent.futures
import ctypes
import importlib
from ctypes import byref, c_void_p
from typing import TYPE_CHECKING, Any, Callable, Optional

from ._errors import _CANCELLED, _OK, _TIMEOUT, error_for
from ._futures import _cancel_and_notify, _FutureBase
from ._interrupts import _interrupt_quietly, _wait_interruptible, interrupt_c
from ._lib import LIB
from ._reaper import _reaper, _release_cfut, _WatchOnWait

if TYPE_CHECKING:
    from ._runtime import Runtime

__all__ = ["CFuture"]


class CFuture(_FutureBase[int]):
    """The future of a C job (:meth:`Runtime.submit_c`); its result is an int address.

    Resolved by whoever sees the C future complete first: a thread blocked in
    :meth:`result` (waiting in ``qthr_wait`` with the GIL released) or, once
    something waits without calling result() (``add_done_callback``,
    ``asyncio.wrap_future``, ``concurrent.futures.wait``/``as_completed``), the
    ``qthr-reaper`` thread, woken through an eventfd that the core's
    ``qthr_then_notify_fd`` writes to. The worker never takes the GIL for it.
    """

    def __init__(self) -> None:
        super().__init__()
        self._qthr_rt: Optional[Runtime] = None
        self._qthr_cfut: Optional[int] = None
        self._qthr_keep: Any = None  # the function and argument objects, kept alive
        self._qthr_watched = False
        if isinstance(getattr(self, "_waiters", None), list):
            self._waiters = _WatchOnWait(self)

    def _qthr_watch(self) -> None:
        """From now on the reaper resolves this future when the job finishes."""
        with self._condition:  # type: ignore[attr-defined,unused-ignore]
            if self._qthr_watched or not self._qthr_cfut:
                return
            self._qthr_watched = True
        if self.done() or self._qthr_poll(0) != _TIMEOUT:
            return
        _reaper.watch(self)

    def add_done_callback(self, fn: Callable[["concurrent.futures.Future[int]"], object]) -> None:
        """Call ``fn(future)`` once the job has finished (from the reaper thread,
        or at once if it already has)."""
        super().add_done_callback(fn)
        self._qthr_watch()

    def _qthr_poll(self, timeout_ns: int) -> int:
        cfut = self._qthr_cfut
        if not cfut:
            return _OK
        res = c_void_p()
        st = int(LIB.qthr_wait(cfut, timeout_ns, byref(res)))
        if st != _TIMEOUT:
            self._qthr_resolve(st, res.value or 0)
        return st

    def _qthr_resolve(self, st: int, value: int) -> None:
        try:
            if st == _OK:
                self.set_result(value)
            elif st == _CANCELLED:
                _cancel_and_notify(self)
            else:
                self.set_exception(error_for(st))
        except concurrent.futures.InvalidStateError:
            pass  # someone else resolved it first, with the same outcome
        self._qthr_keep = None

    def _qthr_wait(self, timeout: Optional[float]) -> None:
        if self.done() or not self._qthr_cfut:
            return
        res = c_void_p()
        try:
            st = _wait_interruptible(self._qthr_cfut, timeout, res)
        except KeyboardInterrupt:
            _interrupt_quietly(self)
            raise
        if st != _TIMEOUT:
            self._qthr_resolve(st, res.value or 0)

    def result(self, timeout: Optional[float] = None) -> int:
        """The C function's return value as an int (0 for NULL)."""
        self._qthr_wait(timeout)
        return int(super().result(0 if not self.done() else None))

    def exception(self, timeout: Optional[float] = None) -> Optional[BaseException]:
        """The error, if qthr could not run the job (C jobs cannot raise)."""
        self._qthr_wait(timeout)
        return super().exception(0 if not self.done() else None)

    def cancel(self) -> bool:
        """Cancel the C job if it has not started; True if it is cancelled."""
        if self.done():
            return self.cancelled()
        cfut = self._qthr_cfut
        if not cfut:
            return False  # still being submitted
        LIB.qthr_cancel(cfut)
        self._qthr_poll(0)
        return self.cancelled()

    def interrupt(self) -> bool:
        """Withdraw the C job if queued, else (0.2 core) call the runtime's
        ``on_interrupt`` while it runs (``qthr_interrupt``). True if withdrawn
        or interrupted."""
        if self.done():
            return False
        cfut = self._qthr_cfut
        if not cfut:
            return False
        ok = interrupt_c(cfut)
        self._qthr_poll(0)
        return ok

    def __del__(self) -> None:
        cfut = self._qthr_cfut
        if not cfut:
            return
        self._qthr_cfut = None
        keep = self._qthr_keep
        if keep is None:  # resolved: the job is done
            try:
                LIB.qthr_future_free(cfut)
            except Exception:  # interpreter teardown
                pass
            return
        # Dropped while the C job may still run: its function and argument
        # objects must outlive it. The reaper keeps them until it is done.
        _release_cfut(cfut, keep)


_cffi_ffi: Any = None


def _cffi_address(obj: Any) -> Optional[int]:
    """The address behind a cffi cdata (function pointer, pointer, array), or None."""
    global _cffi_ffi
    if type(obj).__module__ != "_cffi_backend":
        return None
    if _cffi_ffi is None:
        # a cffi object exists, so cffi is installed (imported by name: no stubs needed)
        _cffi_ffi = importlib.import_module("cffi").FFI()
    return int(_cffi_ffi.cast("uintptr_t", obj))


def _fn_address(cfunc: Any) -> int:
    if isinstance(cfunc, int):
        return cfunc
    if isinstance(cfunc, c_void_p):
        return cfunc.value or 0
    if isinstance(cfunc, ctypes._CFuncPtr):  # type: ignore[attr-defined]
        return ctypes.cast(cfunc, c_void_p).value or 0
    addr = _cffi_address(cfunc)
    if addr is not None:
        return addr
    raise TypeError("submit_c: expected a ctypes function, a cffi function pointer or an "
                    f"int address, got {type(cfunc).__name__}")


def _arg_address(arg: Any) -> Optional[int]:
    if arg is None or isinstance(arg, int):
        return arg
    if isinstance(arg, c_void_p):
        return arg.value
    if isinstance(arg, (ctypes._Pointer, ctypes.c_char_p, bytes)):
        return ctypes.cast(arg, c_void_p).value  # type: ignore[arg-type]
    if isinstance(arg, (ctypes.Structure, ctypes.Union, ctypes.Array, ctypes._SimpleCData)):
        return ctypes.addressof(arg)
    addr = _cffi_address(arg)
    if addr is not None:
        return addr
    raise TypeError("submit_c: expected an int address, a ctypes object or a cffi pointer as "
                    f"arg, got {type(arg).__name__}")
