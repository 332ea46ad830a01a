package tests

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	qthr "github.com/qthr/qthr/bindings/go"
)

func TestNonblockingQueueFull(t *testing.T) {
	rt := newRT(t, qthr.Config{QueueCapacity: 4, Nonblocking: true})
	b := block(t, rt)
	var err error
	var futs []*qthr.Future
	for i := 0; i < 100; i++ {
		var f *qthr.Future
		f, err = rt.Submit(func() (any, error) { return nil, nil })
		if err != nil {
			break
		}
		futs = append(futs, f)
	}
	if err != qthr.ErrQueueFull || !errors.Is(err, qthr.ErrQueueFull) {
		t.Fatalf("Submit to a full nonblocking queue = %v (after %d)", err, len(futs))
	}
	var se *qthr.StatusError
	if !errors.As(err, &se) || se.Status != qthr.StatusQueueFull {
		t.Fatalf("not a StatusError: %v", err)
	}
	if len(futs) < 4 {
		t.Fatalf("only %d jobs fit in a queue of 4", len(futs))
	}
	b.Release()
	for _, f := range futs {
		if _, err := wait(t, f); err != nil {
			t.Fatal(err)
		}
	}
}

func TestSubmitFromWorkerToOwnFullQueue(t *testing.T) {
	rt := newRT(t, qthr.Config{QueueCapacity: 2})
	_, err := rt.Call(func() (any, error) {
		var futs []*qthr.Future
		for i := 0; i < 100; i++ {
			f, err := rt.Submit(func() (any, error) { return nil, nil })
			if err != nil {
				if len(futs) < 2 {
					return nil, fmt.Errorf("only %d fit", len(futs))
				}
				return nil, err
			}
			futs = append(futs, f)
		}
		return nil, nil
	})
	if !errors.Is(err, qthr.ErrQueueFull) {
		t.Fatalf("submit from the worker to its own full queue = %v; want ErrQueueFull, never a wait", err)
	}
}

func threads(t *testing.T) int {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Skip("no /proc/self/status")
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) == 2 && f[0] == "Threads:" {
			n, _ := strconv.Atoi(f[1])
			return n
		}
	}
	t.Skip("no Threads line")
	return 0
}

// Many goroutines blocked in Call do not each hold an OS thread.
func TestManyBlockedCallersStayCheap(t *testing.T) {
	rt := newRT(t, qthr.Config{QueueCapacity: 1024})
	b := block(t, rt)
	before := threads(t)
	const callers = 400
	var wg sync.WaitGroup
	var ok atomic.Int64
	var order sync.Map
	for i := 0; i < callers; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			v, err := rt.Call(func() (any, error) { return i, nil })
			if err == nil && v == i {
				ok.Add(1)
			}
			order.Store(i, true)
		}(i)
	}
	deadline := time.Now().Add(20 * time.Second)
	for rt.Stats().QueueLen < callers && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if q := rt.Stats().QueueLen; q < callers {
		t.Fatalf("only %d of %d calls queued", q, callers)
	}
	during := threads(t)
	t.Logf("threads: %d before, %d with %d callers blocked", before, during, callers)
	b.Release()
	wg.Wait()
	if ok.Load() != callers {
		t.Fatalf("%d of %d calls returned their own result", ok.Load(), callers)
	}
	if during-before > 16 {
		t.Fatalf("%d callers blocked in Call made %d threads (%d before)", callers, during, before)
	}
}

// fill blocks the worker and fills the queue of rt (capacity n) with jobs
// that count into ran; it returns the blocker and the queued futures.
func fill(t *testing.T, rt *qthr.Runtime, n int, ran *atomic.Int64) (*blocker, []*qthr.Future) {
	t.Helper()
	b := block(t, rt)
	var futs []*qthr.Future
	for i := 0; i < n; i++ {
		f, err := rt.Submit(func() (any, error) { ran.Add(1); return nil, nil })
		if err != nil {
			t.Fatalf("filling the queue: %v", err)
		}
		futs = append(futs, f)
	}
	return b, futs
}

// 300 goroutines waiting for room in a full queue park in Go: they add no OS
// threads (a blocking submit in C would hold one thread each), and with
// SetMaxThreads close above the count the process survives.
func TestBlockedSubmittersHoldNoThreads(t *testing.T) {
	const capacity, submitters = 8, 300
	rt := newRT(t, qthr.Config{QueueCapacity: capacity})
	var ran atomic.Int64
	b, queued := fill(t, rt, capacity, &ran)
	before := threads(t)
	defer debug.SetMaxThreads(debug.SetMaxThreads(before + 64))

	var wg sync.WaitGroup
	var entered atomic.Int64
	results := make([]any, submitters)
	errs := make([]error, submitters)
	for i := 0; i < submitters; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			entered.Add(1)
			switch i % 3 {
			case 0:
				f, err := rt.Submit(func() (any, error) { ran.Add(1); return i, nil })
				if err == nil {
					results[i], err = f.Wait(context.Background())
				}
				errs[i] = err
			case 1:
				results[i], errs[i] = rt.Call(func() (any, error) { ran.Add(1); return i, nil })
			case 2:
				results[i], errs[i] = qthr.Do(rt, func() (int, error) { ran.Add(1); return i, nil })
			}
		}(i)
	}
	waitFor(t, func() bool { return entered.Load() == submitters })
	time.Sleep(100 * time.Millisecond) // let them all reach the wait for room
	if st := rt.Stats(); st.QueueLen != capacity || st.Completed != 0 {
		t.Fatalf("while blocked: %+v", st)
	}
	during := threads(t)
	t.Logf("threads: %d before, %d with %d submitters waiting for room", before, during, submitters)
	if during-before > 16 {
		t.Fatalf("%d goroutines waiting for room made %d more OS threads", submitters, during-before)
	}
	b.Release()
	wg.Wait()
	for i := 0; i < submitters; i++ {
		if errs[i] != nil || results[i] != i {
			t.Fatalf("submitter %d: %v, %v", i, results[i], errs[i])
		}
	}
	for _, f := range queued {
		if _, err := wait(t, f); err != nil {
			t.Fatal(err)
		}
	}
	if got := ran.Load(); got != capacity+submitters {
		t.Fatalf("%d jobs ran, want %d", got, capacity+submitters)
	}
}

func TestWaitingForRoomHonoursContextAndShutdown(t *testing.T) {
	rt := newRT(t, qthr.Config{QueueCapacity: 2})
	var ran atomic.Int64
	b, _ := fill(t, rt, 2, &ran)
	submitted := rt.Stats().Submitted

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	if f, err := rt.SubmitCtx(ctx, func() (any, error) { ran.Add(100); return nil, nil }); f != nil || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("SubmitCtx to a full queue = %v, %v; want DeadlineExceeded", f, err)
	}
	ctx2, cancel2 := context.WithCancel(context.Background())
	go func() { time.Sleep(20 * time.Millisecond); cancel2() }()
	if _, err := rt.CallCtx(ctx2, func() (any, error) { ran.Add(100); return nil, nil }); !errors.Is(err, context.Canceled) {
		t.Fatalf("CallCtx to a full queue = %v; want Canceled", err)
	}
	if _, err := qthr.DoCtx(ctx2, rt, func() (int, error) { ran.Add(100); return 0, nil }); !errors.Is(err, context.Canceled) {
		t.Fatalf("DoCtx with a cancelled ctx = %v", err)
	}
	if st := rt.Stats(); st.Submitted != submitted {
		t.Fatalf("a submit that gave up queued something: %+v (was %d)", st, submitted)
	}

	// Goroutines still waiting for room get ErrShutdown when Shutdown begins.
	waiting := make(chan error, 3)
	go func() { _, err := rt.Submit(func() (any, error) { return nil, nil }); waiting <- err }()
	go func() { _, err := rt.Call(func() (any, error) { return nil, nil }); waiting <- err }()
	go func() { waiting <- rt.Post(func() error { return nil }) }()
	time.Sleep(20 * time.Millisecond)
	shut := make(chan error, 1)
	go func() { shut <- rt.Shutdown(qthr.Cancel) }()
	for i := 0; i < 3; i++ {
		select {
		case err := <-waiting:
			if !errors.Is(err, qthr.ErrShutdown) && !errors.Is(err, qthr.ErrCancelled) {
				t.Fatalf("waiting for room during Shutdown: %v", err)
			}
		case <-time.After(20 * time.Second):
			t.Fatal("a goroutine waiting for room was not released by Shutdown")
		}
	}
	b.Release()
	if err := <-shut; err != nil {
		t.Fatal(err)
	}
	if ran.Load() != 0 {
		t.Fatalf("jobs ran: %d", ran.Load())
	}
}
