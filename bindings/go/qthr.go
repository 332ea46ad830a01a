package qthr

/*
#include <stdlib.h>
#include "glue.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"runtime"
	"runtime/cgo"
	"sync"
	"unsafe"
)

// ShutdownMode says what Shutdown does with jobs still queued.
type ShutdownMode int

const (
	// Drain runs every queued job before the worker stops (QTHR_DRAIN).
	Drain ShutdownMode = 0
	// Cancel resolves every queued job as ErrCancelled without running it
	// (QTHR_CANCEL). A job already running always finishes.
	Cancel ShutdownMode = 1
)

// Config configures New. The zero value is valid: thread "qthr", 4096 queued
// jobs, blocking submits, no hooks, no CPU pinning.
type Config struct {
	// ThreadName names the worker thread (truncated to the OS limit, 15 bytes
	// on Linux). Empty: "qthr".
	ThreadName string
	// QueueCapacity bounds the number of queued jobs. 0: 4096.
	QueueCapacity int
	// OnStart runs on the worker before any job, e.g. to load or open the
	// engine there. An error fails New with an error that wraps both it and
	// ErrStartFailed. A panic is reported the same way, as *PanicError.
	OnStart func() error
	// OnStop runs on the worker after the last job, when the runtime shuts
	// down. A panic is recovered and logged.
	OnStop func()

	// Nonblocking makes a submit to a full queue fail with ErrQueueFull
	// instead of waiting for room.
	Nonblocking bool
	// PinToCPU pins the worker thread to CPU number CPU.
	PinToCPU bool
	// CPU is the CPU the worker is pinned to when PinToCPU is set.
	CPU int
}

// Runtime owns one worker thread that runs every job submitted to it, in
// submission order. All methods are safe for concurrent use, from any
// goroutine, and from jobs running on the worker itself (see Call and
// Future.Wait). A Runtime that becomes unreachable without Close is closed by
// a cleanup (queued jobs are drained first), but call Close (or Shutdown)
// rather than relying on the garbage collector.
type Runtime struct {
	// g counts the C calls in flight on c; Close frees c once they all
	// returned, after the runtime has shut down. c never changes after New.
	g       *guard
	c       *C.qthr_runtime
	hooks   *hooks
	hooksH  cgo.Handle
	cleanup runtime.Cleanup

	closeMu sync.Mutex // serialises Close
}

// rtResources is what the cleanup of a forgotten Runtime releases. It must
// not refer to the Runtime itself.
type rtResources struct {
	c      *C.qthr_runtime
	hooksH cgo.Handle
}

func (r rtResources) release() {
	C.qthr_free(r.c)
	if r.hooksH != 0 {
		r.hooksH.Delete()
	}
}

// New starts a runtime: it creates the worker thread, runs cfg.OnStart there
// and returns once OnStart has finished. If OnStart fails, the worker is gone
// and the error wraps both OnStart's error and ErrStartFailed.
func New(cfg Config) (*Runtime, error) {
	if cfg.QueueCapacity < 0 {
		return nil, fmt.Errorf("qthr: negative QueueCapacity %d: %w", cfg.QueueCapacity, ErrInvalidArgument)
	}
	if cfg.PinToCPU && cfg.CPU < 0 {
		return nil, fmt.Errorf("qthr: negative CPU %d: %w", cfg.CPU, ErrInvalidArgument)
	}
	var name *C.char
	if cfg.ThreadName != "" {
		name = C.CString(cfg.ThreadName)
		defer C.free(unsafe.Pointer(name))
	}
	cpu := -1
	if cfg.PinToCPU {
		cpu = cfg.CPU
	}
	nonblocking := 0
	if cfg.Nonblocking {
		nonblocking = 1
	}
	rt := &Runtime{g: newGuard()}
	if cfg.OnStart != nil || cfg.OnStop != nil {
		rt.hooks = &hooks{onStart: cfg.OnStart, onStop: cfg.OnStop}
		rt.hooksH = cgo.NewHandle(rt.hooks)
	}
	var c *C.qthr_runtime
	st := Status(C.qthrgo_init(name, C.size_t(cfg.QueueCapacity), C.int(nonblocking), C.int(cpu),
		C.uintptr_t(rt.hooksH), &c))
	var startErr error
	if rt.hooks != nil {
		startErr = rt.hooks.sync()
	}
	if st != StatusOK {
		if rt.hooksH != 0 {
			rt.hooksH.Delete()
		}
		if st == StatusStartFailed && startErr != nil {
			return nil, fmt.Errorf("qthr: OnStart: %w (%w)", startErr, ErrStartFailed)
		}
		return nil, statusErr(st)
	}
	rt.c = c
	rt.cleanup = runtime.AddCleanup(rt, func(r rtResources) {
		// qthr_free drains the queue and joins the worker: not on the
		// goroutine that runs every cleanup of the program.
		go r.release()
	}, rtResources{c: c, hooksH: rt.hooksH})
	return rt, nil
}

// Submit queues fn to run on the worker and returns its Future at once (or
// waits for room when the queue is full, unless Config.Nonblocking). Dropping
// the Future does not cancel the job. Errors: ErrShutdown, ErrQueueFull,
// ErrInvalidArgument (nil fn).
func (rt *Runtime) Submit(fn func() (any, error)) (*Future, error) {
	if fn == nil {
		return nil, ErrInvalidArgument
	}
	j := &job{fn: fn, done: make(chan struct{}), async: true}
	h := newHandle(j)
	var cf *C.qthr_future
	if !rt.g.enter() {
		deleteHandle(h)
		return nil, ErrShutdown
	}
	st := Status(C.qthrgo_submit(rt.c, C.uintptr_t(h), &cf))
	rt.g.exit()
	runtime.KeepAlive(rt)
	if st != StatusOK {
		deleteHandle(h)
		return nil, statusErr(st)
	}
	f := &Future{j: j, rt: rt, c: cf}
	runtime.AddCleanup(f, func(c *C.qthr_future) { C.qthr_future_free(c) }, cf)
	return f, nil
}

// Post queues fn to run on the worker and forgets it (fire and forget). An
// error fn returns, or a panic, is logged through log/slog.
func (rt *Runtime) Post(fn func() error) error {
	if fn == nil {
		return ErrInvalidArgument
	}
	j := &job{fn: func() (any, error) { return nil, fn() }, async: true, post: true}
	h := newHandle(j)
	if !rt.g.enter() {
		deleteHandle(h)
		return ErrShutdown
	}
	st := Status(C.qthrgo_post(rt.c, C.uintptr_t(h)))
	rt.g.exit()
	runtime.KeepAlive(rt)
	if st != StatusOK {
		deleteHandle(h)
		return statusErr(st)
	}
	return nil
}

// Call runs fn on the worker and returns its results: Submit and Wait in one,
// without a Future. Called from a job on the same worker it runs fn inline
// (re-entrancy never deadlocks). A panic in fn comes back as *PanicError.
// Errors of the runtime itself: ErrShutdown, ErrCancelled (dropped by
// Shutdown(Cancel) while queued), ErrQueueFull, ErrInvalidArgument.
func (rt *Runtime) Call(fn func() (any, error)) (any, error) {
	if fn == nil {
		return nil, ErrInvalidArgument
	}
	if acquireCWait() {
		defer releaseCWait()
	} else if !onWorkerThread() {
		// Too many goroutines already wait inside C: queue the job and park
		// this goroutine on a channel instead of holding an OS thread. (On
		// the worker, qthr_call runs the job inline: no wait at all.)
		return rt.callParked(fn)
	}
	j := &job{fn: fn}
	h := newHandle(j)
	if !rt.g.enter() {
		deleteHandle(h)
		return nil, ErrShutdown
	}
	st := Status(C.qthrgo_call(rt.c, C.uintptr_t(h)))
	rt.g.exit()
	runtime.KeepAlive(rt)
	deleteHandle(h)
	if st != StatusOK {
		return nil, statusErr(st)
	}
	if j.state.Load() != jobDone {
		return nil, fmt.Errorf("qthr: call returned before its job ran: %w", ErrInternal)
	}
	return j.val, j.err
}

// callParked is Call through the queue and a channel: no OS thread is held
// while the job is queued or runs.
func (rt *Runtime) callParked(fn func() (any, error)) (any, error) {
	j := &job{fn: fn, done: make(chan struct{}), async: true}
	h := newHandle(j)
	if !rt.g.enter() {
		deleteHandle(h)
		return nil, ErrShutdown
	}
	st := Status(C.qthrgo_post(rt.c, C.uintptr_t(h)))
	rt.g.exit()
	runtime.KeepAlive(rt)
	if st != StatusOK {
		deleteHandle(h)
		return nil, statusErr(st)
	}
	<-j.done
	return j.val, j.err
}

// Do runs fn on rt's worker and returns its typed result: the generic form of
// Runtime.Call (no boxing of the result in an interface).
func Do[T any](rt *Runtime, fn func() (T, error)) (T, error) {
	var out T
	if fn == nil {
		return out, ErrInvalidArgument
	}
	_, err := rt.Call(func() (any, error) {
		v, err := fn()
		out = v
		return nil, err
	})
	return out, err
}

// CallC runs the C function fn, a qthr_fn (void *(*)(void *)), with arg on the
// worker and returns its result. No Go code runs on the worker for it. arg is
// handed to C: it must follow cgo's pointer-passing rules (C memory, or Go
// memory without Go pointers, which C must not keep after the call). The
// calling goroutine keeps its OS thread while it waits.
func (rt *Runtime) CallC(fn unsafe.Pointer, arg unsafe.Pointer) (unsafe.Pointer, error) {
	if fn == nil {
		return nil, ErrInvalidArgument
	}
	var res unsafe.Pointer
	if !rt.g.enter() {
		return nil, ErrShutdown
	}
	st := Status(C.qthrgo_call_c(rt.c, fn, arg, &res))
	rt.g.exit()
	runtime.KeepAlive(rt)
	if st != StatusOK {
		return nil, statusErr(st)
	}
	return res, nil
}

// OnWorker reports whether the caller runs on rt's worker thread (that is,
// inside one of its jobs or hooks).
func (rt *Runtime) OnWorker() bool {
	if !rt.g.enter() {
		return false
	}
	on := C.qthr_on_worker(rt.c) != 0
	rt.g.exit()
	runtime.KeepAlive(rt)
	return on
}

// Stats is a snapshot of a runtime's counters (qthr_stats).
type Stats struct {
	Submitted      uint64 // jobs accepted
	Completed      uint64 // jobs that ran
	Cancelled      uint64 // jobs resolved without running
	QueueLen       uint64 // jobs queued now
	QueueHighWater uint64 // most jobs ever queued at once
}

// Stats returns the runtime's counters; the zero Stats once it is closed.
func (rt *Runtime) Stats() Stats {
	var out [5]C.uint64_t
	if !rt.g.enter() {
		return Stats{}
	}
	st := C.qthrgo_stats(rt.c, &out[0])
	rt.g.exit()
	runtime.KeepAlive(rt)
	if st != 0 {
		return Stats{}
	}
	return Stats{
		Submitted:      uint64(out[0]),
		Completed:      uint64(out[1]),
		Cancelled:      uint64(out[2]),
		QueueLen:       uint64(out[3]),
		QueueHighWater: uint64(out[4]),
	}
}

// Shutdown stops the runtime: new submits fail with ErrShutdown at once, queued
// jobs run (Drain) or resolve as ErrCancelled (Cancel), a running job finishes,
// OnStop runs on the worker and the worker thread is joined. No Future is left
// pending. Idempotent; safe from any goroutine except a job of this runtime,
// where it returns ErrWouldDeadlock. Close still has to release the runtime.
func (rt *Runtime) Shutdown(mode ShutdownMode) error {
	if mode != Drain && mode != Cancel {
		return ErrInvalidArgument
	}
	if !rt.g.enter() {
		return nil
	}
	st := Status(C.qthr_shutdown(rt.c, C.qthr_shutdown_mode(mode)))
	rt.g.exit()
	runtime.KeepAlive(rt)
	if st == StatusOK && rt.hooks != nil {
		_ = rt.hooks.sync() // OnStop's effects happen before Shutdown returns
	}
	return statusErr(st)
}

// Close shuts the runtime down with Drain (unless Shutdown already did) and
// frees it. Idempotent: later calls return nil. From a job of this runtime it
// returns ErrWouldDeadlock and does nothing.
func (rt *Runtime) Close() error {
	rt.closeMu.Lock()
	defer rt.closeMu.Unlock()
	if err := rt.Shutdown(Drain); err != nil {
		if errors.Is(err, ErrWouldDeadlock) {
			return err
		}
		// Anything else (ErrForked): still release what can be released.
	}
	if !rt.g.close() {
		return nil
	}
	rt.cleanup.Stop()
	rtResources{c: rt.c, hooksH: rt.hooksH}.release()
	runtime.KeepAlive(rt)
	return nil
}
