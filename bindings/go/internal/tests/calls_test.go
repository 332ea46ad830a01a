package tests

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"unsafe"

	qthr "github.com/qthr/qthr/bindings/go"
	"github.com/qthr/qthr/bindings/go/internal/ctest"
)

func TestSubmitWaitCallDo(t *testing.T) {
	rt := newRT(t, qthr.Config{ThreadName: "engine", QueueCapacity: 1024})
	fut, err := rt.Submit(func() (any, error) { return 42, nil })
	if err != nil {
		t.Fatal(err)
	}
	v, err := fut.Wait(context.Background())
	if err != nil || v != 42 {
		t.Fatalf("Wait = %v, %v; want 42, nil", v, err)
	}
	select {
	case <-fut.Done():
	default:
		t.Fatal("Done not closed after Wait returned")
	}
	// Wait again, from several goroutines at once: same result.
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if v, err := fut.Wait(context.Background()); v != 42 || err != nil {
				t.Errorf("second Wait = %v, %v", v, err)
			}
		}()
	}
	wg.Wait()
	//lint:ignore SA1012 a nil ctx is documented to mean context.Background()
	if v, err := fut.Wait(nil); v != 42 || err != nil {
		t.Fatalf("Wait(nil) = %v, %v", v, err)
	}

	myErr := errors.New("mine")
	if _, err := rt.Call(func() (any, error) { return nil, myErr }); err != myErr {
		t.Fatalf("Call error = %v, want %v", err, myErr)
	}
	v, err = rt.Call(func() (any, error) { return "hi", nil })
	if v != "hi" || err != nil {
		t.Fatalf("Call = %v, %v", v, err)
	}
	n, err := qthr.Do(rt, func() (int, error) { return 7, nil })
	if n != 7 || err != nil {
		t.Fatalf("Do = %v, %v", n, err)
	}
	s, err := qthr.Do(rt, func() ([]string, error) { return []string{"a"}, myErr })
	if len(s) != 1 || err != myErr {
		t.Fatalf("Do = %v, %v", s, err)
	}
	if _, err := rt.Submit(nil); !errors.Is(err, qthr.ErrInvalidArgument) {
		t.Fatalf("Submit(nil) = %v", err)
	}
	if _, err := rt.Call(nil); !errors.Is(err, qthr.ErrInvalidArgument) {
		t.Fatalf("Call(nil) = %v", err)
	}
	if rt.OnWorker() {
		t.Fatal("OnWorker true outside the worker")
	}
	on, _ := qthr.Do(rt, func() (bool, error) { return rt.OnWorker(), nil })
	if !on {
		t.Fatal("OnWorker false inside a job")
	}
	// The worker thread carries the configured name.
	tid, _ := qthr.Do(rt, func() (int, error) { return syscall.Gettid(), nil })
	comm, err := os.ReadFile(fmt.Sprintf("/proc/self/task/%d/comm", tid))
	if err == nil && strings.TrimSpace(string(comm)) != "engine" {
		t.Errorf("worker thread name = %q, want engine", strings.TrimSpace(string(comm)))
	}
}

func TestCallC(t *testing.T) {
	rt := newRT(t, qthr.Config{})
	p, err := rt.CallC(ctest.AddOne(), ctest.IntArg(41))
	if err != nil || uintptr(p) != 42 {
		t.Fatalf("CallC(add_one, 41) = %v, %v", uintptr(p), err)
	}
	tid, _ := qthr.Do(rt, func() (int, error) { return syscall.Gettid(), nil })
	p, err = rt.CallC(ctest.Gettid(), nil)
	if err != nil || int(uintptr(p)) != tid {
		t.Fatalf("CallC(gettid) = %d, %v; worker is %d", uintptr(p), err, tid)
	}
	// A counter in C memory, incremented only on the worker: no lock, nothing lost.
	c := ctest.NewCounter()
	defer c.Free()
	var wg sync.WaitGroup
	const goroutines, perG = 8, 200
	for g := 0; g < goroutines; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < perG; i++ {
				if _, err := rt.CallC(ctest.Incr(), c.Ptr()); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	p, err = rt.CallC(ctest.Noop(), nil)
	if err != nil || p != nil {
		t.Fatalf("CallC(noop) = %v, %v", p, err)
	}
	if got := c.Value(); got != goroutines*perG {
		t.Fatalf("counter = %d, want %d", got, goroutines*perG)
	}
	// From inside a job: runs inline.
	v, err := rt.Call(func() (any, error) { return rt.CallC(ctest.AddOne(), ctest.IntArg(1)) })
	if err != nil || uintptr(v.(unsafe.Pointer)) != 2 {
		t.Fatalf("nested CallC = %v, %v", v, err)
	}
	if _, err := rt.CallC(nil, nil); !errors.Is(err, qthr.ErrInvalidArgument) {
		t.Fatalf("CallC(nil) = %v", err)
	}
	if err := rt.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := rt.CallC(ctest.AddOne(), nil); err != qthr.ErrShutdown {
		t.Fatalf("CallC after Close = %v", err)
	}
}

func TestDoneChannelSelect(t *testing.T) {
	rt := newRT(t, qthr.Config{})
	b := block(t, rt)
	futs := make([]*qthr.Future, 10)
	for i := range futs {
		f, err := rt.Submit(func() (any, error) { return i, nil })
		if err != nil {
			t.Fatal(err)
		}
		futs[i] = f
	}
	for _, f := range futs {
		select {
		case <-f.Done():
			t.Fatal("resolved while the worker is blocked")
		default:
		}
	}
	b.Release()
	for i, f := range futs {
		<-f.Done()
		if v, err := f.Wait(context.Background()); v != i || err != nil {
			t.Fatalf("future %d = %v, %v", i, v, err)
		}
	}
}

func TestSubmitTyped(t *testing.T) {
	rt := newRT(t, qthr.Config{})
	f, err := qthr.SubmitTyped(rt, func() (int, error) { return 42, nil })
	if err != nil {
		t.Fatal(err)
	}
	n, err := f.Wait(context.Background())
	if n != 42 || err != nil {
		t.Fatalf("FutureOf[int].Wait = %v, %v", n, err)
	}
	<-f.Done()
	if v, err := f.Future().Wait(context.Background()); v != 42 || err != nil {
		t.Fatalf("untyped Wait of a typed job = %v, %v", v, err)
	}
	myErr := errors.New("typed failure")
	fs, err := qthr.SubmitTyped(rt, func() ([]string, error) { return []string{"partial"}, myErr })
	if err != nil {
		t.Fatal(err)
	}
	if s, err := fs.Wait(context.Background()); len(s) != 1 || err != myErr {
		t.Fatalf("typed job with an error = %v, %v", s, err)
	}
	// Cancel, Interrupt of a queued job, and a ctx that ends first.
	b := block(t, rt)
	fc, _ := qthr.SubmitTyped(rt, func() (string, error) { return "never", nil })
	fi, _ := qthr.SubmitTyped(rt, func() (string, error) { return "never", nil })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	if s, err := fc.Wait(ctx); s != "" || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("typed Wait past ctx = %q, %v", s, err)
	}
	if !fc.Cancel() || !fi.Interrupt() {
		t.Fatal("Cancel / Interrupt of a queued typed job returned false")
	}
	if s, err := fc.Wait(context.Background()); s != "" || err != qthr.ErrCancelled {
		t.Fatalf("cancelled typed job = %q, %v", s, err)
	}
	if _, err := fi.Wait(context.Background()); err != qthr.ErrCancelled {
		t.Fatalf("interrupted queued typed job = %v", err)
	}
	b.Release()
	if b.fut.Interrupt() {
		t.Fatal("Interrupt of a finished job returned true")
	}
	fp, _ := qthr.SubmitTyped(rt, func() (int, error) { panic("typed panic") })
	var pe *qthr.PanicError
	if _, err := fp.Wait(context.Background()); !errors.As(err, &pe) || pe.Value != "typed panic" {
		t.Fatalf("typed panic = %v", err)
	}
	if _, err := qthr.SubmitTyped[int](rt, nil); !errors.Is(err, qthr.ErrInvalidArgument) {
		t.Fatalf("SubmitTyped(nil) = %v", err)
	}
}

// Do's documented allocation: one record per call (Call's is reused).
func TestAllocations(t *testing.T) {
	rt := newRT(t, qthr.Config{})
	fn := func() (int, error) { return 1, nil }
	untyped := func() (any, error) { return nil, nil }
	_, _ = qthr.Do(rt, fn) // warm the pools and the job table
	_, _ = rt.Call(untyped)
	do := testing.AllocsPerRun(200, func() { _, _ = qthr.Do(rt, fn) })
	call := testing.AllocsPerRun(200, func() { _, _ = rt.Call(untyped) })
	t.Logf("allocations per call: Do %.1f, Call %.1f", do, call)
	if do > 1 || call > 0 {
		t.Fatalf("allocations per call: Do %.1f (doc: 1), Call %.1f (doc: 0)", do, call)
	}
}
