package tests

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	qthr "github.com/qthr/qthr/bindings/go"
	"github.com/qthr/qthr/bindings/go/internal/counters"
)

// The lane (lane.go): synchronous calls of many goroutines at once are queued
// in Go and run by one C job. These tests put calls there (goroutines calling
// behind a blocker: more than the few that may wait in C) and check that
// every rule of the C path still holds.

const laneCallers = 64

// laneCalls starts laneCallers goroutines calling rt (Call and Do alternately)
// behind b and waits until all of them are queued. job runs inside each call.
// The returned function releases b and returns each call's value and error.
func laneCalls(t *testing.T, rt *qthr.Runtime, b *blocker, job func(i int) (int, error)) func() ([]any, []error) {
	t.Helper()
	vals := make([]any, laneCallers)
	errs := make([]error, laneCallers)
	var wg sync.WaitGroup
	for i := 0; i < laneCallers; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			if i%2 == 0 {
				vals[i], errs[i] = rt.Call(func() (any, error) { return job(i) })
			} else {
				vals[i], errs[i] = qthr.Do(rt, func() (int, error) { return job(i) })
			}
		}(i)
	}
	waitFor(t, func() bool { return rt.Stats().QueueLen >= laneCallers })
	return func() ([]any, []error) {
		b.Release()
		wg.Wait()
		return vals, errs
	}
}

func TestLaneRunsCallsOnTheWorker(t *testing.T) {
	rt := newRT(t, qthr.Config{})
	tid, _ := qthr.Do(rt, func() (int, error) { return syscall.Gettid(), nil })
	b := block(t, rt)
	before := counters.LaneJobs.Load()
	var wrongThread atomic.Int64
	finish := laneCalls(t, rt, b, func(i int) (int, error) {
		if syscall.Gettid() != tid {
			wrongThread.Add(1)
		}
		return i, nil
	})
	vals, errs := finish()
	for i := range vals {
		if errs[i] != nil || vals[i] != i {
			t.Fatalf("call %d = %v, %v", i, vals[i], errs[i])
		}
	}
	if n := wrongThread.Load(); n != 0 {
		t.Fatalf("%d calls ran off the worker thread", n)
	}
	if n := counters.LaneJobs.Load() - before; n < laneCallers/2 {
		t.Fatalf("only %d of %d calls went through the lane", n, laneCallers)
	}
	if _, err := wait(t, b.fut); err != nil {
		t.Fatal(err)
	}
	st := settledStats(rt)
	// The blocker, the thread-id call and the calls; no drainer counted.
	if st.Submitted != laneCallers+2 || st.Completed != st.Submitted || st.Cancelled != 0 || st.QueueLen != 0 {
		t.Fatalf("stats after lane calls: %+v", st)
	}
}

func TestLaneShutdownCancelResolvesQueuedCalls(t *testing.T) {
	rt := newRT(t, qthr.Config{})
	b := block(t, rt)
	var ran atomic.Int64
	finish := laneCalls(t, rt, b, func(i int) (int, error) { ran.Add(1); return i, nil })
	shut := make(chan error, 1)
	go func() { shut <- rt.Shutdown(qthr.Cancel) }()
	probes := shutdownBegun(t, rt)
	_, errs := finish()
	if err := <-shut; err != nil {
		t.Fatal(err)
	}
	for i, err := range errs {
		if err != qthr.ErrCancelled {
			t.Fatalf("call %d queued at Shutdown(Cancel): %v; want ErrCancelled", i, err)
		}
	}
	if n := ran.Load(); n != 0 {
		t.Fatalf("%d cancelled calls ran", n)
	}
	st := settledStats(rt)
	if st.Cancelled != laneCallers+probes || st.Submitted != st.Completed+st.Cancelled || st.QueueLen != 0 {
		t.Fatalf("stats after Shutdown(Cancel): %+v", st)
	}
}

func TestLaneShutdownDrainRunsQueuedCalls(t *testing.T) {
	rt := newRT(t, qthr.Config{})
	b := block(t, rt)
	var ran atomic.Int64
	finish := laneCalls(t, rt, b, func(i int) (int, error) { ran.Add(1); return i, nil })
	shut := make(chan error, 1)
	go func() { shut <- rt.Shutdown(qthr.Drain) }()
	probes := shutdownBegun(t, rt)
	vals, errs := finish()
	if err := <-shut; err != nil {
		t.Fatal(err)
	}
	for i := range vals {
		if errs[i] != nil || vals[i] != i {
			t.Fatalf("call %d queued at Shutdown(Drain) = %v, %v", i, vals[i], errs[i])
		}
	}
	if n := ran.Load(); n != laneCallers {
		t.Fatalf("%d of %d calls ran", n, laneCallers)
	}
	st := settledStats(rt)
	if st.Completed != laneCallers+1+probes || st.Submitted != st.Completed || st.QueueLen != 0 {
		t.Fatalf("stats after Shutdown(Drain): %+v", st)
	}
}

// shutdownBegun waits until Shutdown has begun (a Submit fails with
// ErrShutdown; the ones before were queued: it returns how many), then checks
// that a call fails at once too.
func shutdownBegun(t *testing.T, rt *qthr.Runtime) uint64 {
	t.Helper()
	var probes uint64
	waitFor(t, func() bool {
		_, err := rt.Submit(func() (any, error) { return nil, nil })
		if err == nil {
			probes++
		}
		return err == qthr.ErrShutdown
	})
	if _, err := rt.Call(func() (any, error) { return nil, nil }); err != qthr.ErrShutdown {
		t.Fatalf("Call after Shutdown began = %v", err)
	}
	return probes
}

// A goroutine's Submit (or Post) and its following Call run in that order,
// also while other goroutines keep the lane busy.
func TestLaneKeepsEachGoroutinesOrder(t *testing.T) {
	rt := newRT(t, qthr.Config{})
	var seq int64 // touched on the worker only
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for g := 0; g < 32; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := rt.Call(func() (any, error) { seq++; return nil, nil }); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	before := counters.LaneJobs.Load()
	for i := 0; i < 2000; i++ {
		var a, p int64
		f, err := rt.Submit(func() (any, error) { seq++; a = seq; return nil, nil })
		if err != nil {
			t.Fatal(err)
		}
		if err := rt.Post(func() error { seq++; p = seq; return nil }); err != nil {
			t.Fatal(err)
		}
		c, err := qthr.Do(rt, func() (int64, error) { seq++; return seq, nil })
		if err != nil {
			t.Fatal(err)
		}
		if _, err := wait(t, f); err != nil {
			t.Fatal(err)
		}
		if !(a < p && p < c) {
			t.Fatalf("round %d: Submit ran at %d, Post at %d, the Call after them at %d", i, a, p, c)
		}
	}
	close(stop)
	wg.Wait()
	t.Logf("lane jobs meanwhile: %d", counters.LaneJobs.Load()-before)
}

func TestLanePanicsReentrancyAndCrossRuntime(t *testing.T) {
	a := newRT(t, qthr.Config{ThreadName: "a"})
	other := newRT(t, qthr.Config{ThreadName: "b"})
	b := block(t, a)
	finish := laneCalls(t, a, b, func(i int) (int, error) {
		switch i % 4 {
		case 0:
			panic(i)
		case 1:
			// Re-entrant: runs inline on a's worker.
			v, err := qthr.Do(a, func() (int, error) { return i, nil })
			return v, err
		case 2:
			// a -> other -> a: other's job calls back into a, whose worker
			// waits in this job; that must not deadlock.
			return qthr.Do(other, func() (int, error) {
				return qthr.Do(a, func() (int, error) { return i, nil })
			})
		}
		return i, nil
	})
	vals, errs := finish()
	for i := range vals {
		if i%4 == 0 {
			var pe *qthr.PanicError
			if !errors.As(errs[i], &pe) || pe.Value != i {
				t.Fatalf("call %d panicked: got %v, %v", i, vals[i], errs[i])
			}
			continue
		}
		if errs[i] != nil || vals[i] != i {
			t.Fatalf("call %d = %v, %v", i, vals[i], errs[i])
		}
	}
}

// A nonblocking runtime with a small queue: the lane holds as many calls as
// the queue would; the rest get ErrQueueFull at once, and nothing hangs.
func TestLaneNonblockingFullQueue(t *testing.T) {
	rt := newRT(t, qthr.Config{QueueCapacity: 4, Nonblocking: true})
	b := block(t, rt)
	var wg sync.WaitGroup
	var ok, full atomic.Int64
	for i := 0; i < laneCallers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := rt.Call(func() (any, error) { return nil, nil })
			switch err {
			case nil:
				ok.Add(1)
			case qthr.ErrQueueFull:
				full.Add(1)
			default:
				t.Errorf("Call: %v", err)
			}
		}()
	}
	waitFor(t, func() bool { return full.Load() > 0 })
	time.Sleep(20 * time.Millisecond)
	b.Release()
	wg.Wait()
	if ok.Load() == 0 || ok.Load()+full.Load() != laneCallers {
		t.Fatalf("%d calls ran, %d got ErrQueueFull, of %d", ok.Load(), full.Load(), laneCallers)
	}
	st := settledStats(rt)
	if st.Submitted != st.Completed || st.QueueLen != 0 || st.Submitted != uint64(ok.Load())+1 {
		t.Fatalf("stats: %+v (ok %d)", st, ok.Load())
	}
}

// CallCtx never takes the lane, and a cancelled CallCtx among lane calls
// still returns at once.
func TestLaneCallCtxAmongLaneCalls(t *testing.T) {
	rt := newRT(t, qthr.Config{})
	b := block(t, rt)
	var ran atomic.Int64
	finish := laneCalls(t, rt, b, func(i int) (int, error) { return i, nil })
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := rt.CallCtx(ctx, func() (any, error) { ran.Add(1); return nil, nil }); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("CallCtx behind lane calls = %v", err)
	}
	vals, errs := finish()
	for i := range vals {
		if errs[i] != nil || vals[i] != i {
			t.Fatalf("call %d = %v, %v", i, vals[i], errs[i])
		}
	}
	if ran.Load() != 0 {
		t.Fatal("the withdrawn CallCtx job ran")
	}
}
