//go:build cgo

package qthr

import "context"

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
