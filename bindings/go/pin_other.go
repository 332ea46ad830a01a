//go:build cgo && !linux

package qthr

// checkPinnable: elsewhere the library's own report (ErrStartFailed) is all.
func checkPinnable(cpu int) error { return nil }
