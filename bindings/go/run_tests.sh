#!/usr/bin/env bash
# Test entry point of the Go binding (bindings/go) and its example (examples/go):
# checks the prebuilt archives against the sources, go vet, staticcheck, go test
# -race, the suite on linux/arm64 under qemu, the other link modes, a consumer
# module, a benchmark smoke run, the example.
# Works from any directory; exits non-zero on the first failure.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
export GOTOOLCHAIN=local
export GOFLAGS="${GOFLAGS:-} -buildvcs=false"
export CGO_ENABLED=1

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
cd "$here"
echo "== go: $(go version)"

# By default the package links the archive it carries (internal/prebuilt): it
# must have been built from these very sources. If not, this fails at once and
# names the one command that regenerates it.
echo "== go: the prebuilt archive and header copy match the core's sources"
QTHR_GO_REQUIRE_REPO=1 go test -count=1 -run '^TestPrebuiltMatchesSources$' ./internal/tests

echo "== go: building the library (cargo build --release) for -tags qthr_repo / qthr_dynamic"
(cd "$root" && cargo build --release -j2 --quiet)
lib="$root/target/release/libqthr.a"
test -f "$lib" && test -f "$root/include/qthr.h"
# Go's build cache does not look at target/release/libqthr.a (outside the
# module): with those tags, fold a digest of it into the cgo flags so that a
# changed library always means a rebuilt and relinked binding.
lib_id="$(cat "$lib" "$root/include/qthr.h" | sha256sum | cut -c1-16)"
repo_cflags="${CGO_CFLAGS:--g -O2} -DQTHR_GO_LIB_ID=$lib_id"

echo "== go vet"
go vet ./...
(cd "$root/examples/go" && go vet ./...)

echo "== staticcheck"
staticcheck="$(command -v staticcheck || echo "$(go env GOPATH)/bin/staticcheck")"
[[ -x "$staticcheck" ]] || { echo "staticcheck not found: run .ci/install-deps.sh" >&2; exit 1; }
"$staticcheck" -version
"$staticcheck" ./...
(cd "$root/examples/go" && "$staticcheck" ./...)

echo "== go test -race"
go test -race -count=1 -timeout 300s ./...

echo "== go test with GOEXPERIMENT=cgocheck2 (checks every Go pointer stored into C memory)"
GOEXPERIMENT=cgocheck2 go test -count=1 -timeout 300s ./internal/tests

echo "== go test (the checkout's target/release/libqthr.a, -tags qthr_repo)"
CGO_CFLAGS="$repo_cflags" go test -tags qthr_repo -count=1 -timeout 120s -run 'TestSubmitWaitCallDo|TestCallC|TestPanicsAreErrors' ./internal/tests

echo "== go test (shared library, -tags qthr_dynamic)"
CGO_CFLAGS="$repo_cflags" go test -tags qthr_dynamic -count=1 -timeout 120s -run 'TestSubmitWaitCallDo|TestCallC|TestPanicsAreErrors' ./internal/tests

echo "== go test on linux/arm64 (cross-built against internal/prebuilt/linux_arm64, run under qemu-aarch64)"
# The child-process test re-executes the test binary, which needs binfmt_misc
# for an arm64 binary: it runs on amd64 only.
for tool in aarch64-linux-gnu-gcc qemu-aarch64; do
  command -v "$tool" >/dev/null || { echo "$tool not found: run .ci/install-deps.sh" >&2; exit 1; }
done
GOARCH=arm64 CC=aarch64-linux-gnu-gcc go test -c -o "$tmp/tests-arm64.test" ./internal/tests
(cd "$here/internal/tests" && QTHR_GO_REQUIRE_REPO=1 qemu-aarch64 -L /usr/aarch64-linux-gnu "$tmp/tests-arm64.test" \
   -test.count=1 -test.timeout=300s -test.skip '^TestGoexitInJobIsReported$' > "$tmp/arm64.txt" 2>&1) \
  || { cat "$tmp/arm64.txt" >&2; exit 1; }
tail -1 "$tmp/arm64.txt"

echo "== go: consumer modules (replace to a read-only copy, go mod vendor, module cache; CGO_ENABLED=0)"
bash "$here/test-consumer.sh"

echo "== benchmark smoke: ratios (one short round; the README has the measured figures)"
# Goals (issue 17): Call/chan <= 0.1 (1 goroutine), 0.3 (8), 0.5 (64);
# Submit+Wait/Call <= 5 with GOMAXPROCS=1. Call against the channel runs each
# side in a process of its own (bench-ratio.sh says why); the other Ratio
# benchmarks alternate blocks of both sides in one process. A smoke run on a
# shared machine measures little; it must only run.
bash "$here/bench-ratio.sh" 1 4000
go test -run '^$' -bench 'Ratio(SubmitWait|CallC)' -benchtime=4000x -count=1 -timeout 300s ./internal/tests > "$tmp/bench.txt"
grep '^Benchmark' "$tmp/bench.txt"
awk '/^Benchmark/ { name = $1; sub(/-[0-9]+$/, "", name); sub(/^Benchmark/, "", name)
       for (i = 5; i < NF; i += 2) if ($(i+1) ~ /\// && $(i+1) !~ /ns\/op$/) printf "ratio %-36s %-16s %8.3f\n", name, $(i+1), $i }' "$tmp/bench.txt"

echo "== example (examples/go: goroutines writing into SQLite through qthr)"
(cd "$root/examples/go" && go build -o "$tmp/qthr-example" .)
"$tmp/qthr-example" -goroutines 8 -rows 300
"$tmp/qthr-example" -goroutines 4 -rows 100 -db "$tmp/events.db"
"$tmp/qthr-example" -goroutines 4 -rows 100 -db "$tmp/events.db"   # reopens: 800 rows in all

echo "== go: all passed"
