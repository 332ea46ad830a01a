//go:build qthr_system

package qthr

// -tags qthr_system: use an installed qthr (header and library on the compiler's
// default paths, or given through CGO_CFLAGS / CGO_LDFLAGS).

/*
#cgo LDFLAGS: -lqthr
*/
import "C"
