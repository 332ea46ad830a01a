package qthr

/*
#include <stdlib.h>
#include "glue.h"
*/
import "C"

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"runtime/cgo"
	"strings"
	"sync"
	"sync/atomic"
	"time"
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

// maxQueueCapacity is the library's limit for Config.QueueCapacity.
const maxQueueCapacity = 1 << 24

// Config configures New. The zero value is valid: thread "qthr", 4096 queued
// jobs, submitters wait for room, no hooks, no CPU pinning.
type Config struct {
	// ThreadName names the worker thread (truncated to the OS limit, 15 bytes
	// on Linux). Empty: "qthr". It also names the runtime in log records.
	ThreadName string
	// QueueCapacity bounds the number of queued jobs: 1 to 16777216; 0 means 4096.
	QueueCapacity int
	// OnStart runs on the worker before any job, e.g. to load or open the
	// engine there. An error fails New with an error that wraps both it and
	// ErrStartFailed. A panic is reported the same way, as *PanicError.
	OnStart func() error
	// OnStop runs on the worker after the last job, when the runtime shuts
	// down. A panic is recovered and logged.
	OnStop func()
	// OnInterrupt, if set, makes running jobs interruptible: Future.Interrupt,
	// and CallCtx / DoCtx whose ctx ends while their job runs, call it to ask
	// the engine to stop the job. It runs on the INTERRUPTING goroutine, not
	// on the worker, while the job runs (never after it returned), so it must
	// only do what the engine allows from another thread (sqlite3_interrupt,
	// lua_sethook, setting a flag the job polls) and return quickly: the
	// worker waits for it before it starts another job. A panic is recovered
	// and logged.
	OnInterrupt func()

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

	name        string // Config.ThreadName or "qthr": the runtime attribute of log records
	nonblocking bool   // Config.Nonblocking (the C runtime itself is always nonblocking)
	room        room   // submitters waiting for queue room (Go-parked)

	closing   chan struct{} // closed when Shutdown begins: waiters for room give up
	closeOnce sync.Once

	oneP     atomic.Bool // GOMAXPROCS is 1 (see submitLinger)
	jobsSeen uint64      // Go jobs started: written by the worker only

	lane         lane                // synchronous calls batched into one C job (lane.go)
	drainFn      func() (any, error) // the lane drainer's function
	asyncPending atomic.Int64        // asynchronous jobs queued, not yet started or resolved

	closeMu sync.Mutex            // serialises Close
	final   atomic.Pointer[Stats] // the counters when Close freed the runtime
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
// and the error wraps both OnStart's error and ErrStartFailed. A bad field of
// cfg gives an error naming it that wraps ErrInvalidArgument; a CPU the worker
// cannot be pinned to, one naming the CPU and the OS error, wrapping
// ErrStartFailed.
func New(cfg Config) (*Runtime, error) {
	if cfg.QueueCapacity < 0 || cfg.QueueCapacity > maxQueueCapacity {
		return nil, fmt.Errorf("qthr: Config.QueueCapacity %d is out of range (1 to %d, or 0 for the default 4096): %w",
			cfg.QueueCapacity, maxQueueCapacity, ErrInvalidArgument)
	}
	if strings.IndexByte(cfg.ThreadName, 0) >= 0 {
		return nil, fmt.Errorf("qthr: Config.ThreadName %q contains a NUL byte: %w", cfg.ThreadName, ErrInvalidArgument)
	}
	cpu := -1
	if cfg.PinToCPU {
		if cfg.CPU < 0 {
			return nil, fmt.Errorf("qthr: Config.CPU %d is negative: %w", cfg.CPU, ErrInvalidArgument)
		}
		if err := checkPinnable(cfg.CPU); err != nil {
			return nil, fmt.Errorf("qthr: cannot pin the worker to CPU %d (Config.CPU): %w (%w)", cfg.CPU, err, ErrStartFailed)
		}
		cpu = cfg.CPU
	}
	name := cfg.ThreadName
	if name == "" {
		name = "qthr"
	}
	cname := C.CString(name)
	defer C.free(unsafe.Pointer(cname))

	rt := &Runtime{g: newGuard(), name: name, nonblocking: cfg.Nonblocking, closing: make(chan struct{})}
	rt.oneP.Store(runtime.GOMAXPROCS(0) == 1)
	rt.lane.capacity = cfg.QueueCapacity
	if rt.lane.capacity == 0 {
		rt.lane.capacity = 4096
	}
	rt.drainFn = func() (any, error) { rt.drain(); return nil, nil }
	rt.hooks = &hooks{name: name, onStart: cfg.OnStart, onStop: cfg.OnStop, onInterrupt: cfg.OnInterrupt}
	rt.hooksH = cgo.NewHandle(rt.hooks)
	var c *C.qthr_runtime
	st := Status(C.qthrgo_init(cname, C.size_t(cfg.QueueCapacity), C.int(cpu), C.uintptr_t(rt.hooksH),
		C.int(boolInt(cfg.OnInterrupt != nil)), &c))
	started, startErr := rt.hooks.sync()
	if st != StatusOK {
		rt.hooksH.Delete()
		switch {
		case st == StatusStartFailed && startErr != nil:
			return nil, fmt.Errorf("qthr: OnStart: %w (%w)", startErr, ErrStartFailed)
		case st == StatusStartFailed && !started && cfg.PinToCPU:
			return nil, fmt.Errorf("qthr: the worker thread could not be pinned to CPU %d (Config.CPU): %w", cfg.CPU, ErrStartFailed)
		case st == StatusStartFailed && !started:
			return nil, fmt.Errorf("qthr: the worker thread could not be started: %w", ErrStartFailed)
		}
		return nil, fmt.Errorf("qthr: New: %w", statusErr(st))
	}
	rt.c = c
	rt.cleanup = runtime.AddCleanup(rt, func(r rtResources) {
		// qthr_free drains the queue and joins the worker: not on the
		// goroutine that runs every cleanup of the program.
		go r.release()
	}, rtResources{c: c, hooksH: rt.hooksH})
	return rt, nil
}

// Call runs fn on the worker and returns its results: Submit and Wait in one,
// without a Future. Called from a job on the same worker it runs fn inline
// (re-entrancy never deadlocks). A panic in fn comes back as *PanicError.
// Errors of the runtime itself: ErrShutdown, ErrCancelled (dropped by
// Shutdown(Cancel) while queued), ErrQueueFull (Config.Nonblocking, or a job
// calling into its own runtime's full queue), ErrInvalidArgument (nil fn).
//
// A full queue makes Call wait for room with the goroutine parked in Go, and
// so does waiting for the result once more than a few goroutines wait: the
// first few wait inside the library (its fast spin-then-sleep hand-off), each
// on its OS thread; the others hold no thread. Under contention (more than
// max(16, 8*GOMAXPROCS) goroutines calling, counting the process's runnable
// goroutines) calls are queued in Go and run in batches by one library job
// (the lane, lane.go), unless a Submit or Post of the runtime is still queued:
// a goroutine's jobs keep their order either way.
func (rt *Runtime) Call(fn func() (any, error)) (any, error) {
	if fn == nil {
		return nil, ErrInvalidArgument
	}
	j, err := rt.call(context.Background(), fn, nil)
	if err != nil {
		return nil, err
	}
	v, jerr := j.val, j.err
	rt.recycle(j)
	return v, jerr
}

// CallCtx is Call with a context. If ctx ends while the job is queued (or
// while Call waits for room in the queue), the job is withdrawn and CallCtx
// returns ctx.Err() at once. If ctx ends while the job runs, Config.OnInterrupt
// (if set) is called and CallCtx returns ctx.Err() without waiting for the job,
// which finishes on its own (its results are dropped). On a worker thread
// (from a job) ctx is checked before the call only.
func (rt *Runtime) CallCtx(ctx context.Context, fn func() (any, error)) (any, error) {
	if fn == nil {
		return nil, ErrInvalidArgument
	}
	j, err := rt.call(ctx, fn, nil)
	if err != nil {
		return nil, err
	}
	v, jerr := j.val, j.err
	rt.recycle(j)
	return v, jerr
}

// Do runs fn on rt's worker and returns its typed result: the generic form of
// Runtime.Call, with the same rules. Its only allocation is the record that
// carries fn and its typed result to the worker (one per call; Call's record
// is reused and costs none), plus a channel when the goroutine parks in Go
// without the lane.
func Do[T any](rt *Runtime, fn func() (T, error)) (T, error) {
	return doCtx(context.Background(), rt, fn)
}

// DoCtx is Do with a context, with the rules of Runtime.CallCtx.
func DoCtx[T any](ctx context.Context, rt *Runtime, fn func() (T, error)) (T, error) {
	return doCtx(ctx, rt, fn)
}

func doCtx[T any](ctx context.Context, rt *Runtime, fn func() (T, error)) (T, error) {
	var zero T
	if fn == nil {
		return zero, ErrInvalidArgument
	}
	t := &typed[T]{fn: fn}
	j, err := rt.call(ctx, nil, t)
	if err != nil {
		return zero, err
	}
	jerr := j.err
	rt.recycle(j)
	return t.val, jerr
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// recycle returns a finished synchronous job to the pool.
func (rt *Runtime) recycle(j *job) {
	if !j.async {
		putSyncJob(j)
	}
}

// call runs a job synchronously and returns it, finished; the error is the
// runtime's (the job's own error is in the job).
func (rt *Runtime) call(ctx context.Context, fn func() (any, error), t typedFn) (*job, error) {
	var done <-chan struct{}
	if ctx != nil {
		done = ctx.Done()
		if err := ctx.Err(); err != nil {
			return nil, err
		}
	}
	onWorker := onWorkerThread()
	if onWorker && done != nil && !rt.OnWorker() {
		// A job of another runtime waits for this one: through a Future, whose
		// Wait honours ctx's deadline there and keeps serving the calls that
		// other workers make to the waiting runtime.
		return rt.callViaFuture(ctx, fn, t)
	}
	useC := onWorker
	if !onWorker && done == nil {
		// Wait in C (the fastest hand-off) if a place is free and the lane is
		// idle; else join the lane, if no asynchronous job could be overtaken.
		laneOK := rt.asyncPending.Load() == 0
		if (!laneOK || rt.lane.inFlight()+runnableGoroutines() < laneMinCallers) && acquireCWait() {
			useC = true
		} else if laneOK {
			if j, err, ok := rt.laneCall(fn, t); ok {
				return j, err
			}
			// The lane is full: the C path below, with its backpressure.
		}
	}
	if useC {
		j := getSyncJob(rt, fn, t)
		st, err := rt.callInC(j)
		if !onWorker {
			releaseCWait()
		}
		if err == nil {
			return j, nil
		}
		putSyncJob(j)
		if st != StatusQueueFull || rt.nonblocking || onWorker {
			return nil, err
		}
		// The queue is full: wait for room below, parked in Go.
	}
	j := &job{fn: fn, typed: t, rt: rt, done: make(chan struct{})}
	cf, err := rt.submit(ctx, j, done != nil)
	if err != nil {
		return nil, err
	}
	if done == nil {
		<-j.done
		return j, nil
	}
	defer C.qthr_future_free(cf)
	// Future.wait: briefly in C (the fast hand-off), then a select on ctx.
	if (&Future{j: j, rt: rt, c: cf}).wait(ctx) == nil {
		return j, nil
	}
	// Withdraw it if still queued; interrupt it if running. Either way the
	// caller is not kept waiting.
	if Status(C.qthrgo_stop(cf)) != StatusOK {
		select {
		case <-j.done:
			return j, nil // finished meanwhile: its result is as good as any
		default:
		}
	}
	return nil, ctx.Err()
}

// callInC runs j with qthr_call: the caller's thread waits inside the library.
func (rt *Runtime) callInC(j *job) (Status, error) {
	arg := slotGet(j)
	if arg == 0 {
		return StatusNoMemory, ErrNoMemory
	}
	j.arg = arg
	j.state.Store(jobQueued)
	if !rt.g.enter() {
		slotPut(arg)
		return StatusShutdown, ErrShutdown
	}
	st := Status(C.qthrgo_call(rt.c, C.uintptr_t(arg)))
	rt.g.exit()
	runtime.KeepAlive(rt)
	slotPut(arg)
	if st != StatusOK {
		return st, statusErr(st)
	}
	if j.state.Load() != jobDone {
		return StatusPanic, fmt.Errorf("qthr: call returned before its job ran: %w", ErrInternal)
	}
	return st, nil
}

func (rt *Runtime) callViaFuture(ctx context.Context, fn func() (any, error), t typedFn) (*job, error) {
	j := &job{fn: fn, typed: t, rt: rt, done: make(chan struct{})}
	cf, err := rt.submit(ctx, j, true)
	if err != nil {
		return nil, err
	}
	f := newFuture(rt, j, cf)
	if _, err := f.Wait(ctx); err != nil && !j.resolved() {
		return nil, err
	}
	return j, nil
}

// resolved reports whether the job ran or will never run.
func (j *job) resolved() bool {
	s := j.state.Load()
	return s == jobDone || s == jobNotRun
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
	var retry time.Duration
	for {
		if !rt.g.enter() {
			return nil, ErrShutdown
		}
		st := Status(C.qthrgo_call_c(rt.c, fn, arg, &res))
		rt.g.exit()
		runtime.KeepAlive(rt)
		if st == StatusQueueFull && !rt.nonblocking && !onWorkerThread() {
			w := rt.room.register()
			if err := rt.room.wait(context.Background(), w, rt.closing, &retry); err != nil {
				return nil, err
			}
			continue
		}
		if st != StatusOK {
			return nil, statusErr(st)
		}
		return res, nil
	}
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

// Shutdown stops the runtime: new submits fail with ErrShutdown at once, and
// so do goroutines waiting for room; queued jobs run (Drain) or resolve as
// ErrCancelled (Cancel: once any submit has returned ErrShutdown, no job
// queued before it starts), a running job finishes, OnStop runs on the worker
// and the worker thread is joined. No Future is left pending. Idempotent; safe
// from any goroutine except a job of this runtime, where it returns
// ErrWouldDeadlock and does nothing. Close still has to release the runtime.
func (rt *Runtime) Shutdown(mode ShutdownMode) error {
	if mode != Drain && mode != Cancel {
		return fmt.Errorf("qthr: Shutdown mode %d: %w", mode, ErrInvalidArgument)
	}
	if !rt.g.enter() {
		return nil
	}
	defer rt.g.exit()
	if C.qthr_on_worker(rt.c) != 0 {
		return ErrWouldDeadlock
	}
	rt.laneShutdown(mode)
	// The library refuses new jobs (and with Cancel resolves the queued ones)
	// before any goroutine waiting for room is told: one that got
	// ErrShutdown never sees a queued job start afterwards.
	began := Status(C.qthr_shutdown_begin(rt.c, C.qthr_shutdown_mode(mode)))
	rt.closeOnce.Do(func() { close(rt.closing) })
	if began != StatusOK {
		return statusErr(began) // ErrForked: no worker to wait for
	}
	st := Status(C.qthr_shutdown(rt.c, C.qthr_shutdown_mode(mode)))
	runtime.KeepAlive(rt)
	if st == StatusOK {
		_, _ = rt.hooks.sync() // OnStop's effects happen before Shutdown returns
	}
	return statusErr(st)
}

// Close shuts the runtime down with Drain (unless Shutdown already did) and
// frees it. Idempotent: later calls return nil. From a job of this runtime it
// returns ErrWouldDeadlock and does nothing. Stats keeps returning the final
// counters.
func (rt *Runtime) Close() error {
	rt.closeMu.Lock()
	defer rt.closeMu.Unlock()
	if err := rt.Shutdown(Drain); err != nil {
		if errors.Is(err, ErrWouldDeadlock) {
			return err
		}
		// Anything else (ErrForked): still release what can be released.
	}
	if rt.g.closed() {
		return nil
	}
	if rt.g.enter() {
		if s, ok := rt.stats(); ok {
			rt.final.Store(&s)
		}
		rt.g.exit()
	}
	if !rt.g.close() {
		return nil
	}
	rt.cleanup.Stop()
	rtResources{c: rt.c, hooksH: rt.hooksH}.release()
	runtime.KeepAlive(rt)
	return nil
}
