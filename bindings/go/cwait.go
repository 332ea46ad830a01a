package qthr

/*
#include "glue.h"
*/
import "C"

import (
	"runtime"
	"sync/atomic"
	"time"
)

// A goroutine that waits inside C (qthr_call, qthr_wait) keeps its OS thread:
// the library's spin-then-park hand-off is the fast path (about 1 us instead of
// the 10-40 us of waking a parked goroutine), but a thousand goroutines doing
// it at once would make the Go runtime start a thousand threads. So at most
// maxCWaiters goroutines of the process wait in C at a time; the others take
// the slower path that parks the goroutine on a channel and holds no thread.
// One per P (at least 2): more goroutines in C than Ps only hold Ps in
// syscall state that the scheduler must take back (with 8 and 64 goroutines
// on 2 CPUs, a limit of 2 gave a lower median ns per Call than 8, in 5
// alternated runs: 8.3 vs 11.2 us and 8.4 vs 9.0 us, on a loaded machine).
var (
	cWaiters    atomic.Int32
	maxCWaiters = int32(max(2, runtime.GOMAXPROCS(0)))
)

// cWaitSpin is how long Future.Wait with a cancellable context waits in C
// (where the library spins, then parks) before it falls back to a select on
// the Done channel and ctx: about the library's own spin budget.
const cWaitSpin = 30 * time.Microsecond

func acquireCWait() bool {
	if cWaiters.Add(1) > maxCWaiters {
		cWaiters.Add(-1)
		return false
	}
	return true
}

func releaseCWait() { cWaiters.Add(-1) }

// onWorkerThread reports whether the caller runs on the worker thread of any
// runtime this package created.
func onWorkerThread() bool { return C.qthrgo_on_worker_thread() != 0 }
