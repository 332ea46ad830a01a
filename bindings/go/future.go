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

// Future is the pending result of a job queued with Runtime.Submit (or
// SubmitCtx, SubmitOpts). Its methods are safe for concurrent use; Wait may be
// called any number of times and returns the same result every time. A Future
// needs no closing: its C side is released by a cleanup once the Future is
// unreachable (the job runs regardless).
type Future struct {
	j  *job
	rt *Runtime
	c  *C.qthr_future // freed by a cleanup once the Future is unreachable
}

func newFuture(rt *Runtime, j *job, c *C.qthr_future) *Future {
	f := &Future{j: j, rt: rt, c: c}
	runtime.AddCleanup(f, func(c *C.qthr_future) { C.qthr_future_free(c) }, c)
	return f
}

// Done returns a channel that is closed when the job has resolved: it ran
// (successfully, with an error or a panic), or it will never run (cancelled,
// expired, discarded by Shutdown(Cancel)).
func (f *Future) Done() <-chan struct{} { return f.j.done }

// Wait waits for the job and returns what it returned; a panic in the job is
// returned as *PanicError, a job that never ran as ErrCancelled (or
// ErrExpired). If ctx is done first, Wait returns ctx.Err() and the Future
// stays valid: the job is neither cancelled nor lost, and Wait can be called
// again. Waiting costs no goroutine and no C resource. A nil ctx is
// context.Background().
//
// Called from a job on a worker thread, Wait cannot simply block (the job it
// waits for may be queued behind the caller): it waits with qthr_wait, which
// runs the runtime's queued jobs up to it (same runtime) or the callbacks
// other runtimes submit to this one (another runtime's job) meanwhile, so
// runtimes calling each other do not deadlock. There ctx's deadline is
// honoured but a cancellation without a deadline is only seen before the wait,
// and waiting for the very job that is waiting returns ErrWouldDeadlock.
func (f *Future) Wait(ctx context.Context) (any, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	if err := f.wait(ctx); err != nil {
		return nil, err
	}
	if f.j.typed != nil && f.j.state.Load() == jobDone {
		return f.j.typed.value(), f.j.err
	}
	return f.j.val, f.j.err
}

// wait returns once the job resolved (nil), or with ctx's error or a status
// error of a wait on a worker thread.
func (f *Future) wait(ctx context.Context) error {
	select {
	case <-f.j.done:
		return nil
	default:
	}
	if err := ctx.Err(); err != nil {
		return err
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
				return err
			}
			return context.DeadlineExceeded
		case StatusWouldDeadlock, StatusForked, StatusInvalidArgument:
			return statusErr(st)
		case StatusExpired:
			f.j.resolveNotRun(ErrExpired) // unless the then-callback did already
		}
		// Resolved (ran, cancelled, expired): the Go side is, or is about to be.
		<-f.j.done
		return nil
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
		if st == StatusExpired {
			f.j.resolveNotRun(ErrExpired)
		}
		if st != StatusTimeout {
			<-f.j.done
			return nil
		}
	}
	if !f.j.deadline.IsZero() {
		// A job with a deadline: when it passes, ask the library whether the
		// job started (qthr_wait resolves it as expired if not).
		t := time.NewTimer(time.Until(f.j.deadline))
		defer t.Stop()
		select {
		case <-f.j.done:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
		if Status(C.qthr_wait(f.c, 0, nil)) == StatusExpired {
			f.j.resolveNotRun(ErrExpired)
		}
		runtime.KeepAlive(f)
	}
	select {
	case <-f.j.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
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

// Interrupt stops the job: if it has not started, it is withdrawn exactly as
// by Cancel; if it is running and the runtime has Config.OnInterrupt, that is
// called (on this goroutine) to ask the engine to stop, and the job then ends
// as the engine decides. It returns true in both cases, false if the job
// already finished or it runs on a runtime without OnInterrupt.
func (f *Future) Interrupt() bool {
	select {
	case <-f.j.done:
		return false
	default:
	}
	st := Status(C.qthrgo_stop(f.c))
	runtime.KeepAlive(f)
	return st == StatusOK
}

// Runtime returns the runtime the job was submitted to.
func (f *Future) Runtime() *Runtime { return f.rt }

// FutureOf is the typed pending result of a job queued with SubmitTyped: a
// Future whose Wait returns the job's own result type, never boxed in an
// interface.
type FutureOf[T any] struct {
	f *Future
	t *typed[T]
}

// Wait waits for the job and returns its results, with the rules of
// Future.Wait; on an error of the wait itself (ctx, cancellation) the value is
// T's zero value.
func (f *FutureOf[T]) Wait(ctx context.Context) (T, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	if err := f.f.wait(ctx); err != nil {
		var zero T
		return zero, err
	}
	if f.f.j.state.Load() != jobDone {
		var zero T
		return zero, f.f.j.err
	}
	return f.t.val, f.f.j.err
}

// Done returns a channel that is closed when the job has resolved.
func (f *FutureOf[T]) Done() <-chan struct{} { return f.f.Done() }

// Cancel withdraws the job if it has not started (see Future.Cancel).
func (f *FutureOf[T]) Cancel() bool { return f.f.Cancel() }

// Interrupt withdraws or interrupts the job (see Future.Interrupt).
func (f *FutureOf[T]) Interrupt() bool { return f.f.Interrupt() }

// Future returns the untyped Future of the same job (its Wait returns the
// value as any).
func (f *FutureOf[T]) Future() *Future { return f.f }
