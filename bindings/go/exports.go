package qthr

// The Go functions C calls. Kept in their own file: a file with //export may only
// declare, not define, C functions in its preamble.

/*
#include <stdint.h>
*/
import "C"

import (
	"log/slog"
	"runtime/cgo"
)

// qthrGoJob runs the Go job in slot arg. Called on the worker thread through
// qthrgo_job (glue.c), for every Go job.
//
//export qthrGoJob
func qthrGoJob(arg C.uintptr_t) {
	j := slotLookup(uintptr(arg))
	if j == nil {
		logAttrs(levelError, "a job's slot was released before it ran: ignored")
		return
	}
	// Also the acquire edge (for the race detector) of the submitter's
	// writes, which reached this thread through C.
	if !j.state.CompareAndSwap(jobQueued, jobRunning) {
		logAttrs(levelError, "a job ran twice, or after it was resolved as not run: ignored", j.rt.logName())
		return
	}
	rt := j.rt
	if j.counted {
		rt.asyncPending.Add(-1)
	}
	rt.noteJob()
	if rt.room.n.Load() > 0 {
		rt.room.signal() // this job's place in the queue is free
	}
	j.run()
	if j.post && j.err != nil {
		// Nobody receives a posted job's outcome: this is its only report.
		level := levelWarn
		msg := "fire-and-forget job failed"
		if _, ok := j.err.(*PanicError); ok {
			level, msg = levelError, "fire-and-forget job panicked"
		}
		logAttrs(level, msg, append([]slog.Attr{rt.logName(), slog.String("job", j.name())}, errAttrs(j.err)...)...)
	}
	if j.async {
		slotPut(j.arg)
	}
	j.state.Store(jobDone)
	if j.done != nil {
		close(j.done)
	}
}

// qthrGoResolved resolves the Go side of a job that never ran (cancelled,
// expired, or discarded by Shutdown(Cancel)). Called from qthr_future_then's
// callback on whichever thread resolved the job.
//
//export qthrGoResolved
func qthrGoResolved(arg C.uintptr_t, st C.uint32_t) {
	j := slotLookup(uintptr(arg))
	// nil: the job ran (the slot went with it) and the library still reports
	// another status, only conceivable for an internal error; or a waiter
	// already resolved it (an expired job): nothing to do.
	if j == nil {
		return
	}
	err := statusErr(Status(st))
	if err == nil {
		err = ErrInternal
	}
	j.resolveNotRun(err)
}

// qthrGoOnStart runs Config.OnStart on the worker; non-zero fails qthr_init.
//
//export qthrGoOnStart
func qthrGoOnStart(h C.uintptr_t) C.int {
	return C.int(cgo.Handle(h).Value().(*hooks).runStart())
}

// qthrGoOnStop runs Config.OnStop on the worker after the last job.
//
//export qthrGoOnStop
func qthrGoOnStop(h C.uintptr_t) {
	cgo.Handle(h).Value().(*hooks).runStop()
}

// qthrGoOnInterrupt runs Config.OnInterrupt on the interrupting thread.
//
//export qthrGoOnInterrupt
func qthrGoOnInterrupt(h C.uintptr_t) {
	cgo.Handle(h).Value().(*hooks).runInterrupt()
}

// qthrGoLog forwards a qthr log record to log/slog.
//
//export qthrGoLog
func qthrGoLog(level C.int, msg *C.char) {
	libRecord(int(level), C.GoString(msg))
}
