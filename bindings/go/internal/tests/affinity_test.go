package tests

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"

	qthr "github.com/qthr/qthr/bindings/go"
)

// affine is a thread-affine engine state: every access checks that it runs on
// the OS thread that created it.
type affine struct {
	tid     int
	counts  map[int]int
	total   int
	stopped bool
	bad     atomic.Int64
}

func (a *affine) check() {
	if syscall.Gettid() != a.tid {
		a.bad.Add(1)
	}
}

func TestThreadAffineStateManyGoroutines(t *testing.T) {
	a := &affine{}
	rt, err := qthr.New(qthr.Config{
		ThreadName:    "affine",
		QueueCapacity: 64, // small: submitters also wait for room
		OnStart: func() error {
			a.tid = syscall.Gettid()
			a.counts = map[int]int{}
			return nil
		},
		OnStop: func() {
			a.check()
			a.stopped = true
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	const goroutines, perG = 32, 400
	var wg sync.WaitGroup
	var posted atomic.Int64
	for g := 0; g < goroutines; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			var futs []*qthr.Future
			for i := 0; i < perG; i++ {
				inc := func() {
					a.check()
					a.counts[g]++
					a.total++
				}
				switch i % 4 {
				case 0:
					if _, err := rt.Call(func() (any, error) { inc(); return nil, nil }); err != nil {
						t.Error(err)
					}
				case 1:
					if _, err := qthr.Do(rt, func() (struct{}, error) { inc(); return struct{}{}, nil }); err != nil {
						t.Error(err)
					}
				case 2:
					f, err := rt.Submit(func() (any, error) { inc(); return g, nil })
					if err != nil {
						t.Error(err)
						continue
					}
					futs = append(futs, f)
				case 3:
					if err := rt.Post(func() error { inc(); return nil }); err != nil {
						t.Error(err)
					}
					posted.Add(1)
				}
			}
			for _, f := range futs {
				if v, err := wait(t, f); v != g || err != nil {
					t.Errorf("future = %v, %v; want %d", v, err, g)
				}
			}
		}(g)
	}
	wg.Wait()
	// Every job queued before this one has run (single FIFO).
	total, err := qthr.Do(rt, func() (int, error) {
		a.check()
		for g := 0; g < goroutines; g++ {
			if a.counts[g] != perG {
				return 0, fmt.Errorf("goroutine %d: %d increments, want %d", g, a.counts[g], perG)
			}
		}
		return a.total, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if total != goroutines*perG {
		t.Fatalf("total = %d, want %d", total, goroutines*perG)
	}
	if err := rt.Close(); err != nil {
		t.Fatal(err)
	}
	if !a.stopped {
		t.Fatal("OnStop did not run before Close returned")
	}
	if n := a.bad.Load(); n != 0 {
		t.Fatalf("%d accesses ran off the worker thread", n)
	}
	if a.tid == 0 || a.tid == syscall.Getpid() {
		t.Fatalf("OnStart ran on thread %d", a.tid)
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
