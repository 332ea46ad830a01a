package qthr

/*
#include "glue.h"
*/
import "C"

import (
	"context"
	"runtime"
	"time"
)

// Future is the pending result of a job queued with Runtime.Submit. Its
// methods are safe for concurrent use; Wait may be called any number of times
// and returns the same result every time. A Future needs no closing: its C
// side is released by a cleanup once the Future is unreachable (the job runs
// regardless).
type Future struct {
	j  *job
	rt *Runtime
	c  *C.qthr_future // freed by a cleanup once the Future is unreachable
}

// Done returns a channel that is closed when the job has resolved: it ran
// (successfully, with an error or a panic), or it will never run (cancelled).
func (f *Future) Done() <-chan struct{} { return f.j.done }

// Wait waits for the job and returns what it returned; a panic in the job is
// returned as *PanicError, a job that never ran as ErrCancelled. If ctx is
// done first, Wait returns ctx.Err() and the Future stays valid: the job is
// neither cancelled nor lost, and Wait can be called again. Waiting costs no
// goroutine and no C resource.
//
// Called from a job on a worker thread, Wait cannot simply block (the job it
// waits for may be queued behind the caller): it waits with qthr_wait, which
// runs the runtime's queued jobs up to it (same runtime) or the callbacks
// other runtimes submit to this one (another runtime's job) meanwhile, so
// runtimes calling each other do not deadlock. There ctx's deadline is honoured but a
// cancellation without a deadline is only seen before the wait, and waiting
// for the very job that is waiting returns ErrWouldDeadlock.
func (f *Future) Wait(ctx context.Context) (any, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	select {
	case <-f.j.done:
		return f.result()
	default:
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if onWorkerThread() {
		timeout := int64(-1)
		if dl, ok := ctx.Deadline(); ok {
			timeout = max(int64(time.Until(dl)), 0)
		}
		st := Status(C.qthr_wait(f.c, C.int64_t(timeout), nil))
		runtime.KeepAlive(f)
		switch st {
		case StatusTimeout:
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			return nil, context.DeadlineExceeded
		case StatusWouldDeadlock, StatusForked, StatusInvalidArgument:
			return nil, statusErr(st)
		}
		// OK or CANCELLED: the Go side is resolved, or is about to be.
		<-f.j.done
		return f.result()
	}
	if acquireCWait() {
		// Fast path: let the library hand the completion over (spin, then
		// park). Without a ctx to watch, for as long as it takes; else for
		// about one spin budget, then fall back to the select below.
		timeout := int64(-1)
		if ctx.Done() != nil {
			timeout = int64(cWaitSpin)
			if dl, ok := ctx.Deadline(); ok {
				timeout = min(timeout, max(int64(time.Until(dl)), 0))
			}
		}
		st := Status(C.qthr_wait(f.c, C.int64_t(timeout), nil))
		releaseCWait()
		runtime.KeepAlive(f)
		if st == StatusOK || st == StatusCancelled {
			<-f.j.done
			return f.result()
		}
	}
	select {
	case <-f.j.done:
		return f.result()
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (f *Future) result() (any, error) {
	return f.j.val, f.j.err
}

// Cancel withdraws the job if it has not started: it will never run, Wait
// returns ErrCancelled, and Done is closed when Cancel returns true. It returns
// false if the job already started or finished (or was already cancelled).
func (f *Future) Cancel() bool {
	select {
	case <-f.j.done:
		return false
	default:
	}
	st := Status(C.qthr_cancel(f.c))
	runtime.KeepAlive(f)
	if st != StatusOK {
		return false
	}
	<-f.j.done // resolved by qthrGoResolved on this thread, inside qthr_cancel
	return true
}

// Runtime returns the runtime the job was submitted to.
func (f *Future) Runtime() *Runtime { return f.rt }
