//go:build !cgo

package qthr

// Package qthr is a cgo binding: with CGO_ENABLED=0 (or no C compiler found)
// this file is all that is left of it, and the build fails with this message.
var _ = qthr_needs_cgo__build_with_CGO_ENABLED_1_and_a_C_compiler_such_as_gcc_on_PATH
