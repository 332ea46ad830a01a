#!/usr/bin/env bash
# Builds and runs every test suite: Rust, C and C++ (ctest), Python, Go.
# Runs them all, then fails if any failed, printing a summary.
set -uo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=never

results=()
failed=0
run() {
  local name=$1; shift
  echo
  echo "==================== $name: $*"
  local t0=$SECONDS
  if "$@"; then
    results+=("ok    $name ($((SECONDS - t0)) s)")
  else
    results+=("FAIL  $name ($((SECONDS - t0)) s)")
    failed=$((failed + 1))
  fi
}

run "rust fmt" cargo fmt --check
run "rust clippy" cargo clippy --release --all-targets -- -D warnings
run "rust tests" cargo test --release
run "benchmark smoke" env QTHR_BENCH_MS=20 cargo bench --bench qthr
run "c and c++ (ctest)" bash tests/c/run_tests.sh
run "python" bash bindings/python/run_tests.sh
run "go" bash bindings/go/run_tests.sh
if [[ -f scripts/reliability.sh ]]; then
  run "reliability" bash scripts/reliability.sh
fi

echo
echo "==================== summary"
printf '%s\n' "${results[@]}"
total=${#results[@]}
echo "suites: $((total - failed)) passed, $failed failed"
exit $((failed > 0))
