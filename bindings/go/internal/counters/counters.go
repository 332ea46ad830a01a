// Package counters holds bookkeeping of package qthr that its tests (in
// internal/tests) read: not part of the public API.
package counters

import "sync/atomic"

// LiveSlots counts the job slots (the integers C knows Go jobs by) not yet
// released: the tests check that nothing leaks.
var LiveSlots atomic.Int64
