//go:build cgo

package qthr

import (
	"context"
	"runtime"
	"runtime/metrics"
	"sync"
	"sync/atomic"
	"time"

	"github.com/qthr/qthr/bindings/go/internal/counters"
)

// The lane: synchronous calls batched into one C job.
//
// Every Go job that goes through the library's queue costs the worker one cgo
// callback, and a callback from the worker (a thread Go did not create) must
// get a P before it can run Go code; the caller meanwhile either holds an OS
// thread waiting in C (at most max(2, GOMAXPROCS) do, cwait.go) or parks on a
// channel after a cgo submit of its own. With many goroutines calling at once
// that is a P hand-off per call, and profiles at 64 goroutines showed most of
// the time in scheduler hand-offs and context switches. The lane amortises
// them: a synchronous Call / Do appends its job to a per-runtime Go queue and
// parks; ONE C job, the drainer, runs the queued jobs one after the other in a
// single callback and wakes each caller. A drainer is queued only when none
// is queued or running (decided under the lane's lock, so no job is ever left
// without one), so most calls make no cgo call but the worker-thread check.
//
// When. The lane wins only under contention: one goroutine is served far
// better by waiting in C (about 1 us) than by a park and wake-up (tens of us
// on a loaded machine), and up to 16 goroutines on 2 CPUs still are. So a
// call joins the lane if the calls already in it plus the process's runnable
// goroutines (runnableGoroutines) reach laneMinCallers, or if no place to
// wait in C is free; otherwise it waits in C. The runnable count matters
// because while calls are served in C the crowd is invisible otherwise: the
// callers waiting in C hold both Ps and the rest of them are runnable, not
// yet in a call. Once in the lane they are counted there (parked), so the
// crowd keeps it; when it thins out, calls go back to C.
//
// Order. The lane carries only synchronous calls (the caller waits for the
// result, so any later job of the same goroutine comes after it anyway), and
// only while no asynchronous job (Submit, Post, SubmitOpts) is queued and not
// yet started (Runtime.asyncPending): a goroutine's Submit followed by its
// Call must run in that order, and a lane job could overtake a job still
// queued in the library. Calls from a worker thread (re-entrant and
// cross-runtime calls) never use the lane, and neither do CallCtx / DoCtx.
//
// Fairness: a drainer runs at most laneBatch jobs per callback and then
// queues a new drainer behind whatever the library's queue holds (C jobs,
// urgent jobs, other runtimes' calls).
type lane struct {
	// Written by every call that joins the lane, under mu (and by the drainer
	// when it takes jobs).
	mu        sync.Mutex
	q         []*job // q[head:] are the queued jobs, FIFO
	head      int
	closed    bool          // Shutdown began: no job is accepted any more
	highWater uint64        // most lane jobs queued at once (under mu)
	accepted  atomic.Uint64 // lane jobs ever queued (written under mu)
	_         cacheLinePad

	// Read by the drainer and every call, written rarely.
	state      atomic.Uint32 // laneIdle, laneQueued (a drainer in the C queue), laneRunning
	cancelling atomic.Bool   // Shutdown(Cancel) began: queued jobs resolve as ErrCancelled
	capacity   int           // Config.QueueCapacity (or its default): beyond it, calls take the C path
	_          cacheLinePad

	// Stats, written by the drainer for every job (so not on the callers'
	// line): lane jobs that started, ran, or were resolved without running;
	// and the drainers, C jobs the user never submitted, which are taken out
	// of the library's counters.
	started, completed, cancelled      atomic.Uint64
	dSubmitted, dCompleted, dCancelled atomic.Uint64
}

// cacheLinePad keeps the fields before and after it on different cache lines.
type cacheLinePad [64]byte

const (
	laneIdle uint32 = iota
	laneQueued
	laneRunning
)

const (
	// laneBatch bounds the jobs one drainer runs before it lets the
	// library's queue go first.
	laneBatch = 64
	// laneTake is how many jobs the drainer takes off the lane per lock.
	laneTake = 16
)

// laneMinCallers: from this many calls in the lane plus runnable goroutines
// on, calls take the lane even when a place to wait in C is free. Measured on 2 CPUs (Call of a no-op against the channel yardstick,
// interleaved): at 16 goroutines waiting in C was better (0.44-0.86 vs
// 0.50-1.1), at 32 and 64 the lane (0.67-0.78 vs 0.89-1.03; 0.64-0.70 vs
// 1.07-1.47).
var laneMinCallers = int32(max(16, 8*runtime.GOMAXPROCS(0)))

// inFlight is the number of calls in the lane: queued, or running and not
// yet resolved. Loads only, so the check costs a call that waits in C
// (where the lane is idle and its lines stay shared) next to nothing.
func (l *lane) inFlight() int32 {
	return int32(l.accepted.Load() - l.completed.Load() - l.cancelled.Load())
}

// runnableGoroutines returns the process's runnable goroutines (those waiting
// for a P), as runtime/metrics counted them at most loadPeriod ago; 0 if the
// Go version does not count them (before Go 1.26). It is the one sign of a
// crowd of callers while they are served by waiting in C: those waiting hold
// both Ps, so the others are runnable, not yet in a call of the runtime.
func runnableGoroutines() int32 {
	now := int64(time.Since(loadBase))
	if now >= load.next.Load() && load.mu.TryLock() {
		load.next.Store(now + int64(loadPeriod))
		metrics.Read(load.sample[:])
		if v := load.sample[0].Value; v.Kind() == metrics.KindUint64 {
			load.runnable.Store(int32(min(v.Uint64(), 1<<30)))
		}
		load.mu.Unlock()
	}
	return load.runnable.Load()
}

// loadPeriod: a sample (about 100 ns, under the scheduler's lock) at most
// every 50 us.
const loadPeriod = 50 * time.Microsecond

var (
	loadBase = time.Now()
	load     struct {
		mu       sync.Mutex // held by the goroutine taking a sample
		sample   [1]metrics.Sample
		next     atomic.Int64 // time.Since(loadBase) of the next sample
		runnable atomic.Int32
	}
)

func init() { load.sample[0].Name = "/sched/goroutines/runnable:goroutines" }

// laneCall runs the synchronous job of fn / t through the lane. ok is false if
// the lane is full (the caller then takes the C path, with its backpressure).
func (rt *Runtime) laneCall(fn func() (any, error), t typedFn) (j *job, err error, ok bool) {
	l := &rt.lane
	j = getSyncJob(rt, fn, t)
	if j.wake == nil {
		j.wake = make(chan struct{}, 1)
	}
	j.state.Store(jobQueued)
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		putSyncJob(j)
		return nil, ErrShutdown, true
	}
	n := len(l.q) - l.head
	if n >= l.capacity {
		l.mu.Unlock()
		putSyncJob(j)
		return nil, nil, false
	}
	l.q = append(l.q, j)
	l.accepted.Add(1)
	l.highWater = max(l.highWater, uint64(n+1))
	start := l.state.Load() == laneIdle
	if start {
		l.state.Store(laneQueued)
	}
	l.mu.Unlock()
	if start {
		if err := rt.startDrainer(); err != nil {
			rt.laneFail(err)
		}
	}
	<-j.wake
	if j.state.Load() != jobDone {
		err := j.err
		putSyncJob(j)
		return nil, err, true
	}
	return j, nil, true
}

// startDrainer queues a drainer job in the library (waiting for room, parked
// in Go, if the queue is full; from the worker it never waits).
func (rt *Runtime) startDrainer() error {
	d := &job{fn: rt.drainFn, rt: rt, drainer: true}
	if _, err := rt.submit(context.Background(), d, false); err != nil {
		return err
	}
	rt.lane.dSubmitted.Add(1)
	return nil
}

// laneFail resolves every queued lane job with err: no drainer could be
// queued for them (the runtime is shutting down, or its queue is full and
// nonblocking), so none of them was accepted after all.
func (rt *Runtime) laneFail(err error) {
	l := &rt.lane
	l.mu.Lock()
	js := l.takeAll()
	l.accepted.Add(-uint64(len(js)))
	l.state.Store(laneIdle)
	l.mu.Unlock()
	for _, j := range js {
		j.resolveLaned(err)
	}
}

// laneCancelAll resolves every queued lane job as ErrCancelled: Shutdown(Cancel)
// treats them as the library treats its queued jobs.
func (rt *Runtime) laneCancelAll() {
	l := &rt.lane
	l.mu.Lock()
	js := l.takeAll()
	l.state.Store(laneIdle)
	l.mu.Unlock()
	l.cancelled.Add(uint64(len(js)))
	for _, j := range js {
		j.resolveLaned(ErrCancelled)
	}
}

// lockOnWorker takes l.mu for the drainer. A goroutine that blocks on a
// contended sync.Mutex parks, and the drainer is a cgo callback, locked to the
// worker thread: parking it hands its P to another thread and puts the worker
// to sleep until it gets a P back (stoplockedm / startlockedm, two thread
// switches; seen in profiles at 64 goroutines). Callers hold the lock for an
// append only, so the drainer retries for a while before it may park
// (measured: 5-10 % off a call at 64 goroutines).
func (l *lane) lockOnWorker() {
	for i := 0; i < 1000; i++ {
		if l.mu.TryLock() {
			return
		}
	}
	l.mu.Lock()
}

// takeAll removes and returns every queued job (under l.mu).
func (l *lane) takeAll() []*job {
	js := append([]*job(nil), l.q[l.head:]...)
	clear(l.q)
	l.q, l.head = l.q[:0], 0
	return js
}

// take removes up to len(buf) queued jobs into buf and returns them (under l.mu).
func (l *lane) take(buf []*job) []*job {
	end := min(l.head+len(buf), len(l.q))
	js := buf[:copy(buf, l.q[l.head:end])]
	clear(l.q[l.head:end])
	l.head = end
	if l.head == len(l.q) {
		l.q, l.head = l.q[:0], 0
	}
	return js
}

// resolveLaned resolves a lane job that will never run.
func (j *job) resolveLaned(err error) {
	j.err = err
	j.state.Store(jobNotRun)
	j.wake <- struct{}{} // the caller owns j from here on
}

// drain is the drainer's function: on the worker, it runs the lane's jobs in
// order, up to laneBatch of them, then queues its successor if jobs remain.
func (rt *Runtime) drain() {
	l := &rt.lane
	var buf [laneTake]*job
	ran := 0
	defer l.dCompleted.Add(1)
	for {
		if l.cancelling.Load() {
			rt.laneCancelAll()
			return
		}
		l.lockOnWorker()
		if len(l.q) == l.head {
			l.state.Store(laneIdle)
			l.mu.Unlock()
			return
		}
		if ran >= laneBatch {
			// Let the library's queue go first. From the worker the submit
			// never waits: on a full queue (or a shutdown, whose Drain must
			// run these jobs) keep going in this callback.
			l.state.Store(laneQueued)
			l.mu.Unlock()
			if rt.startDrainer() == nil {
				return
			}
			l.state.Store(laneRunning)
			ran = 0
			continue
		}
		l.state.Store(laneRunning)
		js := l.take(buf[:])
		l.mu.Unlock()
		counters.LaneJobs.Add(int64(len(js)))
		for i, j := range js {
			if l.cancelling.Load() {
				// Not started: resolved as Shutdown(Cancel) resolves queued jobs.
				l.cancelled.Add(uint64(len(js) - i))
				for _, k := range js[i:] {
					k.resolveLaned(ErrCancelled)
				}
				break
			}
			l.started.Add(1)
			j.state.Store(jobRunning)
			j.run()
			j.state.Store(jobDone)
			l.completed.Add(1)
			j.wake <- struct{}{} // the caller owns j from here on
		}
		clear(buf[:])
		ran += len(js)
	}
}

// laneShutdown stops the lane accepting jobs; with Cancel, queued lane jobs
// are then resolved as ErrCancelled (by the drainer, or when the library
// cancels the queued drainer), as the library does with its own queue.
func (rt *Runtime) laneShutdown(mode ShutdownMode) {
	l := &rt.lane
	if mode == Cancel {
		l.cancelling.Store(true)
	}
	l.mu.Lock()
	l.closed = true
	l.mu.Unlock()
}

// adjust folds the lane into the library's counters: drainers are not the
// user's jobs, lane jobs are.
func (l *lane) adjust(s *Stats) {
	sub := func(a, b uint64) uint64 {
		if a < b {
			return 0
		}
		return a - b
	}
	l.mu.Lock()
	highWater := l.highWater
	l.mu.Unlock()
	accepted := l.accepted.Load()
	started, cancelled := l.started.Load(), l.cancelled.Load()
	s.Submitted = sub(s.Submitted, l.dSubmitted.Load()) + accepted
	s.Completed = sub(s.Completed, l.dCompleted.Load()) + l.completed.Load()
	s.Cancelled = sub(s.Cancelled, l.dCancelled.Load()) + cancelled
	if l.state.Load() == laneQueued {
		s.QueueLen = sub(s.QueueLen, 1)
	}
	s.QueueLen += sub(accepted, started+cancelled)
	s.QueueHighWater = max(s.QueueHighWater, highWater)
}
