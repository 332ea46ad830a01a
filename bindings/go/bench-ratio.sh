#!/usr/bin/env bash
# rt.Call against the LockOSThread channel (issue 17's yardstick) at 1, 8 and
# 64 goroutines, each side in a process of its own, the processes alternated.
#
# Why not one process: at 64 goroutines a block of qthr calls slows the
# channel block that follows it in the same process (see
# BenchmarkRatioCallVsChannel), so in-process ratios flatter qthr there.
# Here each process runs one side of BenchmarkBlocks (the same 256-call
# blocks); rounds alternate which side goes first, so both see the same
# machine load.
#
# Usage: bash bench-ratio.sh [rounds [calls per process]]   (default 5 20000)
# Prints, per goroutine count, the median ns per call of each side, their
# ranges, and the median of the per-round ratios call/chan (goals: <= 0.1,
# 0.3, 0.5).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
rounds="${1:-5}"
calls="${2:-20000}"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

cd "$here"
go test -c -o "$tmp/bench.test" ./internal/tests

one() { # side g -> ns per call
	"$tmp/bench.test" -test.run '^$' -test.bench "^BenchmarkBlocks\$/^$1\$/^g=$2\$" \
		-test.benchtime="${calls}x" -test.count=1 |
		awk -v m="$1-ns/op" '/^Benchmark/ { for (i = 3; i < NF; i++) if ($(i+1) == m) print $i }'
}

for r in $(seq 1 "$rounds"); do
	for g in 1 8 64; do
		if [ $((r % 2)) -eq 1 ]; then a=call b=chan; else a=chan b=call; fi
		va="$(one "$a" "$g")"
		vb="$(one "$b" "$g")"
		echo "$g $a $va"
		echo "$g $b $vb"
	done
done > "$tmp/raw.txt"

awk '
# summary(s): the median, least and greatest of the numbers in s, as "med lo hi".
function summary(s,   n, a, i, j, t) {
	n = split(s, a, " ")
	for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
	return ((n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2) " " a[1] " " a[n]
}
# Rounds print both sides of a goroutine count one after the other.
$2 == "call" { call[$1] = call[$1] " " $3; c = $3 }
$2 == "chan" { chan[$1] = chan[$1] " " $3; h = $3 }
{ if (++half[$1] % 2 == 0) ratio[$1] = ratio[$1] " " (c / h) }
END {
	printf "%-12s %22s %22s %s\n", "goroutines", "call ns (range)", "chan ns (range)", "call/chan: median of rounds (range)"
	split("1 8 64", gs, " ")
	for (x = 1; x <= 3; x++) {
		g = gs[x]
		split(summary(call[g]), a, " "); split(summary(chan[g]), b, " "); split(summary(ratio[g]), r, " ")
		printf "%-12s %8.0f (%5.0f-%5.0f) %8.0f (%5.0f-%5.0f) %.3f (%.3f-%.3f)\n", g, a[1], a[2], a[3], b[1], b[2], b[3], r[1], r[2], r[3]
	}
}' "$tmp/raw.txt"
