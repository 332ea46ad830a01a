#!/usr/bin/env bash
# Python binding tests: builds the library if needed, runs the pytest suite
# against the source tree, then installs the package with pip into a fresh venv
# (which builds the Rust library and ships it in the wheel) and smoke-tests it.
#
# Environment:
#   PYTHON                   interpreter to test with (default: python3)
#   QTHR_SKIP_PIP_SMOKE=1    skip the venv / pip install part
#   QTHR_REQUIRE_PIP_SMOKE=1 fail (instead of skipping) when setuptools>=70.1
#                            cannot be installed into the venv (offline)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
PY="${PYTHON:-python3}"

echo "== python: cargo build --release"
(cd "$ROOT" && cargo build --release --quiet)
test -f "$ROOT/target/release/libqthr.so"

echo "== python: pytest"
if ! "$PY" -c "import pytest" 2>/dev/null; then
    echo "pytest is missing; installing it" >&2
    "$PY" -m pip install --quiet pytest
fi
# The suite imports the package from bindings/python and loads the library from
# target/release (QTHR_LIBRARY unset so the lookup order itself is exercised).
(cd "$HERE" && env -u QTHR_LIBRARY "$PY" -m pytest -q -p no:cacheprovider tests)

if [[ "${QTHR_SKIP_PIP_SMOKE:-0}" == "1" ]]; then
    echo "== python: pip install smoke test SKIPPED (QTHR_SKIP_PIP_SMOKE=1)"
    exit 0
fi

echo "== python: pip install ./bindings/python into a fresh venv"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
"$PY" -m venv "$WORK/venv"
VPY="$WORK/venv/bin/python"
# --no-build-isolation: build with the venv's own setuptools (no download of the
# build backend at install time); it must be >= 70.1 to write wheels by itself.
if ! "$VPY" - <<'PYEOF'
import sys, setuptools
v = tuple(int(p) for p in setuptools.__version__.split(".")[:2] if p.isdigit())
sys.exit(0 if v >= (70, 1) else 1)
PYEOF
then
    if ! "$VPY" -m pip install --quiet "setuptools>=70.1"; then
        if [[ "${QTHR_REQUIRE_PIP_SMOKE:-0}" == "1" ]]; then
            echo "cannot install setuptools>=70.1 into the venv" >&2
            exit 1
        fi
        echo "== python: pip install smoke test SKIPPED: setuptools>=70.1 not available (offline?)"
        exit 0
    fi
fi
rm -rf "$HERE/build"   # no stale files from an earlier in-tree build
"$VPY" -m pip install --quiet --no-build-isolation --no-deps "$HERE"
rm -rf "$HERE/build" "$HERE/qthr.egg-info"
# Run from outside the repository, without QTHR_LIBRARY: the library must come
# from inside the installed package.
(cd "$WORK" && env -u QTHR_LIBRARY "$VPY" "$HERE/tests/smoke_installed.py")
echo "== python: all passed"
