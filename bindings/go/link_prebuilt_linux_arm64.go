//go:build cgo && linux && arm64 && !qthr_repo && !qthr_dynamic && !qthr_system

package qthr

// Default linking on linux/arm64, as on linux/amd64 (link_prebuilt_linux_amd64.go
// says how): this platform's archive, internal/prebuilt/linux_arm64/libqthr.a.

/*
#cgo CFLAGS: -I${SRCDIR}/internal/prebuilt/include
#cgo LDFLAGS: ${SRCDIR}/internal/prebuilt/linux_arm64/libqthr.a -lgcc_s -lutil -lrt -lpthread -lm -ldl -lc
*/
import "C"

import (
	// Imported for their files, so that they also travel into vendor/.
	_ "github.com/qthr/qthr/bindings/go/internal/prebuilt/include"
	_ "github.com/qthr/qthr/bindings/go/internal/prebuilt/linux_arm64"
)
