//go:build cgo

package qthr

import (
	"context"
	"fmt"
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
