//go:build cgo && qthr_repo && !qthr_dynamic && !qthr_system

package qthr

// -tags qthr_repo: link the static archive that `cargo build --release` leaves in
// this checkout's target/release, with the checkout's include/qthr.h: for
// working on the core and the binding together, without regenerating the
// prebuilt archive. Go's build cache does not look at that archive: after
// rebuilding it, use go build -a (or go clean -cache); run_tests.sh folds a
// digest of it into CGO_CFLAGS instead.

/*
#cgo CFLAGS: -I${SRCDIR}/../../include
#cgo LDFLAGS: ${SRCDIR}/../../target/release/libqthr.a -lgcc_s -lutil -lrt -lpthread -lm -ldl -lc
*/
import "C"
