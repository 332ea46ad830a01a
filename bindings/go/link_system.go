//go:build cgo && qthr_system

package qthr

// -tags qthr_system: use an installed qthr through pkg-config (qthr.pc, installed
// by `cmake --install`; set PKG_CONFIG_PATH if its prefix is not a default one).
// The program links the shared libqthr.so.0: if that is not on the loader's
// path, add an rpath (CGO_LDFLAGS=-Wl,-rpath,<prefix>/lib).

/*
#cgo pkg-config: qthr
*/
import "C"
