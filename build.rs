//! Nothing is done at build time any more; this script only keeps Cargo.toml's
//! `build = "build.rs"` valid.
//!
//! The distributable shared library (soname libqthr.so.MAJOR, every export versioned
//! QTHR_0 by ld/qthr.map, the libqthr.so -> libqthr.so.0 -> libqthr.so.X.Y.Z links) is
//! linked by CMake from cargo's staticlib: see CMakeLists.txt. Cargo's own
//! target/<profile>/libqthr.so has no soname, so a program linked against it in a checkout
//! (the Go binding's `-tags qthr_dynamic`) records `libqthr.so` and finds it through its
//! rpath, and the Python binding loads it by path; no link outside OUT_DIR is needed.
fn main() {
    println!("cargo:rerun-if-changed=build.rs");
}
