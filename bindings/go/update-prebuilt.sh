#!/usr/bin/env bash
# Regenerates what the Go module carries so that it builds on its own (from the
# module cache, a replace, or vendor/), with nothing installed and no cargo:
#
#   internal/prebuilt/include/qthr.h           a byte-for-byte copy of include/qthr.h
#   internal/prebuilt/linux_amd64/libqthr.a    the core as a static archive, built here from
#                                              this checkout's sources (LTO, stripped, only
#                                              the qthr_* symbols left global)
#   internal/prebuilt/linux_amd64/inputs.txt   sha256 of every source file the archive was
#                                              built from (the core's inputs)
#   internal/prebuilt/linux_amd64/prebuilt.go  digests of the above, the version, the toolchain
#
# Run it after any change to the core (src/, Cargo.toml, Cargo.lock,
# include/qthr.h) and commit the result; the Go suite's TestPrebuiltMatchesSources
# fails, naming this command, until then:
#
#   bash bindings/go/update-prebuilt.sh
#
# Works from any directory; needs cargo, binutils (ld, objcopy, ar, nm) and sha256sum.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
out="$here/internal/prebuilt"
plat=linux_amd64
export LC_ALL=C

case "$(uname -s)/$(uname -m)" in
  Linux/x86_64) ;;
  *) echo "update-prebuilt: builds the $plat archive and must run on Linux x86_64" >&2; exit 1 ;;
esac
for tool in cargo rustc ld objcopy ar nm sha256sum; do
  command -v "$tool" >/dev/null || { echo "update-prebuilt: $tool is required" >&2; exit 1; }
done

# The core's inputs, in a fixed order: what the archive is a function of. The Go
# test computes the same list (prebuilt_test.go: coreInputs); keep the two in step.
inputs() {
  (cd "$root" && { find src -type f; printf '%s\n' Cargo.toml Cargo.lock include/qthr.h; } | sort)
}

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# A target directory of its own (the profile overrides below would otherwise
# rebuild the everyday target/release). Paths are remapped so that the archive's
# panic locations name no directory of this machine.
cargo_home="${CARGO_HOME:-$HOME/.cargo}"
target="$root/target/go-prebuilt"
echo "update-prebuilt: cargo rustc --release --crate-type staticlib (LTO) in $target"
(cd "$root" && \
  CARGO_TARGET_DIR="$target" \
  CARGO_PROFILE_RELEASE_LTO=fat \
  CARGO_PROFILE_RELEASE_CODEGEN_UNITS=1 \
  CARGO_PROFILE_RELEASE_DEBUG=0 \
  CARGO_PROFILE_RELEASE_INCREMENTAL=false \
  RUSTFLAGS="--remap-path-prefix=$root=/qthr --remap-path-prefix=$cargo_home=/cargo" \
  cargo rustc --release --locked --lib --crate-type staticlib -j2 --quiet \
    -- --print native-static-libs) 2> "$tmp/cargo.log" || { cat "$tmp/cargo.log" >&2; exit 1; }
native="$(sed -n 's/.*native-static-libs: //p' "$tmp/cargo.log" | tail -1)"
# The cgo LDFLAGS of link_prebuilt.go must name the same system libraries.
if ! grep -qF -- "libqthr.a $native" "$here/link_prebuilt.go"; then
  echo "update-prebuilt: the archive needs '$native'; update #cgo LDFLAGS in $here/link_prebuilt.go" >&2
  exit 1
fi

# One relocatable object: the qthr object plus only the compiler_builtins members
# it uses. Then every symbol but the C API is made local, so that a program that
# links another Rust static library (its own std) gets no duplicate symbols, and
# debug info and unneeded local symbols are stripped.
# (binutils here chatter about LLVM bitcode they cannot read; keep that out of sight)
quiet() { "$@" >>"$tmp/binutils.log" 2>&1 || { grep -v 'bfd plugin' "$tmp/binutils.log" >&2; return 1; }; }
mkdir "$tmp/x"
(cd "$tmp/x" && quiet ar x "$target/release/libqthr.a")
main_obj="$(cd "$tmp/x" && ls qthr-*.o)"
[[ $(wc -l <<<"$main_obj") == 1 ]] || { echo "update-prebuilt: expected one qthr object, got: $main_obj" >&2; exit 1; }
(cd "$tmp/x" && quiet ar rcs "$tmp/rest.a" $(ls | grep -vxF "$main_obj"))
quiet ld -r -o "$tmp/qthr.o" "$tmp/x/$main_obj" "$tmp/rest.a"
quiet objcopy -w --keep-global-symbol='qthr_*' --strip-debug "$tmp/qthr.o" "$tmp/qthr-local.o"
quiet strip --strip-unneeded "$tmp/qthr-local.o" -o "$tmp/qthr_core.o"
bad="$(nm -g --defined-only "$tmp/qthr_core.o" 2>/dev/null | awk '$3 !~ /^qthr_/ { print $3 }')"
[[ -z "$bad" ]] || { echo "update-prebuilt: global symbols left besides qthr_*: $bad" >&2; exit 1; }
for sym in $(sed -n 's/^[a-z_ ]*[ *]\(qthr_[a-z_]*\)(.*/\1/p' "$root/include/qthr.h" | sort -u); do
  nm -g --defined-only "$tmp/qthr_core.o" 2>/dev/null | grep -qw "$sym" \
    || { echo "update-prebuilt: $sym (include/qthr.h) is not in the archive" >&2; exit 1; }
done
rm -f "$tmp/libqthr.a"
(cd "$tmp" && quiet ar rcD libqthr.a qthr_core.o)   # D: deterministic (no dates, uids)

# Install the files and record what they were made from.
mkdir -p "$out/include" "$out/$plat"
cp "$root/include/qthr.h" "$out/include/qthr.h"
cp "$tmp/libqthr.a" "$out/$plat/libqthr.a"
(cd "$root" && inputs | xargs sha256sum) > "$out/$plat/inputs.txt"
inputs_sum="$(sha256sum < "$out/$plat/inputs.txt" | cut -d' ' -f1)"
archive_sum="$(sha256sum < "$out/$plat/libqthr.a" | cut -d' ' -f1)"
header_sum="$(sha256sum < "$out/include/qthr.h" | cut -d' ' -f1)"
version="$(sed -n 's/^version = "\(.*\)"/\1/p' "$root/Cargo.toml" | head -1)"
rustc_v="$(rustc --version)"
cat > "$out/$plat/prebuilt.go" <<EOF
// Code generated by bindings/go/update-prebuilt.sh; DO NOT EDIT.

// Package linux_amd64 carries libqthr.a, the qthr core built for linux/amd64 from
// the sources listed in inputs.txt, for package qthr to link. Its constants
// record what the archive was made from; changing them also makes the Go build
// cache relink programs when the archive changes.
package linux_amd64

// Version is the version of the core (Cargo.toml) the archive was built from.
const Version = "$version"

// InputsSHA256 is the sha256 of inputs.txt: one "sha256  path" line per source
// file of the core (src/, Cargo.toml, Cargo.lock, include/qthr.h).
const InputsSHA256 = "$inputs_sum"

// ArchiveSHA256 is the sha256 of libqthr.a.
const ArchiveSHA256 = "$archive_sum"

// HeaderSHA256 is the sha256 of ../include/qthr.h, the header copy package qthr compiles against.
const HeaderSHA256 = "$header_sum"

// Toolchain is the compiler that built the archive.
const Toolchain = "$rustc_v"
EOF
gofmt -l "$out/$plat/prebuilt.go" | grep -q . && { echo "update-prebuilt: generated Go is not gofmt-clean" >&2; exit 1; }
echo "update-prebuilt: $out/$plat/libqthr.a ($(stat -c %s "$out/$plat/libqthr.a") bytes, core $version, $rustc_v)"
echo "update-prebuilt: now commit bindings/go/internal/prebuilt"
