#!/usr/bin/env bash
# C (and C++) test entry point: configure (Release; Ninja if available, else make) into
# build/ at the repo root, build (-j2), run ctest. Works from any cwd.
#
#   bash tests/c/run_tests.sh                      the default suite: every test but the
#                                                  labels reliability, valgrind and known
#   bash tests/c/run_tests.sh -R '^c\.queue$'      ctest arguments instead (here: one test)
#   bash tests/c/run_tests.sh -L '^valgrind$'      (scripts/reliability.sh runs its labels so)
#
#   QTHR_BUILD_DIR  build directory (default: <repo>/build)
#   QTHR_JOBS       build jobs (default 2)
#   CTEST_ARGS      more ctest arguments, added to the above (e.g. "-R c\\.queue")
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
build="${QTHR_BUILD_DIR:-$root/build}"
jobs="${QTHR_JOBS:-2}"

# cargo is often only in ~/.cargo/bin (rustup); CARGO, if set, wins (CMakeLists reads it).
if ! command -v cargo >/dev/null 2>&1 && [ -x "$HOME/.cargo/bin/cargo" ]; then
  export PATH="$HOME/.cargo/bin:$PATH"
fi
for tool in cmake cc; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "tests/c: '$tool' is not installed: run bash .ci/install-deps.sh" >&2
    exit 1
  fi
done

gen=()
if [ ! -f "$build/CMakeCache.txt" ]; then
  if command -v ninja >/dev/null 2>&1; then gen=(-G Ninja); else gen=(-G "Unix Makefiles"); fi
fi

cmake -S "$root" -B "$build" "${gen[@]}" -DCMAKE_BUILD_TYPE=Release \
  -DQTHR_BUILD_TESTS=ON -DQTHR_BUILD_EXAMPLES=ON
cmake --build "$build" --parallel "$jobs"

args=("$@")
if ((${#args[@]} == 0)); then
  args=(-LE '^(reliability|valgrind|known)$')
fi
cd "$build"
# shellcheck disable=SC2086
ctest --output-on-failure --timeout 180 "${args[@]}" ${CTEST_ARGS:-}
