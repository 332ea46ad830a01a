#!/usr/bin/env bash
# Installs what a fresh machine of this project's kind lacks, and nothing it has.
# Idempotent; safe to run again. Needs root (as CI has) for apt-get.
set -euo pipefail

need_debs=()
for pkg in make gcc g++ binutils cmake ninja-build pkg-config libsqlite3-dev sqlite3 \
           googletest libgtest-dev clang valgrind; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need_debs+=("$pkg")
done
if ((${#need_debs[@]})); then
  echo "install-deps: apt-get install ${need_debs[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need_debs[@]}"
fi

# ---- C/C++ packaging checks (tests/consumer, abi/) ---------------------------------------
# abidw/abidiff for the ABI check (ctest abi.check). The sanitizer runtimes the C++ and
# consumer tests use (libasan, liblsan, libtsan) come with gcc; valgrind is in the list above.
if ! command -v abidiff >/dev/null 2>&1; then
  echo "install-deps: apt-get install abigail-tools"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends abigail-tools
fi
# ---- end of C/C++ packaging checks -------------------------------------------------------

command -v cargo >/dev/null || { echo "install-deps: cargo (rustup) is required" >&2; exit 1; }
command -v go >/dev/null || { echo "install-deps: go is required" >&2; exit 1; }
rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy rustfmt

# --- Go binding (bindings/go/run_tests.sh): staticcheck, from the Go module proxy ---
staticcheck_version=v0.8.2   # staticcheck 2026.2.2
staticcheck_bin="$(go env GOPATH)/bin/staticcheck"
if ! "$staticcheck_bin" -version 2>/dev/null | grep -q "(${staticcheck_version#v})"; then
  echo "install-deps: go install honnef.co/go/tools/cmd/staticcheck@$staticcheck_version"
  GOTOOLCHAIN=local GOFLAGS= go install "honnef.co/go/tools/cmd/staticcheck@$staticcheck_version"
fi
# --- end of the Go binding's block ---

py=python3
"$py" -c 'import pytest' 2>/dev/null || "$py" -m pip install -q pytest
"$py" -c 'import setuptools, wheel' 2>/dev/null || "$py" -m pip install -q setuptools wheel
echo "install-deps: ok"
