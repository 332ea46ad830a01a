// Package counters holds bookkeeping of package qthr that its tests (in
// internal/tests) read: not part of the public API.
package counters

import "sync/atomic"

// LiveSlots counts the job slots (the integers C knows Go jobs by) not yet
// released: the tests check that nothing leaks.
var LiveSlots atomic.Int64

// LaneJobs counts the jobs the lane's drainers took (lane.go): the tests
// check that the lane was used where they mean to exercise it.
var LaneJobs atomic.Int64
