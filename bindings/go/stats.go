//go:build cgo

package qthr

/*
#include "glue.h"
*/
import "C"

import "runtime"

// Stats is a snapshot of a runtime's counters (qthr_stats).
type Stats struct {
	Submitted      uint64 // jobs accepted
	Completed      uint64 // jobs that ran
	Cancelled      uint64 // jobs resolved without running
	QueueLen       uint64 // jobs queued now
	QueueHighWater uint64 // most jobs ever queued at once
	Expired        uint64 // jobs whose deadline passed before they started (also counted in Cancelled)
}

// Stats returns the runtime's counters. Exact when the runtime is quiescent;
// after Close, the final counters.
func (rt *Runtime) Stats() Stats {
	if !rt.g.enter() {
		if s := rt.final.Load(); s != nil {
			return *s
		}
		return Stats{}
	}
	s, _ := rt.stats()
	rt.g.exit()
	runtime.KeepAlive(rt)
	return s
}

func (rt *Runtime) stats() (Stats, bool) {
	var out [6]C.uint64_t
	if C.qthrgo_stats(rt.c, &out[0]) != 0 {
		return Stats{}, false
	}
	s := Stats{
		Submitted:      uint64(out[0]),
		Completed:      uint64(out[1]),
		Cancelled:      uint64(out[2]),
		QueueLen:       uint64(out[3]),
		QueueHighWater: uint64(out[4]),
		Expired:        uint64(out[5]),
	}
	rt.lane.adjust(&s)
	return s, true
}
