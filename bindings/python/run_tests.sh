#!/usr/bin/env bash
# Python binding tests: builds the library if needed, then runs the pytest suite
# against the source tree. The suite includes mypy --strict on the package and a
# typing test (tests/test_typing.py), cffi tests, real-SIGINT subprocess tests, and
# the packaging tests (tests/test_packaging.py): the wheel is built once (the cargo
# build below is shared), checked (manylinux tag, auditwheel, stripped, < 2 MB),
# installed into a fresh venv with cargo/rustc NOT on PATH and smoke-tested; the
# sdist is checked to carry the crate and installed where cargo exists.
#
# Environment:
#   PYTHON                   interpreter to test with (default: python3)
#   QTHR_SKIP_PIP_SMOKE=1    skip the packaging tests (no network for pip)
#   QTHR_REQUIRE_PIP_SMOKE=1 fail (instead of skipping) when pip cannot fetch
#                            setuptools for the sdist's isolated build
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
PY="${PYTHON:-python3}"

echo "== python: cargo build --release"
(cd "$ROOT" && cargo build --release --quiet)
test -f "$ROOT/target/release/libqthr.so"

if ! "$PY" -c "import pytest" 2>/dev/null; then
    echo "pytest is missing: run .ci/install-deps.sh" >&2
    exit 1
fi
echo "== python: pytest"
# The suite imports the package from bindings/python and loads the library from
# target/release (QTHR_LIBRARY unset so the lookup order itself is exercised).
(cd "$HERE" && env -u QTHR_LIBRARY "$PY" -m pytest -q -p no:cacheprovider tests)
echo "== python: all passed"
