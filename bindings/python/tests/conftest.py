"""Test setup: import the package from this source tree (bindings/python)."""

import sys
import threading

import pytest

from support import PKG_ROOT  # this directory is on sys.path: pytest puts it there

if PKG_ROOT not in sys.path:
    sys.path.insert(0, PKG_ROOT)

import qthr  # noqa: E402


@pytest.fixture
def rt():
    """A fresh runtime, shut down after the test."""
    runtime = qthr.Runtime(name="test-engine")
    try:
        yield runtime
    finally:
        runtime.shutdown(wait=True, cancel_futures=True)


@pytest.fixture
def blocker(rt):
    """Occupy rt's worker until .release() (a job waiting on an Event)."""

    class Blocker:
        def __init__(self):
            self.started = threading.Event()
            self.go = threading.Event()
            self.future = rt.submit(self._job)
            assert self.started.wait(10), "the blocking job never started"

        def _job(self):
            self.started.set()
            self.go.wait(30)
            return "unblocked"

        def release(self):
            self.go.set()

    b = Blocker()
    try:
        yield b
    finally:
        b.release()
