// Package counters holds bookkeeping of package qthr that its tests (in
// internal/tests) read: not part of the public API.
package counters

import "sync/atomic"

// LiveHandles counts the runtime/cgo.Handles of Go jobs not yet released.
var LiveHandles atomic.Int64
