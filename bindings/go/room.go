//go:build cgo

package qthr

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// Backpressure without OS threads. The C runtime is always created
// nonblocking: a submit to a full queue returns QTHR_QUEUE_FULL at once instead
// of blocking the calling thread inside C (300 goroutines waiting there would be
// 300 OS threads). Unless Config.Nonblocking is set, the submitting goroutine
// then parks here, in Go, until the worker frees a place: the worker signals
// one waiter (FIFO) per job it starts or drops. A waiter also retries on a
// timer, for places freed by jobs that never enter Go (CallC), and it gives up
// when its context ends or the runtime shuts down.
type room struct {
	mu sync.Mutex
	q  []*roomWaiter
	n  atomic.Int32 // len(q), read by the worker without the lock
}

type roomWaiter struct {
	ch        chan struct{} // receives the signal (buffered: the worker never blocks)
	signalled bool          // taken off the queue by signal (under room.mu)
}

const (
	roomRetryMin = time.Millisecond
	roomRetryMax = 16 * time.Millisecond
)

// register queues a waiter. The caller then retries its submit once before it
// sleeps, so that a place freed in between is not missed.
func (r *room) register() *roomWaiter {
	w := &roomWaiter{ch: make(chan struct{}, 1)}
	r.mu.Lock()
	r.q = append(r.q, w)
	r.n.Store(int32(len(r.q)))
	r.mu.Unlock()
	return w
}

// signal wakes the first waiter: one place was freed. Called on the worker.
func (r *room) signal() {
	r.mu.Lock()
	if len(r.q) == 0 {
		r.mu.Unlock()
		return
	}
	w := r.q[0]
	r.q[0] = nil
	r.q = r.q[1:]
	r.n.Store(int32(len(r.q)))
	w.signalled = true
	r.mu.Unlock()
	w.ch <- struct{}{}
}

// leave takes w off the queue. A waiter that leaves without using a signal
// it was given (it gave up, or succeeded without it) passes it on.
func (r *room) leave(w *roomWaiter, used bool) {
	if w == nil {
		return
	}
	r.mu.Lock()
	signalled := w.signalled
	if !signalled {
		for i, x := range r.q {
			if x == w {
				r.q = append(r.q[:i], r.q[i+1:]...)
				break
			}
		}
		r.n.Store(int32(len(r.q)))
	}
	r.mu.Unlock()
	if signalled && !used {
		r.signal()
	}
}

// wait sleeps until w is signalled, the retry timer fires, ctx ends (its
// error) or the runtime shuts down (ErrShutdown). In every case w has left the
// queue when it returns; retry doubles up to roomRetryMax.
func (r *room) wait(ctx context.Context, w *roomWaiter, closing <-chan struct{}, retry *time.Duration) error {
	if *retry == 0 {
		*retry = roomRetryMin
	}
	t := time.NewTimer(*retry)
	defer t.Stop()
	*retry = min(2**retry, roomRetryMax)
	var done <-chan struct{}
	if ctx != nil {
		done = ctx.Done()
	}
	select {
	case <-w.ch:
		r.leave(w, true)
		return nil
	case <-t.C:
		r.leave(w, false)
		return nil
	case <-done:
		r.leave(w, false)
		return ctx.Err()
	case <-closing:
		r.leave(w, false)
		return ErrShutdown
	}
}
