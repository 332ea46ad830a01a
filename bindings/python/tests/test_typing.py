"""Typing: the package passes mypy --strict; mypy accepts correct uses and flags wrong ones."""

import os
import re
import subprocess
import sys

import pytest

from support import HERE, PKG_ROOT

pytest.importorskip("mypy", reason="mypy is installed by .ci/install-deps.sh")


def mypy(*args):
    env = dict(os.environ, MYPYPATH=PKG_ROOT)
    proc = subprocess.run([sys.executable, "-m", "mypy", "--strict", "--no-incremental",
                           "--show-error-codes", "--no-error-summary", *args],
                          capture_output=True, text=True, cwd=PKG_ROOT, env=env, timeout=300)
    return proc


def test_package_and_typed_uses():
    """One mypy run: the package itself, the good uses, the bad uses."""
    good = os.path.join(HERE, "typing", "good.py")
    bad = os.path.join(HERE, "typing", "bad.py")
    proc = mypy("qthr", good, bad)
    errors = [line for line in proc.stdout.splitlines() if ": error:" in line]
    assert not [e for e in errors if not e.startswith(os.path.relpath(bad, PKG_ROOT))], \
        proc.stdout + proc.stderr  # nothing in the package or in good.py
    flagged = {}
    for e in errors:
        m = re.match(r".*?:(\d+): error: .*\[([a-z-]+)\]$", e)
        assert m, e
        flagged.setdefault(int(m.group(1)), set()).add(m.group(2))
    expected = {}
    with open(bad) as f:
        for lineno, line in enumerate(f, 1):
            m = re.search(r"# E: ([a-z|-]+)", line)
            if m:
                expected[lineno] = set(m.group(1).split("|"))  # either code flags it
    assert expected, "bad.py marks no line"
    for lineno, codes in expected.items():
        assert codes & flagged.get(lineno, set()), (lineno, codes, flagged, proc.stdout)
    assert set(flagged) <= set(expected), (flagged, expected)
