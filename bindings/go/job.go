//go:build cgo

package qthr

import (
	"fmt"
	"log/slog"
	"reflect"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

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
	jobNotRun // resolved without running: cancelled, expired, discarded by shutdown
)

// typedFn is the function of a typed job (Do, SubmitTyped): it keeps its
// result in its own typed field instead of boxing it in an interface.
type typedFn interface {
	call() error
	name() string
	value() any // the result, boxed (for the untyped Future of a typed job)
}

// job is one Go function to run on a worker, identified to C by its slot.
type job struct {
	fn    func() (any, error) // untyped jobs (Call, Submit, Post)
	typed typedFn             // typed jobs (Do, SubmitTyped); fn is nil then
	val   any
	err   error
	state atomic.Uint32
	// done is closed when the job resolves (it ran, or it never will). nil for a
	// call whose caller waits in qthr_call and learns it from its return.
	done chan struct{}
	rt   *Runtime
	arg  uintptr // the slot's C argument while the job holds one
	// async: the slot is released by whoever resolves the job (the worker, or
	// the callback of a job that never ran); otherwise by the caller once
	// qthr_call returned.
	async bool
	post  bool // fire and forget: nobody reads val/err, so failures are logged
	// SubmitOptions: the deadline as qthr_submit_opts has it, and as a time
	// for waiters (set once queued); priority 1 is urgent.
	deadlineNs int64
	deadline   time.Time
	priority   uint32
	// counted: an asynchronous job in Runtime.asyncPending until it starts or
	// resolves (while any is pending, calls do not take the lane: lane.go).
	counted bool
	drainer bool          // the lane's C job (lane.go), not a user's
	wake    chan struct{} // lane jobs: one token when resolved (buffered, kept by the pool)
}

// resolveNotRun resolves a job that never ran (and never will) with err,
// unless something resolved it first; it reports whether it did.
func (j *job) resolveNotRun(err error) bool {
	if !j.state.CompareAndSwap(jobQueued, jobNotRun) {
		return false
	}
	if j.counted {
		j.rt.asyncPending.Add(-1)
	}
	slotPut(j.arg)
	j.err = err
	j.state.Store(jobNotRun) // publish err (the CAS above came before the write)
	if j.rt.room.n.Load() > 0 {
		j.rt.room.signal() // its place in the queue is free
	}
	if j.done != nil {
		close(j.done)
	}
	if j.drainer {
		// Only Shutdown(Cancel) drops a queued drainer: its jobs go with it.
		j.rt.lane.dCancelled.Add(1)
		j.rt.laneCancelAll()
	}
	return true
}

var jobPool = sync.Pool{New: func() any { return new(job) }}

// getSyncJob returns a cleared job for a call whose caller waits in C.
func getSyncJob(rt *Runtime, fn func() (any, error), typed typedFn) *job {
	j := jobPool.Get().(*job)
	j.fn, j.typed, j.rt = fn, typed, rt
	return j
}

// putSyncJob recycles a job once nothing refers to it any more. Its wake
// channel stays (empty: every lane job's one token was received).
func putSyncJob(j *job) {
	w := j.wake
	*j = job{}
	j.wake = w
	jobPool.Put(j)
}

// name describes the job's function for log records: package.function and
// where it is defined.
func (j *job) name() string {
	if j.typed != nil {
		return j.typed.name()
	}
	return funcName(j.fn)
}

func funcName(fn any) string {
	v := reflect.ValueOf(fn)
	if v.Kind() != reflect.Func || v.IsNil() {
		return "?"
	}
	f := runtime.FuncForPC(v.Pointer())
	if f == nil {
		return "?"
	}
	file, line := f.FileLine(f.Entry())
	return fmt.Sprintf("%s (%s:%d)", f.Name(), file, line)
}

// run executes the job's function on the worker (see runGuarded).
func (j *job) run() {
	if perr := runGuarded(j.rt.name, j.describe, jobGoexitAdvice, j.call); perr != nil {
		j.val, j.err = nil, perr
	}
}

// call runs the job's function and keeps its result.
func (j *job) call() {
	if j.typed != nil {
		j.err = j.typed.call()
	} else {
		j.val, j.err = j.fn()
	}
}

func (j *job) describe() string { return "job " + j.name() }

// runGuarded runs f, a user's function, on the worker thread of runtime rt. A
// panic in f comes back as a *PanicError (nil when f returned).
// runtime.Goexit in f (t.Fatal, t.FailNow, t.SkipNow) cannot be stopped: Go
// kills the process when a goroutine exits on a thread it did not create. The
// deferred check sees neither a return nor a panic and says so first, naming
// the runtime and what() (called only then: it formats), with advice on what
// to do instead.
func runGuarded(rt string, what func() string, advice string, f func()) (perr *PanicError) {
	returned := false
	defer func() {
		if returned {
			return
		}
		if r := recover(); r != nil {
			perr = &PanicError{Value: r, Stack: debug.Stack()}
			return
		}
		reportGoexit(rt, what(), advice)
	}()
	f()
	returned = true
	return nil
}

// typed is the typed function of Do and SubmitTyped, and its result.
type typed[T any] struct {
	fn  func() (T, error)
	val T
}

func (t *typed[T]) call() error {
	v, err := t.fn()
	t.val = v
	return err
}

func (t *typed[T]) name() string { return funcName(t.fn) }

func (t *typed[T]) value() any { return t.val }

// posted is the function of a Post job.
type posted func() error

func (p posted) call() error  { return p() }
func (p posted) name() string { return funcName((func() error)(p)) }
func (p posted) value() any   { return nil }

// ---- slot table -----------------------------------------------------------
//
// C gets a job as an integer: its slot index and the slot's generation. The
// table is process-wide and lock-free: a Treiber stack of free slots (with an
// ABA tag), grown in chunks that never move. It replaces a runtime/cgo.Handle
// per job, whose global map was a measured cost under contention.

const (
	slotChunkBits = 10
	slotChunkSize = 1 << slotChunkBits
	slotMaxChunks = 1 << 14 // 16 M slots: the largest queue capacity, and then some
)

type slot struct {
	j    atomic.Pointer[job]
	gen  atomic.Uint32
	next atomic.Uint32 // index+1 of the next free slot (free list)
}

type slotChunk [slotChunkSize]slot

var slots struct {
	head   atomic.Uint64 // tag<<32 | index+1 of the first free slot; low half 0: none
	used   atomic.Uint32 // slots ever handed out (the next new index)
	growMu sync.Mutex
	chunks [slotMaxChunks]atomic.Pointer[slotChunk]
}

func slotAt(i uint32) *slot {
	return &slots.chunks[i>>slotChunkBits].Load()[i&(slotChunkSize-1)]
}

// slotGet gives j a slot and returns the C argument naming it, or 0 if the
// table is full (ErrNoMemory).
func slotGet(j *job) uintptr {
	var i uint32
	for {
		h := slots.head.Load()
		if uint32(h) == 0 {
			n, ok := slotGrow()
			if !ok {
				return 0
			}
			i = n
			break
		}
		s := slotAt(uint32(h) - 1)
		next := s.next.Load()
		if slots.head.CompareAndSwap(h, (h>>32+1)<<32|uint64(next)) {
			i = uint32(h) - 1
			break
		}
	}
	s := slotAt(i)
	gen := s.gen.Add(1)
	s.j.Store(j)
	counters.LiveSlots.Add(1)
	return uintptr(gen)<<32 | uintptr(i)
}

func slotGrow() (uint32, bool) {
	slots.growMu.Lock()
	defer slots.growMu.Unlock()
	n := slots.used.Load()
	if n >= slotMaxChunks*slotChunkSize {
		return 0, false
	}
	if c := n >> slotChunkBits; slots.chunks[c].Load() == nil {
		slots.chunks[c].Store(new(slotChunk))
	}
	slots.used.Store(n + 1)
	return n, true
}

// slotLookup returns the job behind arg, or nil if that slot was released
// (and possibly reused) since.
func slotLookup(arg uintptr) *job {
	i, gen := uint32(arg), uint32(arg>>32)
	if i >= slots.used.Load() {
		return nil
	}
	s := slotAt(i)
	if s.gen.Load() != gen {
		return nil
	}
	j := s.j.Load()
	if s.gen.Load() != gen { // reused in between
		return nil
	}
	return j
}

// slotPut releases the slot named by arg.
func slotPut(arg uintptr) {
	i := uint32(arg)
	s := slotAt(i)
	s.j.Store(nil)
	for {
		h := slots.head.Load()
		s.next.Store(uint32(h))
		if slots.head.CompareAndSwap(h, (h>>32+1)<<32|uint64(i+1)) {
			counters.LiveSlots.Add(-1)
			return
		}
	}
}

// ---- hooks ------------------------------------------------------------------

// hooks carries Config.OnStart, OnStop and OnInterrupt to the worker (and to
// the interrupting goroutine).
type hooks struct {
	name        string // the runtime's (no reference to the Runtime: it would never become unreachable)
	onStart     func() error
	onStop      func()
	onInterrupt func()

	mu       sync.Mutex // also orders the worker's hook effects before New / Close return
	startErr error
	started  bool // OnStart was called (a pinning failure never gets there)
	stopped  bool
}

// guard runs the hook named hook on the worker through runGuarded.
func (h *hooks) guard(hook string, f func()) *PanicError {
	return runGuarded(h.name, func() string { return hook }, hookGoexitAdvice(hook), f)
}

func (h *hooks) runStart() (rc int) {
	var err error
	if perr := h.guard("OnStart", func() {
		if h.onStart != nil {
			err = h.onStart()
		}
	}); perr != nil {
		err = perr
	}
	h.mu.Lock()
	h.started = true
	h.startErr = err
	h.mu.Unlock()
	if err != nil {
		return 1
	}
	return 0
}

func (h *hooks) runStop() {
	if perr := h.guard("OnStop", func() {
		if h.onStop != nil {
			h.onStop()
		}
	}); perr != nil {
		// Nobody receives OnStop's outcome: this is the only report of it.
		logAttrs(levelError, "OnStop panicked", slog.String("runtime", h.name),
			anyAttr("panic", perr.Value), stackAttr(perr.Stack))
	}
	h.mu.Lock()
	h.stopped = true
	h.mu.Unlock()
}

func (h *hooks) runInterrupt() {
	defer func() {
		if r := recover(); r != nil {
			logAttrs(levelError, "OnInterrupt panicked", slog.String("runtime", h.name),
				anyAttr("panic", r), stackAttr(debug.Stack()))
		}
	}()
	if h.onInterrupt != nil {
		h.onInterrupt()
	}
}

// sync orders everything the worker did in the hooks before the caller goes on.
func (h *hooks) sync() (started bool, err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.started, h.startErr
}
