#!/usr/bin/env bash
# Consumer-module test of the Go binding: a module outside the repository that
# requires github.com/qthr/qthr/bindings/go builds with plain `go build` (no CGO
# flags, no cargo, nothing installed) and runs without LD_LIBRARY_PATH, in the
# three ways a Go user gets the package:
#   1. a replace to a read-only copy of bindings/go with nothing beside it;
#   2. `go mod vendor` (then built with the copy out of reach);
#   3. the module cache, fetched through a GOPROXY (a file:// proxy serving a
#      module zip of bindings/go, as a tag bindings/go/vX.Y.Z would be served);
# the last also cross-built for linux/arm64 and run under qemu-aarch64; and
# CGO_ENABLED=0 fails with the package's explanation. Also the other way,
# -tags qthr_system: pkg-config against the library installed by CMake.
# Called by run_tests.sh; works from any directory.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
mod=github.com/qthr/qthr/bindings/go
tmp="$(mktemp -d)"
cleanup() {
  chmod -R u+w "$tmp" 2>/dev/null || true
  [[ -d "$tmp/modcache" ]] && GOMODCACHE="$tmp/modcache" go clean -modcache 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT

# "Plain": none of the flags run_tests.sh or a developer may have set.
plain() { env -u CGO_CFLAGS -u CGO_LDFLAGS -u CGO_CPPFLAGS -u LD_LIBRARY_PATH -u GOFLAGS \
              -u PKG_CONFIG_PATH "$@"; }
fail() { echo "consumer test: FAIL: $*" >&2; exit 1; }

# The module as a user gets it: its files only (what a module zip holds).
copy_module() {
  mkdir -p "$1"
  tar -C "$here" --exclude=./vendor -cf - . | tar -C "$1" -xf -
}

mkdir -p "$tmp/ro"
copy_module "$tmp/ro/qthr-go"
chmod -R a-w "$tmp/ro"
# Root ignores write bits: a listing with digests proves nothing was written there.
snapshot() { (cd "$tmp/ro" && find . -printf '%p %s %T@\n' | sort); }
before="$(snapshot)"

write_consumer() {
  mkdir -p "$1"
  cat > "$1/main.go" <<'EOF'
// A program that uses qthr the way a dependent module does.
package main

import (
	"context"
	"fmt"
	"os"
	"syscall"

	qthr "github.com/qthr/qthr/bindings/go"
)

func main() {
	var workerTid int
	rt, err := qthr.New(qthr.Config{ThreadName: "consumer",
		OnStart: func() error { workerTid = syscall.Gettid(); return nil }})
	if err != nil {
		fmt.Fprintln(os.Stderr, "New:", err)
		os.Exit(1)
	}
	n, err := qthr.Do(rt, func() (int, error) { return syscall.Gettid(), nil })
	if err != nil || n != workerTid {
		fmt.Fprintln(os.Stderr, "Do:", n, err)
		os.Exit(1)
	}
	fut, err := rt.Submit(func() (any, error) { return 41 + 1, nil })
	if err != nil {
		fmt.Fprintln(os.Stderr, "Submit:", err)
		os.Exit(1)
	}
	v, err := fut.Wait(context.Background())
	if err != nil || v != 42 {
		fmt.Fprintln(os.Stderr, "Wait:", v, err)
		os.Exit(1)
	}
	if err := rt.Close(); err != nil {
		fmt.Fprintln(os.Stderr, "Close:", err)
		os.Exit(1)
	}
	fmt.Println("consumer ok: qthr", qthr.LibraryVersion(), "result", v)
}
EOF
}

check_binary() { # binary, what, [runner...]: runs it (through the runner, if given)
  local bin="$1" what="$2" out deps
  shift 2
  out="$(plain "$@" "$bin")" || fail "$what: the program failed"
  [[ "$out" == "consumer ok: qthr "*" result 42" ]] || fail "$what: unexpected output: $out"
  # readelf reads the dynamic section of either platform's binary (ldd only the host's).
  deps="$(readelf -d "$bin")" || fail "$what: readelf -d failed"
  if grep -q 'NEEDED.*qthr' <<<"$deps"; then fail "$what: the program needs a shared libqthr: $deps"; fi
  echo "consumer test: $what: $out (no libqthr.so needed)"
}

# 1. replace => a read-only copy of the module with nothing beside it.
write_consumer "$tmp/c1"
cat > "$tmp/c1/go.mod" <<EOF
module example.com/consumer

go 1.24

require $mod v0.0.0

replace $mod => $tmp/ro/qthr-go
EOF
(cd "$tmp/c1" && plain go build -o app .) || fail "go build with a replace to a read-only copy"
check_binary "$tmp/c1/app" "replace to a read-only copy"

# 2. go mod vendor, then build with the copy out of reach.
(cd "$tmp/c1" && plain go mod vendor) || fail "go mod vendor"
for plat in linux_amd64 linux_arm64; do
  test -f "$tmp/c1/vendor/$mod/internal/prebuilt/$plat/libqthr.a" || fail "vendor/ lacks the $plat archive"
done
test -f "$tmp/c1/vendor/$mod/internal/prebuilt/include/qthr.h" || fail "vendor/ lacks the header"
mv "$tmp/ro" "$tmp/ro.hidden"
(cd "$tmp/c1" && plain go build -o app-vendor .) || { mv "$tmp/ro.hidden" "$tmp/ro"; fail "go build from vendor/"; }
mv "$tmp/ro.hidden" "$tmp/ro"
check_binary "$tmp/c1/app-vendor" "go mod vendor"

[[ "$(snapshot)" == "$before" ]] || fail "the build wrote into the read-only module copy"

# 3. The module cache, through a proxy: the zip layout is <module>@<version>/<file>.
ver=v0.0.0-consumer-test
proxy="$tmp/proxy/$mod/@v"
mkdir -p "$proxy"
python3 - "$here" "$proxy/$ver.zip" "$mod@$ver" <<'EOF'
import os, sys, zipfile
src, out, prefix = sys.argv[1:]
with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
    for d, dirs, files in os.walk(src):
        dirs[:] = sorted(x for x in dirs if x != "vendor")
        for f in sorted(files):
            p = os.path.join(d, f)
            z.write(p, prefix + "/" + os.path.relpath(p, src))
EOF
cp "$here/go.mod" "$proxy/$ver.mod"
echo "$ver" > "$proxy/list"
printf '{"Version":"%s","Time":"2026-01-01T00:00:00Z"}\n' "$ver" > "$proxy/$ver.info"
write_consumer "$tmp/c3"
printf 'module example.com/consumer\n\ngo 1.24\n\nrequire %s %s\n' "$mod" "$ver" > "$tmp/c3/go.mod"
(cd "$tmp/c3" && plain GOPROXY="file://$tmp/proxy" GOSUMDB=off GOMODCACHE="$tmp/modcache" GOFLAGS=-mod=mod \
   go build -o app .) || fail "go build from the module cache"
check_binary "$tmp/c3/app" "module cache (GOPROXY)"

# 4. linux/arm64: the same module-cache build, cross-compiled, runs under
#    qemu-aarch64 (the archive of internal/prebuilt/linux_arm64 linked in).
for tool in aarch64-linux-gnu-gcc qemu-aarch64; do
  command -v "$tool" >/dev/null || fail "$tool not found: run .ci/install-deps.sh"
done
(cd "$tmp/c3" && plain GOPROXY="file://$tmp/proxy" GOSUMDB=off GOMODCACHE="$tmp/modcache" GOFLAGS=-mod=mod \
   CGO_ENABLED=1 GOARCH=arm64 CC=aarch64-linux-gnu-gcc go build -o app-arm64 .) || fail "GOARCH=arm64 go build from the module cache"
check_binary "$tmp/c3/app-arm64" "linux/arm64, module cache, under qemu-aarch64" qemu-aarch64 -L /usr/aarch64-linux-gnu

# 5. -tags qthr_system: #cgo pkg-config against an installed qthr (cmake --install
#    of this checkout, whose library run_tests.sh has just built), with an rpath.
root="$(cd "$here/../.." && pwd)"
if command -v cmake >/dev/null && command -v pkg-config >/dev/null; then
  cmake -S "$root" -B "$tmp/cmake" -DCMAKE_BUILD_TYPE=Release -DQTHR_BUILD_TESTS=OFF \
        -DQTHR_BUILD_EXAMPLES=OFF > "$tmp/cmake.log" 2>&1 \
    && cmake --build "$tmp/cmake" >> "$tmp/cmake.log" 2>&1 \
    && cmake --install "$tmp/cmake" --prefix "$tmp/prefix" >> "$tmp/cmake.log" 2>&1 \
    || { cat "$tmp/cmake.log" >&2; fail "cmake install of the library"; }
  pc="$(dirname "$(find "$tmp/prefix" -name qthr.pc | head -1)")"
  libdir="$(PKG_CONFIG_PATH="$pc" pkg-config --variable=libdir qthr)"
  (cd "$tmp/c1" && rm -rf vendor && plain PKG_CONFIG_PATH="$pc" CGO_LDFLAGS="-Wl,-rpath,$libdir" \
     go build -tags qthr_system -o app-system .) || fail "go build -tags qthr_system (pkg-config)"
  out="$(plain "$tmp/c1/app-system")" || fail "qthr_system: the program failed"
  [[ "$out" == "consumer ok: qthr "*" result 42" ]] || fail "qthr_system: unexpected output: $out"
  # ldd's output in a variable first: with pipefail, grep -q leaving at the
  # first match can kill ldd with SIGPIPE and fail a pipeline that matched.
  deps="$(ldd "$tmp/c1/app-system")"
  grep -q "libqthr.so.0 => $libdir/" <<<"$deps" || fail "qthr_system: not linked to $libdir: $deps"
  echo "consumer test: -tags qthr_system (pkg-config, installed in $tmp/prefix): $out"
else
  echo "consumer test: -tags qthr_system skipped (no cmake or pkg-config)"
fi

# 6. CGO_ENABLED=0: a clear build error, not a wall of undefined C names.
if out="$(cd "$tmp/c1" && plain CGO_ENABLED=0 go build -o app-nocgo . 2>&1)"; then
  fail "CGO_ENABLED=0 build succeeded"
fi
grep -q 'qthr_needs_cgo__build_with_CGO_ENABLED_1' <<<"$out" || fail "CGO_ENABLED=0 error unclear: $out"
[[ $(grep -c '' <<<"$out") -le 3 ]] || fail "CGO_ENABLED=0 gives more than the one error: $out"
echo "consumer test: CGO_ENABLED=0 fails with: $(grep qthr_needs_cgo <<<"$out")"
echo "consumer test: ok"
