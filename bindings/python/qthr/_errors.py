"""Status codes and exceptions."""

from __future__ import annotations

import enum

from ._lib import LIB

__all__ = ["Status", "QthrError", "ShutdownError", "ExpiredError", "status_str"]


class Status(enum.IntEnum):
    """qthr_status, the result code of every qthr C function."""

    OK = 0
    TIMEOUT = 1
    CANCELLED = 2
    SHUTDOWN = 3
    QUEUE_FULL = 4
    INVALID_ARGUMENT = 5
    START_FAILED = 6
    WOULD_DEADLOCK = 7
    FORKED = 8
    NOT_CANCELLABLE = 9
    PANIC = 10
    NO_MEMORY = 11
    EXPIRED = 12


# The statuses the hot paths compare with, as plain ints.
_OK = 0
_TIMEOUT = int(Status.TIMEOUT)
_CANCELLED = int(Status.CANCELLED)


def status_str(status: int) -> str:
    """The library's description of a status code (qthr_status_str)."""
    raw = LIB.qthr_status_str(int(status))
    return raw.decode("utf-8", "replace") if raw else f"qthr status {int(status)}"


def _as_status(status: int) -> "Status | int":
    try:
        return Status(status)
    except ValueError:  # a code added by a newer core
        return int(status)


class QthrError(Exception):
    """A failure reported by the qthr library; ``.status`` is the qthr_status."""

    status: "Status | int"

    def __init__(self, status: int, message: "str | None" = None) -> None:
        self.status = _as_status(status)
        name = self.status.name if isinstance(self.status, Status) else str(self.status)
        text = message or status_str(status)
        super().__init__(f"{text} (QTHR_{name})")


class ShutdownError(QthrError, RuntimeError):
    """The runtime is shut down (or shutting down): nothing was queued.

    Also a RuntimeError, which is what ``concurrent.futures`` executors raise from
    ``submit`` after ``shutdown``.
    """

    def __init__(self, status: int = Status.SHUTDOWN, message: "str | None" = None) -> None:
        super().__init__(status, message)


class ExpiredError(QthrError, TimeoutError):
    """The job's deadline (``rt.options(deadline=...)``) passed before it
    started: it never ran. Also a TimeoutError."""

    def __init__(self, status: int = Status.EXPIRED, message: "str | None" = None) -> None:
        super().__init__(status, message)


def error_for(status: int, message: "str | None" = None) -> BaseException:
    """The exception a caller sees for a non-OK status."""
    import concurrent.futures

    if status == Status.SHUTDOWN:
        return ShutdownError(status, message)
    if status == Status.EXPIRED:
        return ExpiredError(status, message)
    if status == Status.CANCELLED:
        return concurrent.futures.CancelledError()
    if status == Status.TIMEOUT:
        return concurrent.futures.TimeoutError()
    return QthrError(status, message)
