#!/usr/bin/env bash
# Builds and runs every test suite: Rust, C and C++ (ctest), Python, Go, reliability.
#
#   bash scripts/test-all.sh               every step (what `make test` and CI run)
#   bash scripts/test-all.sh rust ctest    only the named steps
#
# Steps: fmt, clippy, rust, bench (a smoke run), ctest (tests/c/run_tests.sh: C, C++,
# consumer), python, go, reliability (scripts/reliability.sh, every step).
# Runs them all, then prints a summary and fails if any failed. Installs nothing: the
# tools come from .ci/install-deps.sh.
set -uo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=never
# shellcheck source=lib/steps.sh
source scripts/lib/steps.sh
steps_init test-all "$@"

step fmt cargo fmt --check
step clippy cargo clippy --release --all-targets -- -D warnings
step rust cargo test --release
step bench env QTHR_BENCH_MS=20 cargo bench --bench qthr
step ctest bash tests/c/run_tests.sh
step python bash bindings/python/run_tests.sh
step go bash bindings/go/run_tests.sh
step reliability bash scripts/reliability.sh

steps_finish
