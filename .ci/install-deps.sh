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

py=python3
"$py" -c 'import pytest' 2>/dev/null || "$py" -m pip install -q pytest
"$py" -c 'import setuptools, wheel' 2>/dev/null || "$py" -m pip install -q setuptools wheel
echo "install-deps: ok"
