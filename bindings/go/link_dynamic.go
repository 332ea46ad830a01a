//go:build cgo && qthr_dynamic && !qthr_system

package qthr

// -tags qthr_dynamic: link the shared library target/release/libqthr.so of this
// checkout, found at run time through an rpath that points at the same directory.

/*
#cgo CFLAGS: -I${SRCDIR}/../../include
#cgo LDFLAGS: -L${SRCDIR}/../../target/release -lqthr -Wl,-rpath,${SRCDIR}/../../target/release
*/
import "C"
