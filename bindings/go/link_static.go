//go:build !qthr_dynamic && !qthr_system

package qthr

// Default linking: the static archive that `cargo build --release` leaves in the
// repository's target/release. The Go binary then carries qthr inside it: no
// LD_LIBRARY_PATH, no rpath, nothing to install next to the program. The extra
// system libraries are the ones `rustc --print native-static-libs` lists for a
// Rust staticlib on Linux.

/*
#cgo CFLAGS: -I${SRCDIR}/../../include
#cgo LDFLAGS: ${SRCDIR}/../../target/release/libqthr.a -lgcc_s -lutil -lrt -lpthread -lm -ldl -lc
*/
import "C"
