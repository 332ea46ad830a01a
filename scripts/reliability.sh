#!/usr/bin/env bash
# Reliability suite: nothing hangs, nothing is lost, nothing races.
#
#   bash scripts/reliability.sh            every step
#   bash scripts/reliability.sh loom tsan  only the named steps
#
# Steps (each prints its own output, then a one-line result; a summary at the end):
#   stress      Rust tests through the C ABI, release: 16 threads x 2^20 jobs mixing every
#               call, shutdown under load (both modes), bad input, faults in jobs
#   c           the C programs of tests/reliability, plain (ctest -L reliability)
#   valgrind    memcheck (zero errors, zero leaks) over those programs, scaled down, and over
#               every tests/c program (ctest -L valgrind)
#   loom        loom models of the core's synchronisation (cargo test --cfg loom)
#   miri        the library's unit tests under Miri
#   tsan        ThreadSanitizer: every Rust test (instrumented std), then the C programs of
#               tests/reliability linked to a TSan build of the library (ctest -L tsan in
#               build/tsan, configured with -DQTHR_SANITIZER=thread)
#   asan        AddressSanitizer + LeakSanitizer: the same (build/asan)
#   fuzz        the cargo-fuzz target fuzz/fuzz_targets/c_api.rs for QTHR_FUZZ_SECS (60) s
#   known       informational, never fails: tests of open issues (C programs registered
#               with KNOWN, label known; #[ignore]d Rust tests), reported XFAIL or XPASS
#
# Environment: QTHR_JOBS (2) build jobs; QTHR_FUZZ_SECS (60); QTHR_VALGRIND_C_TESTS=0 leaves
# the tests/c programs out of the valgrind step; QTHR_BUILD_DIR (build) the CMake build
# directory of the plain programs. Installs nothing: a step whose tool is missing fails,
# naming the install command (.ci/install-deps.sh installs them all). Exits non-zero if any
# step failed.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
export CARGO_TERM_COLOR=never
JOBS=${QTHR_JOBS:-2}
FUZZ_SECS=${QTHR_FUZZ_SECS:-60}
BUILD=${QTHR_BUILD_DIR:-$ROOT/build}
OUT=$ROOT/target/reliability
mkdir -p "$OUT"
if ! command -v cargo >/dev/null 2>&1 && [ -x "$HOME/.cargo/bin/cargo" ]; then
  export PATH="$HOME/.cargo/bin:$PATH"
fi
TRIPLE=$(rustc -vV 2>/dev/null | sed -n 's/^host: //p')
TRIPLE=${TRIPLE:-x86_64-unknown-linux-gnu}
INSTALL_HINT="run bash .ci/install-deps.sh"

# shellcheck source=lib/steps.sh
source scripts/lib/steps.sh
steps_init reliability "$@"

# -------------------------------------------------------------------------- tools

need_nightly() { # [component...]
  if ! rustup run nightly rustc --version >/dev/null 2>&1; then
    echo "reliability: the nightly Rust toolchain is not installed: $INSTALL_HINT" \
      "(rustup toolchain install nightly --profile minimal --component rust-src,miri)" >&2
    return 1
  fi
  local c
  for c in "$@"; do
    if ! rustup component list --toolchain nightly --installed 2>/dev/null | grep -q "^$c"; then
      echo "reliability: nightly's $c component is not installed: $INSTALL_HINT" \
        "(rustup component add --toolchain nightly $c)" >&2
      return 1
    fi
  done
}

# Configures (once) and builds a CMake build directory: dir, cmake -D options...
cmake_build() {
  local dir=$1 gen=()
  shift
  need cmake "$INSTALL_HINT (apt-get install -y cmake)" || return 1
  if [ ! -f "$dir/CMakeCache.txt" ] && command -v ninja >/dev/null 2>&1; then gen=(-G Ninja); fi
  cmake -S "$ROOT" -B "$dir" "${gen[@]}" -DCMAKE_BUILD_TYPE=Release "$@" >/dev/null || return 1
  cmake --build "$dir" --parallel "$JOBS"
}

# ctest over the build directory of the plain programs (configured and built by
# tests/c/run_tests.sh, as the ctest suite of scripts/test-all.sh does).
plain_ctest() {
  bash tests/c/run_tests.sh "$@"
}

# --------------------------------------------------------------------- Rust tests

rust_tests() {
  cargo test --release -j "$JOBS" --test stress --test reliability_badinput \
    --test reliability_faults -- --test-threads=2
}

# ------------------------------------------------------------ C programs, valgrind

c_plain() {
  plain_ctest -L '^reliability$'
}

valgrind_step() {
  need valgrind "$INSTALL_HINT (apt-get install -y valgrind)" || return 1
  local skip=()
  [ "${QTHR_VALGRIND_C_TESTS:-1}" = 0 ] && skip=(-E '^valgrind\.c\.')
  plain_ctest -L '^valgrind$' "${skip[@]}"
}

# --------------------------------------------------------------------------- loom

loom_step() {
  RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR="$ROOT/target/loom" \
    cargo test --release -j "$JOBS" --lib loom -- --test-threads=2
}

# --------------------------------------------------------------------------- miri

miri_step() {
  need_nightly miri rust-src || return 1
  MIRIFLAGS="-Zmiri-permissive-provenance" CARGO_TARGET_DIR="$ROOT/target/miri" \
    cargo +nightly miri test -j "$JOBS" --lib
}

# --------------------------------------------------------------------- sanitizers

san_step() { # thread|address
  local san=$1 short=${1:0:1}san
  need_nightly rust-src || return 1
  local envs
  case $san in
    thread) envs=(TSAN_OPTIONS=halt_on_error=1:die_after_fork=0:second_deadlock_stack=1) ;;
    address) envs=(ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:strict_string_checks=1) ;;
  esac
  # The same RUSTFLAGS as the CMake build of the library (tests/common/qthr_test.cmake)
  # in the same target directory: the C programs reuse this build.
  local flags="-Zsanitizer=$san --cfg qthr_sanitize -Cdebuginfo=1"
  echo "--- Rust tests (lib + every integration test) under -Zsanitizer=$san"
  env "${envs[@]}" QTHR_SKIP_HUGE=1 QTHR_WATCHDOG_SCALE=10 RUSTFLAGS="$flags" \
    RUSTDOCFLAGS="$flags" CARGO_TARGET_DIR="$ROOT/target/$short" \
    cargo +nightly test -Zbuild-std --target "$TRIPLE" --release -j "$JOBS" --lib --tests \
    -- --test-threads=2 || return 1

  echo "--- C programs linked to the $san build of the library (ctest -L $short)"
  cmake_build "$BUILD/$short" -DQTHR_SANITIZER="$san" -DQTHR_BUILD_TESTS=OFF \
    -DQTHR_BUILD_EXAMPLES=OFF || return 1
  ctest --test-dir "$BUILD/$short/tests/reliability" --output-on-failure -L "^$short\$"
}

# --------------------------------------------------------------------------- fuzz

fuzz_step() {
  need_nightly || return 1
  if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "reliability: cargo-fuzz is not installed: $INSTALL_HINT (cargo install cargo-fuzz --locked)" >&2
    return 1
  fi
  local fdir=$ROOT/target/fuzz
  (cd "$ROOT" && CARGO_BUILD_JOBS=$JOBS cargo +nightly fuzz build -O --target-dir "$fdir" c_api) || return 1
  local bin=$fdir/$TRIPLE/release/c_api work
  work=$(mktemp -d "$OUT/fuzz-corpus.XXXXXX")
  mkdir -p "$OUT/fuzz-artifacts"
  # New inputs go to the scratch corpus (first directory); the checked-in seeds
  # (second) are only read.
  (
    cd "$ROOT/fuzz" || exit 1
    ASAN_OPTIONS=detect_leaks=1 "$bin" -max_total_time="$FUZZ_SECS" \
      -timeout=20 -rss_limit_mb=4096 -max_len=1024 -print_final_stats=1 \
      -artifact_prefix="$OUT/fuzz-artifacts/" "$work" "$ROOT/fuzz/corpus/c_api" 2>&1 |
      grep -vE '^#[0-9]+[[:space:]]+(NEW|REDUCE|pulse)'
    exit "${PIPESTATUS[0]}"
  )
  local rc=$?
  rm -rf "$work"
  [ "$rc" = 0 ] || echo "fuzz: a crashing input is in $OUT/fuzz-artifacts/"
  return "$rc"
}

# ------------------------------------------------------------- known issues

# Tests of open issues: reported, never failing the run. When an issue is fixed, its C
# program drops KNOWN in its CMakeLists.txt line and its Rust test drops #[ignore].
known_step() {
  plain_ctest -N -L '^known$' >"$OUT/known.list" || return 1
  if grep -q 'Test *#' "$OUT/known.list"; then
    if plain_ctest -L '^known$'; then
      echo "XPASS known C programs (fixed? drop KNOWN from their CMakeLists.txt line)"
    else
      echo "XFAIL known C programs (open issues; see each program's comment)"
    fi
  else
    echo "no C program of an open issue"
  fi
  if ! grep -rq --include='*.rs' '#\[ignore' "$ROOT"/tests; then
    echo "no #[ignore]d Rust test"
    return 0
  fi
  if cargo test --release -j "$JOBS" --no-fail-fast --tests -- --ignored; then
    echo "XPASS ignored Rust tests (fixed? un-ignore them)"
  else
    echo "XFAIL ignored Rust tests (open issues; see each test's #[ignore] reason)"
  fi
  return 0
}

# -------------------------------------------------------------------------- main

step stress rust_tests
step c c_plain
step valgrind valgrind_step
step loom loom_step
step miri miri_step
step tsan san_step thread
step asan san_step address
step fuzz fuzz_step
step known known_step

steps_finish
