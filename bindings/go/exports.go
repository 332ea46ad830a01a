package qthr

// The Go functions C calls. Kept in their own file: a file with //export may only
// declare, not define, C functions in its preamble.

/*
#include <stdint.h>
*/
import "C"

import (
	"runtime/cgo"
)

// qthrGoJob runs the Go job behind handle h. Called on the worker thread through
// qthrgo_job (glue.c), for Submit, Post, Call and Do.
//
//export qthrGoJob
func qthrGoJob(h C.uintptr_t) {
	hd := cgo.Handle(h)
	j := hd.Value().(*job)
	// Also the acquire edge (for the race detector) of the submitter's
	// writes, which reached this thread through C.
	if !j.state.CompareAndSwap(jobQueued, jobRunning) {
		logRecord(levelError, "a job ran twice, or after it was resolved as not run: ignored")
		return
	}
	j.run()
	if j.post && j.err != nil {
		if pe, ok := j.err.(*PanicError); ok {
			logRecord(levelError, "fire-and-forget job panicked: "+pe.Error()+"\n"+string(pe.Stack))
		} else {
			logRecord(levelWarn, "fire-and-forget job failed: "+j.err.Error())
		}
	}
	if j.async {
		deleteHandle(hd)
	}
	j.state.Store(jobDone)
	if j.done != nil {
		close(j.done)
	}
}

// qthrGoResolved resolves the Go future of a job that never ran (cancelled by
// Future.Cancel or by Shutdown(Cancel)). Called from qthr_future_then's callback
// on whichever thread resolved the job.
//
//export qthrGoResolved
func qthrGoResolved(h C.uintptr_t, st C.uint32_t) {
	// A status other than OK for a job that did run (only conceivable for an
	// internal library error) finds the handle already released: nothing to do.
	defer func() { _ = recover() }()
	hd := cgo.Handle(h)
	j := hd.Value().(*job)
	if !j.state.CompareAndSwap(jobQueued, jobCancelled) {
		return
	}
	deleteHandle(hd)
	err := statusErr(Status(st))
	if err == nil {
		err = ErrInternal
	}
	j.err = err
	j.state.Store(jobCancelled) // publish err (the CAS above came before the write)
	if j.done != nil {
		close(j.done)
	}
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

// qthrGoLog forwards a qthr log record to log/slog.
//
//export qthrGoLog
func qthrGoLog(level C.int, msg *C.char) {
	logRecord(int(level), C.GoString(msg))
}
