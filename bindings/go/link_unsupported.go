//go:build cgo && !(linux && (amd64 || arm64)) && !qthr_repo && !qthr_dynamic && !qthr_system

package qthr

// The module carries a prebuilt archive for linux/amd64 and linux/arm64 only. Elsewhere, build
// the core (cargo build --release) and use -tags qthr_system (an installed
// libqthr found through pkg-config) or, inside a checkout, -tags qthr_repo.
var _ = qthr_has_no_prebuilt_library_for_this_GOOS_GOARCH__use_tags_qthr_system_with_an_installed_libqthr
