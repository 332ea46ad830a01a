"""CPython's concurrent.futures test suite against qthr.Runtime / qthr.Future.

The `test` package is not shipped by every interpreter (Debian's python3 and this
pyenv 3.11 lack test_concurrent_futures); any installed CPython 3.8-3.11 that has it
runs tests/cpython_futures_suite.py (the package is pure Python, the library is the
same)."""

import glob
import os
import shutil
import subprocess
import sys

import pytest

from support import HERE


def _interpreters():
    seen = []
    cands = [sys.executable]
    cands += [shutil.which(f"python3.{m}") or "" for m in range(8, 12)]
    cands += sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.*/bin/python3")))
    for c in cands:
        if c and os.path.exists(c) and os.path.realpath(c) not in seen:
            seen.append(os.path.realpath(c))
            yield c


def _with_suite():
    probe = ("import sys; from test import test_concurrent_futures as t; "
             "sys.exit(0 if hasattr(t, 'ExecutorTest') and sys.version_info >= (3, 8) else 1)")
    for py in _interpreters():
        try:
            if subprocess.run([py, "-c", probe], capture_output=True, timeout=60).returncode == 0:
                return py
        except (OSError, subprocess.TimeoutExpired):
            continue
    return None


def test_cpython_concurrent_futures_suite():
    py = _with_suite()
    if py is None:
        pytest.skip("no CPython 3.8-3.11 with test.test_concurrent_futures is installed")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    proc = subprocess.run([py, os.path.join(HERE, "cpython_futures_suite.py")],
                          capture_output=True, text=True, timeout=600, env=env)
    tail = proc.stderr[-4000:]
    assert proc.returncode == 0, tail
    assert "\nOK" in proc.stderr and "Ran " in proc.stderr, tail
