//! Gives the shared library a versioned soname (libqthr.so.MAJOR, i.e. libqthr.so.0
//! during 0.x) so installed packages follow the usual symlink scheme:
//! libqthr.so -> libqthr.so.0 -> libqthr.so.0.1.0 (made by `cmake --install`).
//!
//! Programs linked against target/<profile>/libqthr.so record the soname, so a
//! `libqthr.so.0 -> libqthr.so` symlink is also made next to cargo's output for
//! in-tree use (tests, examples, bindings).
use std::path::PathBuf;

fn main() {
    let major = env!("CARGO_PKG_VERSION_MAJOR");
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
        let soname = format!("libqthr.so.{major}");
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,{soname}");
        // OUT_DIR is <profile dir>/build/qthr-<hash>/out.
        if let Some(profile_dir) = std::env::var_os("OUT_DIR")
            .map(PathBuf::from)
            .and_then(|p| p.ancestors().nth(3).map(PathBuf::from))
        {
            let link = profile_dir.join(&soname);
            if std::fs::symlink_metadata(&link).is_err() {
                let _ = std::os::unix::fs::symlink("libqthr.so", &link);
            }
        }
    }
    println!("cargo:rerun-if-changed=build.rs");
}
