//go:build cgo

package qthr

import (
	"runtime/cgo"
	"runtime/debug"
	"sync"
	"sync/atomic"

	"github.com/qthr/qthr/bindings/go/internal/counters"
)

// Job states. The transitions are atomic operations, which also gives the race
// detector the happens-before edges that the C library's own synchronisation
// (invisible to it) provides: submitter -> worker (queued -> running) and
// worker -> waiter (running -> done).
const (
	jobQueued uint32 = iota + 1
	jobRunning
	jobDone
	jobCancelled
)

// job is what a cgo.Handle refers to while C holds the handle's integer value.
type job struct {
	fn    func() (any, error)
	val   any
	err   error
	state atomic.Uint32
	// done is closed when the job resolves (ran, or will never run). nil for
	// synchronous calls (Call, Do), whose caller learns it from qthr_call returning.
	done chan struct{}
	// async jobs are owned by the handle table until they resolve; the resolver
	// (qthrGoJob or qthrGoResolved) deletes the handle. Synchronous jobs are
	// deleted by their caller once qthr_call returned.
	async bool
	// post: fire and forget; nobody reads val/err, so a panic is logged.
	post bool
}

func newHandle(j *job) cgo.Handle {
	counters.LiveHandles.Add(1) // tests check that nothing leaks
	j.state.Store(jobQueued)
	return cgo.NewHandle(j)
}

func deleteHandle(h cgo.Handle) {
	h.Delete()
	counters.LiveHandles.Add(-1)
}

// run executes the job's function on the worker, turning a panic into *PanicError.
func (j *job) run() {
	defer func() {
		if r := recover(); r != nil {
			j.val = nil
			j.err = &PanicError{Value: r, Stack: debug.Stack()}
		}
	}()
	j.val, j.err = j.fn()
}

// hooks carries Config.OnStart and Config.OnStop to the worker.
type hooks struct {
	onStart func() error
	onStop  func()

	mu       sync.Mutex // also orders the worker's hook effects before New / Close return
	startErr error
	stopped  bool
}

func (h *hooks) runStart() (rc int) {
	var err error
	func() {
		defer func() {
			if r := recover(); r != nil {
				err = &PanicError{Value: r, Stack: debug.Stack()}
			}
		}()
		if h.onStart != nil {
			err = h.onStart()
		}
	}()
	h.mu.Lock()
	h.startErr = err
	h.mu.Unlock()
	if err != nil {
		return 1
	}
	return 0
}

func (h *hooks) runStop() {
	var perr *PanicError
	func() {
		defer func() {
			if r := recover(); r != nil {
				perr = &PanicError{Value: r, Stack: debug.Stack()}
			}
		}()
		if h.onStop != nil {
			h.onStop()
		}
	}()
	if perr != nil {
		logRecord(levelError, "OnStop panicked: "+perr.Error()+"\n"+string(perr.Stack))
	}
	h.mu.Lock()
	h.stopped = true
	h.mu.Unlock()
}

// sync orders everything the worker did in the hooks before the caller goes on.
func (h *hooks) sync() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.startErr
}
