//go:build cgo && linux && amd64 && !qthr_repo && !qthr_dynamic && !qthr_system

package qthr

// Default linking: the static archive this module carries
// (internal/prebuilt/linux_amd64/libqthr.a, built from the repository's own
// sources by update-prebuilt.sh) and the header copy beside it. The Go binary
// then carries qthr inside it: no cargo, nothing to install, no rpath, no
// LD_LIBRARY_PATH. The extra system libraries are those `rustc --print
// native-static-libs` lists for the archive (update-prebuilt.sh checks the line
// below against it).

/*
#cgo CFLAGS: -I${SRCDIR}/internal/prebuilt/include
#cgo LDFLAGS: ${SRCDIR}/internal/prebuilt/linux_amd64/libqthr.a -lgcc_s -lutil -lrt -lpthread -lm -ldl -lc
*/
import "C"

import (
	// Imported for their files, so that they also travel into vendor/.
	_ "github.com/qthr/qthr/bindings/go/internal/prebuilt/include"
	_ "github.com/qthr/qthr/bindings/go/internal/prebuilt/linux_amd64"
)
