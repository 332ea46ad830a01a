"""CPython's own concurrent.futures tests (Lib/test/test_concurrent_futures), run
against qthr.Runtime and qthr.Future. Run by tests/test_cpython_futures.py with an
interpreter that ships the `test` package:

    python3.10 tests/cpython_futures_suite.py

Tests that depend on a thread pool's internals or on several workers are left out
(listed in SKIP, each with the reason).
"""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import qthr  # noqa: E402
from test import test_concurrent_futures as cf  # noqa: E402


def _runtime(max_workers=None, **kwargs):
    """The executor_type of CPython's mixins: one worker whatever they ask for."""
    if max_workers is not None and max_workers <= 0:
        raise ValueError("max_workers must be greater than 0")
    return qthr.Runtime(name="cpython-tests")


class RuntimeMixin(cf.ExecutorMixin):
    executor_type = staticmethod(_runtime)
    worker_count = 1


SKIP = {
    # the executor is named in a generated script by its concurrent.futures name
    "test_interpreter_shutdown": "a script imports the executor from concurrent.futures",
    "test_submit_after_interpreter_shutdown": "same",
    "test_hang_gh83386": "same",
    "test_hang_gh94440": "uses max_workers=1 processes",
    # one worker thread: tests that need jobs to run at the same time
    "test_shutdown_race_issue12456": "",
    # counts on a job starting while the submitting thread still holds the GIL
    # (qthr queues 50 Python jobs without releasing it: none has started yet)
    "test_cancel_futures": "assumes a worker starts a job during the submit loop",
}


def _strip(cls):
    for name in list(vars(cls)) + [n for b in cls.__mro__ for n in vars(b)]:
        if name in SKIP:
            setattr(cls, name, unittest.skip(SKIP[name] or "needs several workers")(
                lambda self: None))
    return cls


@_strip
class RuntimeExecutorTest(RuntimeMixin, cf.ExecutorTest, cf.BaseTestCase):
    def test_max_workers_negative(self):
        for number in (0, -1):
            with self.assertRaises(ValueError):
                self.executor_type(max_workers=number)


@_strip
class RuntimeShutdownTest(RuntimeMixin, cf.ExecutorShutdownTest, cf.BaseTestCase):
    pass


@_strip
class RuntimeWaitTests(RuntimeMixin, cf.WaitTests, cf.BaseTestCase):
    pass


@_strip
class RuntimeAsCompletedTests(RuntimeMixin, cf.AsCompletedTests, cf.BaseTestCase):
    pass


class QthrFutureTests(cf.FutureTests):
    """CPython's Future tests on qthr.Future (the light future: lazy condition)."""

    def setUp(self):
        self._orig = cf.Future
        cf.Future = qthr.Future

    def tearDown(self):
        cf.Future = self._orig


if __name__ == "__main__":
    unittest.main(verbosity=1)
