#!/usr/bin/env bash
# Builds the library and the C demo, then runs it: 8 threads insert rows into one
# SQLite connection (opened without mutexes, owned by qthr's worker thread), with
# synchronous qthr_call and with pipelined submits/batches, next to a classic
# mutex + condvar executor. Extra arguments go to the demo (-t threads, -n rows).
set -euo pipefail
cd "$(dirname "$0")/.."
generator=()
command -v ninja >/dev/null && generator=(-G Ninja)
if [[ ! -f build/CMakeCache.txt ]]; then
  cmake -S . -B build "${generator[@]}" -DCMAKE_BUILD_TYPE=Release >/dev/null
fi
cmake --build build -j2 --target sqlite_demo
exec build/examples/c/sqlite_demo "$@"
