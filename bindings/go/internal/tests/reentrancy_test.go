package tests

import (
	"context"
	"errors"
	"fmt"
	"syscall"
	"testing"
	"time"

	qthr "github.com/qthr/qthr/bindings/go"
)

func TestReentrancy(t *testing.T) {
	rt := newRT(t, qthr.Config{})
	outer, _ := qthr.Do(rt, func() (int, error) { return syscall.Gettid(), nil })
	v, err := rt.Call(func() (any, error) {
		if !rt.OnWorker() {
			return nil, errors.New("not on worker")
		}
		// Nested Call runs inline.
		inner, err := rt.Call(func() (any, error) {
			n, err := qthr.Do(rt, func() (int, error) { return syscall.Gettid(), nil })
			return n, err
		})
		if err != nil {
			return nil, err
		}
		if inner != outer {
			return nil, fmt.Errorf("nested call ran on %v, worker is %d", inner, outer)
		}
		// A future of the same runtime waited for on the worker runs inline.
		f, err := rt.Submit(func() (any, error) { return "queued", nil })
		if err != nil {
			return nil, err
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		qv, err := f.Wait(ctx)
		if err != nil || qv != "queued" {
			return nil, fmt.Errorf("Wait on the worker = %v, %v", qv, err)
		}
		// Shutdown and Close cannot run on the worker.
		if err := rt.Shutdown(qthr.Drain); !errors.Is(err, qthr.ErrWouldDeadlock) {
			return nil, fmt.Errorf("Shutdown on the worker = %v", err)
		}
		if err := rt.Close(); !errors.Is(err, qthr.ErrWouldDeadlock) {
			return nil, fmt.Errorf("Close on the worker = %v", err)
		}
		// A panic in a nested call stays in the nested call.
		_, err = rt.Call(func() (any, error) { panic("inner") })
		var pe *qthr.PanicError
		if !errors.As(err, &pe) {
			return nil, fmt.Errorf("nested panic = %v", err)
		}
		return "outer", nil
	})
	if err != nil || v != "outer" {
		t.Fatalf("re-entrant call = %v, %v", v, err)
	}
	// The runtime still works: Close from the worker did nothing.
	if _, err := rt.Call(func() (any, error) { return nil, nil }); err != nil {
		t.Fatal(err)
	}
}

func TestCrossRuntimeCalls(t *testing.T) {
	a := newRT(t, qthr.Config{ThreadName: "a"})
	b := newRT(t, qthr.Config{ThreadName: "b"})
	v, err := a.Call(func() (any, error) {
		if b.OnWorker() {
			return nil, errors.New("on b's worker inside a")
		}
		return qthr.Do(b, func() (bool, error) { return b.OnWorker() && !a.OnWorker(), nil })
	})
	if err != nil || v != true {
		t.Fatalf("a -> b = %v, %v", v, err)
	}
}

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
