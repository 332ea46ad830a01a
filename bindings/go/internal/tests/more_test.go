package tests

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	qthr "github.com/qthr/qthr/bindings/go"
)

func TestWaitForItselfIsAnError(t *testing.T) {
	rt := newRT(t, qthr.Config{})
	var self *qthr.Future
	ready := make(chan struct{})
	f, err := rt.Submit(func() (any, error) {
		<-ready
		return self.Wait(context.Background())
	})
	if err != nil {
		t.Fatal(err)
	}
	self = f
	close(ready)
	if _, err := wait(t, f); !errors.Is(err, qthr.ErrWouldDeadlock) {
		t.Fatalf("a job waiting for its own future = %v; want ErrWouldDeadlock", err)
	}
}

// Runtimes calling each other: a waits for b, whose job calls back into a.
// On a's worker, waiting runs a's queued jobs, so this does not deadlock.
func TestRuntimesCallingEachOther(t *testing.T) {
	a := newRT(t, qthr.Config{ThreadName: "a"})
	b := newRT(t, qthr.Config{ThreadName: "b"})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	// Through a Future waited for on a's worker.
	v, err := a.Call(func() (any, error) {
		f, err := b.Submit(func() (any, error) {
			return a.Call(func() (any, error) { return "from a", nil })
		})
		if err != nil {
			return nil, err
		}
		return f.Wait(ctx)
	})
	if err != nil || v != "from a" {
		t.Fatalf("a -> b -> a (Submit/Wait) = %v, %v", v, err)
	}
	// Through nested calls.
	n, err := qthr.Do(a, func() (int, error) {
		return qthr.Do(b, func() (int, error) {
			return qthr.Do(a, func() (int, error) { return 3, nil })
		})
	})
	if err != nil || n != 3 {
		t.Fatalf("a -> b -> a (Do) = %v, %v", n, err)
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

// Fire-and-forget jobs discarded by Shutdown(Cancel) release their handles
// (TestMain checks that no handle is left) and never run.
func TestPostCancelledByShutdown(t *testing.T) {
	rt := newRT(t, qthr.Config{})
	b := block(t, rt)
	var ran atomic.Int64
	for i := 0; i < 50; i++ {
		if err := rt.Post(func() error { ran.Add(1); return nil }); err != nil {
			t.Fatal(err)
		}
	}
	shut := make(chan error, 1)
	go func() { shut <- rt.Shutdown(qthr.Cancel) }()
	// Post no-ops until the shutdown has begun.
	probes := 0
	for {
		err := rt.Post(func() error { return nil })
		if err == qthr.ErrShutdown {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		probes++
	}
	b.Release()
	if err := <-shut; err != nil {
		t.Fatal(err)
	}
	if ran.Load() != 0 {
		t.Fatalf("%d posted jobs ran despite Shutdown(Cancel)", ran.Load())
	}
	if st := rt.Stats(); st.Cancelled != uint64(50+probes) {
		t.Fatalf("stats %+v; want %d cancelled", st, 50+probes)
	}
}

func TestPinToCPU(t *testing.T) {
	rt := newRT(t, qthr.Config{PinToCPU: true, CPU: 0})
	allowed, err := qthr.Do(rt, func() (string, error) {
		b, err := os.ReadFile("/proc/thread-self/status")
		if err != nil {
			return "", err
		}
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "Cpus_allowed_list:"); ok {
				return strings.TrimSpace(v), nil
			}
		}
		return "", errors.New("no Cpus_allowed_list")
	})
	if err != nil {
		t.Skip(err)
	}
	if allowed != "0" {
		t.Fatalf("worker pinned to CPU 0 may run on %q", allowed)
	}
	if _, err := qthr.New(qthr.Config{PinToCPU: true, CPU: 100000}); err == nil {
		t.Fatal("pinning to CPU 100000 succeeded")
	}
}

// Jobs that run during a drain, and OnStop, may still call into their runtime:
// nothing hangs, and what they get is either a result or ErrShutdown.
func TestCallsDuringShutdown(t *testing.T) {
	var rt *qthr.Runtime
	var mu sync.Mutex
	var got []string
	note := func(what string, v any, err error) {
		mu.Lock()
		defer mu.Unlock()
		switch {
		case err == nil:
			got = append(got, fmt.Sprintf("%s=%v", what, v))
		case errors.Is(err, qthr.ErrShutdown):
			got = append(got, what+"=shutdown")
		default:
			t.Errorf("%s: %v", what, err)
		}
	}
	ready := make(chan struct{})
	var err error
	rt, err = qthr.New(qthr.Config{OnStop: func() {
		<-ready
		v, err := rt.Call(func() (any, error) { return "stop", nil })
		note("onstop-call", v, err)
		_, err = rt.Submit(func() (any, error) { return nil, nil })
		note("onstop-submit", nil, err)
	}})
	if err != nil {
		t.Fatal(err)
	}
	close(ready)
	b := block(t, rt)
	for i := 0; i < 3; i++ {
		if err := rt.Post(func() error {
			v, err := rt.Call(func() (any, error) { return "inner", nil })
			note("drain-call", v, err)
			f, err := rt.Submit(func() (any, error) { return "late", nil })
			if err == nil {
				v, err = f.Wait(context.Background())
			}
			note("drain-submit", v, err)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	closed := make(chan error, 1)
	go func() { closed <- rt.Close() }()
	// Wait until Close has begun (a submit is refused), then let the jobs run.
	waitFor(t, func() bool {
		_, err := rt.Submit(func() (any, error) { return nil, nil })
		return err != nil
	})
	b.Release()
	select {
	case err := <-closed:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Close hung")
	}
	mu.Lock()
	defer mu.Unlock()
	t.Logf("%v", got)
	if len(got) != 8 {
		t.Fatalf("got %d outcomes: %v", len(got), got)
	}
}
