#!/usr/bin/env bash
# Regenerates what the Go module carries so that it builds on its own (from the
# module cache, a replace, or vendor/), with nothing installed and no cargo:
#
#   internal/prebuilt/include/qthr.h         a byte-for-byte copy of include/qthr.h
#   and for each platform P (linux_amd64, linux_arm64):
#   internal/prebuilt/P/libqthr.a            the core as a static archive, built here from
#                                            this checkout's sources (LTO, stripped, only
#                                            the qthr_* symbols left global)
#   internal/prebuilt/P/inputs.txt           sha256 of every source file the archive was
#                                            built from (the core's inputs)
#   internal/prebuilt/P/prebuilt.go          digests of the above, the version, the toolchain
#
# Run it after any change to the core (src/, Cargo.toml, Cargo.lock,
# include/qthr.h) and commit the result; the Go suite's TestPrebuiltMatchesSources
# fails, naming this command, until then:
#
#   bash bindings/go/update-prebuilt.sh
#
# Works from any directory, on Linux x86_64; needs cargo, binutils (ld, objcopy,
# ar, nm, strip) and sha256sum, and for linux_arm64 the Rust target and GNU's
# cross binutils (rustup target add aarch64-unknown-linux-gnu; apt-get install
# binutils-aarch64-linux-gnu).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
out="$here/internal/prebuilt"
export LC_ALL=C

# plat  Rust target  binutils prefix (-: the host's own)
platforms=(
  "linux_amd64 x86_64-unknown-linux-gnu -"
  "linux_arm64 aarch64-unknown-linux-gnu aarch64-linux-gnu-"
)
# each_platform cmd: runs cmd plat triple prefix for every platform.
each_platform() {
  local p plat triple prefix
  for p in "${platforms[@]}"; do
    read -r plat triple prefix <<<"$p"
    [[ "$prefix" == - ]] && prefix=""
    "$1" "$plat" "$triple" "$prefix"
  done
}

case "$(uname -s)/$(uname -m)" in
  Linux/x86_64) ;;
  *) echo "update-prebuilt: builds the archives on Linux x86_64 (linux_arm64 by cross-compiling)" >&2; exit 1 ;;
esac
for tool in cargo rustc sha256sum; do
  command -v "$tool" >/dev/null || { echo "update-prebuilt: $tool is required" >&2; exit 1; }
done
# check plat triple prefix: what building for plat needs is here (before anything is built).
check() {
  local plat="$1" triple="$2" prefix="$3" tool libdir
  for tool in ld objcopy ar nm strip; do
    command -v "$prefix$tool" >/dev/null \
      || { echo "update-prebuilt: $prefix$tool is required for $plat (binutils${prefix:+-${prefix%-}})" >&2; exit 1; }
  done
  libdir="$(rustc --print target-libdir --target "$triple" 2>/dev/null)" && compgen -G "$libdir/libstd-*" >/dev/null \
    || { echo "update-prebuilt: the Rust standard library for $triple is missing: rustup target add $triple" >&2; exit 1; }
}
each_platform check

# The core's inputs, in a fixed order: what the archive is a function of. The Go
# test computes the same list (prebuilt_test.go: coreInputs); keep the two in step.
inputs() {
  (cd "$root" && { find src -type f; printf '%s\n' Cargo.toml Cargo.lock include/qthr.h; } | sort)
}

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$out/include"
cp "$root/include/qthr.h" "$out/include/qthr.h"
header_sum="$(sha256sum < "$out/include/qthr.h" | cut -d' ' -f1)"
version="$(sed -n 's/^version = "\(.*\)"/\1/p' "$root/Cargo.toml" | head -1)"
rustc_v="$(rustc --version)"
# Every archive is a function of the same inputs.
(cd "$root" && inputs | xargs sha256sum) > "$tmp/inputs.txt"
cargo_home="${CARGO_HOME:-$HOME/.cargo}"
# (binutils here chatter about LLVM bitcode they cannot read; keep that out of sight)
quiet() { "$@" >>"$tmp/binutils.log" 2>&1 || { grep -v 'bfd plugin' "$tmp/binutils.log" >&2; return 1; }; }

# build plat triple prefix: the archive and its record for one platform.
build() {
  local plat="$1" triple="$2" prefix="$3" w="$tmp/$1"
  mkdir -p "$w/x"
  # A target directory of its own (the profile overrides below would otherwise
  # rebuild the everyday target/release). Paths are remapped so that the
  # archive's panic locations name no directory of this machine.
  local target="$root/target/go-prebuilt"
  echo "update-prebuilt: $plat: cargo rustc --release --target $triple --crate-type staticlib (LTO) in $target"
  (cd "$root" && \
    CARGO_TARGET_DIR="$target" \
    CARGO_PROFILE_RELEASE_LTO=fat \
    CARGO_PROFILE_RELEASE_CODEGEN_UNITS=1 \
    CARGO_PROFILE_RELEASE_DEBUG=0 \
    CARGO_PROFILE_RELEASE_INCREMENTAL=false \
    RUSTFLAGS="--remap-path-prefix=$root=/qthr --remap-path-prefix=$cargo_home=/cargo" \
    cargo rustc --release --locked --lib --crate-type staticlib --target "$triple" -j2 --quiet \
      -- --print native-static-libs) 2> "$w/cargo.log" || { cat "$w/cargo.log" >&2; exit 1; }
  local native link="$here/link_prebuilt_$plat.go"
  native="$(sed -n 's/.*native-static-libs: //p' "$w/cargo.log" | tail -1)"
  # The cgo LDFLAGS of link_prebuilt_$plat.go must name the same system libraries.
  if ! grep -qF -- "$plat/libqthr.a $native" "$link"; then
    echo "update-prebuilt: the $plat archive needs '$native'; update #cgo LDFLAGS in $link" >&2
    exit 1
  fi

  # One relocatable object: the qthr object plus only the compiler_builtins
  # members it uses. Then every symbol but the C API is made local, so that a
  # program that links another Rust static library (its own std) gets no
  # duplicate symbols, and debug info and unneeded local symbols are stripped.
  (cd "$w/x" && quiet "${prefix}ar" x "$target/$triple/release/libqthr.a")
  local main_obj
  main_obj="$(cd "$w/x" && ls qthr-*.o)"
  [[ $(wc -l <<<"$main_obj") == 1 ]] || { echo "update-prebuilt: expected one qthr object, got: $main_obj" >&2; exit 1; }
  (cd "$w/x" && quiet "${prefix}ar" rcs "$w/rest.a" $(ls | grep -vxF "$main_obj"))
  quiet "${prefix}ld" -r -o "$w/qthr.o" "$w/x/$main_obj" "$w/rest.a"
  quiet "${prefix}objcopy" -w --keep-global-symbol='qthr_*' --strip-debug "$w/qthr.o" "$w/qthr-local.o"
  quiet "${prefix}strip" --strip-unneeded "$w/qthr-local.o" -o "$w/qthr_core.o"
  local bad sym
  bad="$("${prefix}nm" -g --defined-only "$w/qthr_core.o" 2>/dev/null | awk '$3 !~ /^qthr_/ { print $3 }')"
  [[ -z "$bad" ]] || { echo "update-prebuilt: $plat: global symbols left besides qthr_*: $bad" >&2; exit 1; }
  for sym in $(sed -n 's/^[a-z_ ]*[ *]\(qthr_[a-z_]*\)(.*/\1/p' "$root/include/qthr.h" | sort -u); do
    "${prefix}nm" -g --defined-only "$w/qthr_core.o" 2>/dev/null | grep -qw "$sym" \
      || { echo "update-prebuilt: $plat: $sym (include/qthr.h) is not in the archive" >&2; exit 1; }
  done
  (cd "$w" && quiet "${prefix}ar" rcD libqthr.a qthr_core.o)   # D: deterministic (no dates, uids)

  # Install the files and record what they were made from.
  mkdir -p "$out/$plat"
  cp "$w/libqthr.a" "$out/$plat/libqthr.a"
  cp "$tmp/inputs.txt" "$out/$plat/inputs.txt"
  local inputs_sum archive_sum goos="${plat%_*}" goarch="${plat#*_}"
  inputs_sum="$(sha256sum < "$out/$plat/inputs.txt" | cut -d' ' -f1)"
  archive_sum="$(sha256sum < "$out/$plat/libqthr.a" | cut -d' ' -f1)"
  cat > "$out/$plat/prebuilt.go" <<EOF
// Code generated by bindings/go/update-prebuilt.sh; DO NOT EDIT.

// Package $plat carries libqthr.a, the qthr core built for $goos/$goarch from
// the sources listed in inputs.txt, for package qthr to link. Its constants
// record what the archive was made from; changing them also makes the Go build
// cache relink programs when the archive changes.
package $plat

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
  if gofmt -l "$out/$plat/prebuilt.go" | grep -q .; then
    echo "update-prebuilt: generated Go is not gofmt-clean" >&2
    exit 1
  fi
  echo "update-prebuilt: $out/$plat/libqthr.a ($(stat -c %s "$out/$plat/libqthr.a") bytes, core $version, $rustc_v)"
}

each_platform build
echo "update-prebuilt: now commit bindings/go/internal/prebuilt"
