//go:build cgo

package qthr

/*
#include "glue.h"
*/
import "C"

import (
	"context"
	"fmt"
	"runtime"
	"time"
)

// Submit queues fn to run on the worker and returns its Future at once (or
// after waiting for room when the queue is full, parked in Go, unless
// Config.Nonblocking). Dropping the Future does not cancel the job. Errors:
// ErrShutdown, ErrQueueFull, ErrNoMemory, ErrInvalidArgument (nil fn).
func (rt *Runtime) Submit(fn func() (any, error)) (*Future, error) {
	return rt.SubmitCtx(context.Background(), fn)
}

// SubmitCtx is Submit whose wait for room in a full queue ends with ctx:
// it then returns ctx.Err() and nothing was queued. Once queued, the job no
// longer depends on ctx (wait for it with Future.Wait(ctx), stop it with
// Cancel or Interrupt).
func (rt *Runtime) SubmitCtx(ctx context.Context, fn func() (any, error)) (*Future, error) {
	if fn == nil {
		return nil, ErrInvalidArgument
	}
	return rt.submitFuture(ctx, &job{fn: fn, rt: rt, done: make(chan struct{})})
}

func (rt *Runtime) submitFuture(ctx context.Context, j *job) (*Future, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	j.counted = true // see lane.go: no lane call may overtake it
	cf, err := rt.submit(ctx, j, true)
	if err != nil {
		return nil, err
	}
	if j.deadlineNs > 0 {
		// The library measures the deadline from its submit; taken after it
		// here, so that waiters never ask before the library's deadline.
		j.deadline = time.Now().Add(time.Duration(j.deadlineNs))
	}
	return newFuture(rt, j, cf), nil
}

// SubmitTyped queues fn to run on rt's worker and returns its typed Future:
// the generic form of Runtime.Submit, whose Wait returns T itself.
func SubmitTyped[T any](rt *Runtime, fn func() (T, error)) (*FutureOf[T], error) {
	if fn == nil {
		return nil, ErrInvalidArgument
	}
	t := &typed[T]{fn: fn}
	f, err := rt.submitFuture(context.Background(), &job{typed: t, rt: rt, done: make(chan struct{})})
	if err != nil {
		return nil, err
	}
	return &FutureOf[T]{f: f, t: t}, nil
}

// SubmitOptions are per-job options for Runtime.SubmitOpts (qthr_submit_ex).
// The zero value is Submit's behaviour.
type SubmitOptions struct {
	// Deadline > 0: a job that has not STARTED within Deadline of its submit
	// never runs; its Future resolves with ErrExpired, as soon as the
	// deadline passes for a goroutine waiting on it (Wait), at the
	// latest when the worker reaches it (it costs the worker no engine time).
	// 0: no deadline. Negative: ErrInvalidArgument.
	Deadline time.Duration
	// Urgent: the job runs before every queued normal job (FIFO among urgent
	// jobs); urgent jobs have room of their own, so a full queue of normal
	// jobs does not hold them up.
	Urgent bool
}

// SubmitOpts is Submit with per-job options: a deadline for the job to start
// by and an urgent priority. Errors as Submit's; a negative Deadline is
// ErrInvalidArgument (nothing queued).
func (rt *Runtime) SubmitOpts(fn func() (any, error), opts SubmitOptions) (*Future, error) {
	if fn == nil {
		return nil, ErrInvalidArgument
	}
	j := &job{fn: fn, rt: rt, done: make(chan struct{})}
	if err := j.setOptions(opts); err != nil {
		return nil, err
	}
	return rt.submitFuture(context.Background(), j)
}

// SubmitTypedOpts is SubmitTyped with per-job options (see SubmitOptions).
func SubmitTypedOpts[T any](rt *Runtime, fn func() (T, error), opts SubmitOptions) (*FutureOf[T], error) {
	if fn == nil {
		return nil, ErrInvalidArgument
	}
	t := &typed[T]{fn: fn}
	j := &job{typed: t, rt: rt, done: make(chan struct{})}
	if err := j.setOptions(opts); err != nil {
		return nil, err
	}
	f, err := rt.submitFuture(context.Background(), j)
	if err != nil {
		return nil, err
	}
	return &FutureOf[T]{f: f, t: t}, nil
}

func (j *job) setOptions(opts SubmitOptions) error {
	if opts.Deadline < 0 {
		return fmt.Errorf("qthr: SubmitOptions.Deadline %v is negative: %w", opts.Deadline, ErrInvalidArgument)
	}
	j.deadlineNs = int64(opts.Deadline)
	if opts.Urgent {
		j.priority = 1
	}
	return nil
}

// submit queues the asynchronous job j and returns its C future (nil unless
// wantFuture: fire and forget). On a full queue it waits for room parked in Go
// (unless the runtime is nonblocking or this is a worker thread), giving up
// when ctx ends or the runtime shuts down.
func (rt *Runtime) submit(ctx context.Context, j *job, wantFuture bool) (*C.qthr_future, error) {
	arg := slotGet(j)
	if arg == 0 {
		return nil, ErrNoMemory
	}
	j.arg, j.async = arg, true
	j.state.Store(jobQueued)
	if j.counted {
		// Before the job is visible to the worker, which takes it off.
		rt.asyncPending.Add(1)
	}
	var w *roomWaiter
	var retry time.Duration
	for {
		if !rt.g.enter() {
			rt.room.leave(w, false)
			rt.unsubmit(j)
			return nil, ErrShutdown
		}
		var cf *C.qthr_future
		var out **C.qthr_future
		if wantFuture {
			out = &cf
		}
		st := Status(C.qthrgo_submit(rt.c, C.uintptr_t(arg), C.int64_t(j.deadlineNs), C.uint32_t(j.priority),
			out, C.int64_t(rt.submitLinger())))
		rt.g.exit()
		runtime.KeepAlive(rt)
		if st == StatusOK {
			rt.room.leave(w, false)
			return cf, nil
		}
		if st != StatusQueueFull || rt.nonblocking || onWorkerThread() {
			rt.room.leave(w, false)
			rt.unsubmit(j)
			return nil, statusErr(st)
		}
		if w == nil {
			w = rt.room.register() // then retry once before sleeping
			continue
		}
		if err := rt.room.wait(ctx, w, rt.closing, &retry); err != nil {
			rt.unsubmit(j)
			return nil, err
		}
		w = nil
	}
}

// unsubmit releases what submit took for a job that was not queued.
func (rt *Runtime) unsubmit(j *job) {
	if j.counted {
		rt.asyncPending.Add(-1)
	}
	slotPut(j.arg)
}

// submitLinger is how long a submit stays in C after queuing, waiting for the
// job to finish (it returns sooner if it does), when GOMAXPROCS is 1. There
// the worker's callback into Go needs the one P: while the submitter is in C
// the worker can take it (and the submitter take it back when the worker
// returns to C); once the submitter runs Go code again, whichever side comes
// second waits for the Go scheduler's monitor to move the P, 20 us to 10 ms.
// So a short job is best left to finish while its submitter is still in C.
//
// runtime.GOMAXPROCS takes the scheduler's lock: not on every submit. The
// worker refreshes rt.oneP every 256 jobs (it alone counts them), New sets it.
func (rt *Runtime) submitLinger() time.Duration {
	if rt.oneP.Load() && !onWorkerThread() {
		return 50 * time.Microsecond
	}
	return 0
}

// noteJob is called by the worker for every Go job it starts.
func (rt *Runtime) noteJob() {
	rt.jobsSeen++
	if rt.jobsSeen%256 == 0 {
		rt.oneP.Store(runtime.GOMAXPROCS(0) == 1)
	}
}

// Post queues fn to run on the worker and forgets it (fire and forget). Nobody
// receives fn's outcome, so an error it returns is logged at Warn and a panic
// at Error (log/slog: attributes runtime, job, error or panic and stack).
func (rt *Runtime) Post(fn func() error) error {
	if fn == nil {
		return ErrInvalidArgument
	}
	j := &job{typed: posted(fn), rt: rt, post: true, counted: true}
	_, err := rt.submit(context.Background(), j, false)
	return err
}
