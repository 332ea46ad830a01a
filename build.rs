//! Gives the shared library a versioned soname (libqthr.so.MAJOR, i.e. libqthr.so.0
//! during 0.x) so installed packages can follow the usual symlink scheme:
//! libqthr.so -> libqthr.so.0 -> libqthr.so.0.1.0.
fn main() {
    let major = env!("CARGO_PKG_VERSION_MAJOR");
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libqthr.so.{major}");
    }
    println!("cargo:rerun-if-changed=build.rs");
}
