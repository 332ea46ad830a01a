package qthr_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	qthr "github.com/qthr/qthr/bindings/go"
	"github.com/qthr/qthr/bindings/go/internal/ctest"
)

func Example_runtime() {
	var engine map[string]int // thread-affine state: only ever touched on the worker
	rt, err := qthr.New(qthr.Config{
		ThreadName: "engine",
		OnStart:    func() error { engine = map[string]int{}; return nil },
		OnStop:     func() { engine = nil },
	})
	if err != nil {
		panic(err)
	}
	defer rt.Close()

	// Synchronous and typed.
	n, _ := qthr.Do(rt, func() (int, error) { engine["a"]++; return engine["a"], nil })
	// Asynchronous, with a deadline.
	fut, _ := rt.Submit(func() (any, error) { engine["a"]++; return engine["a"], nil })
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	v, err := fut.Wait(ctx)
	fmt.Println(n, v, err)
	// A panic comes back as an error.
	_, err = rt.Call(func() (any, error) { panic("oops") })
	var pe *qthr.PanicError
	fmt.Println(errors.As(err, &pe), pe.Value)
	// Output:
	// 1 2 <nil>
	// true oops
}

// New returns once OnStart has run on the worker; its error fails New.
func ExampleNew() {
	errNoLicence := errors.New("no licence")
	rt, err := qthr.New(qthr.Config{OnStart: func() error { return errNoLicence }})
	fmt.Println(rt == nil, errors.Is(err, errNoLicence), errors.Is(err, qthr.ErrStartFailed))
	// Output: true true true
}

func ExampleRuntime_Call() {
	rt, _ := qthr.New(qthr.Config{})
	defer rt.Close()
	v, err := rt.Call(func() (any, error) { return "on the worker", nil })
	fmt.Println(v, err)
	// Output: on the worker <nil>
}

// CallCtx gives up when ctx ends: a queued job is withdrawn, a running one is
// interrupted (Config.OnInterrupt) and left to finish on its own.
func ExampleRuntime_CallCtx() {
	rt, _ := qthr.New(qthr.Config{})
	defer rt.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	release := make(chan struct{})
	_, err := rt.CallCtx(ctx, func() (any, error) { <-release; return nil, nil })
	fmt.Println(err)
	close(release)
	// Output: context deadline exceeded
}

func ExampleDo() {
	rt, _ := qthr.New(qthr.Config{})
	defer rt.Close()
	n, err := qthr.Do(rt, func() (int, error) { return 6 * 7, nil })
	fmt.Println(n, err)
	// Output: 42 <nil>
}

func ExampleDoCtx() {
	rt, _ := qthr.New(qthr.Config{})
	defer rt.Close()
	ctx, cancel := context.WithCancel(context.Background())
	s, err := qthr.DoCtx(ctx, rt, func() (string, error) { return "done", nil })
	fmt.Println(s, err)
	cancel()
	s, err = qthr.DoCtx(ctx, rt, func() (string, error) { return "never", nil })
	fmt.Printf("%q %v\n", s, err)
	// Output:
	// done <nil>
	// "" context canceled
}

// CallC runs a C function (a qthr_fn) on the worker without entering Go there.
// Here the C function comes from a test helper package; in a program it would
// be a function of the engine's library, e.g. unsafe.Pointer(C.engine_step).
func ExampleRuntime_CallC() {
	rt, _ := qthr.New(qthr.Config{})
	defer rt.Close()
	p, err := rt.CallC(ctest.AddOne(), ctest.IntArg(41))
	fmt.Println(uintptr(p), err)
	// Output: 42 <nil>
}

func ExampleRuntime_Submit() {
	rt, _ := qthr.New(qthr.Config{})
	defer rt.Close()
	fut, err := rt.Submit(func() (any, error) { return "later", nil })
	if err != nil {
		panic(err)
	}
	<-fut.Done()
	v, err := fut.Wait(context.Background())
	fmt.Println(v, err)
	// Output: later <nil>
}

// SubmitCtx waits for room in a full queue only as long as ctx lasts.
func ExampleRuntime_SubmitCtx() {
	rt, _ := qthr.New(qthr.Config{QueueCapacity: 1})
	defer rt.Close()
	release := make(chan struct{})
	started := make(chan struct{})
	_, _ = rt.Submit(func() (any, error) { close(started); <-release; return nil, nil })
	<-started
	_, _ = rt.Submit(func() (any, error) { return nil, nil }) // fills the queue
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	_, err := rt.SubmitCtx(ctx, func() (any, error) { return nil, nil })
	fmt.Println(err)
	close(release)
	// Output: context deadline exceeded
}

func ExampleSubmitTyped() {
	rt, _ := qthr.New(qthr.Config{})
	defer rt.Close()
	fut, err := qthr.SubmitTyped(rt, func() ([]string, error) { return []string{"a", "b"}, nil })
	if err != nil {
		panic(err)
	}
	rows, err := fut.Wait(context.Background()) // []string, not any
	fmt.Println(len(rows), rows[1], err)
	// Output: 2 b <nil>
}

func ExampleFutureOf_Wait() {
	rt, _ := qthr.New(qthr.Config{})
	defer rt.Close()
	fut, _ := qthr.SubmitTyped(rt, func() (float64, error) { return 2.5, nil })
	x, err := fut.Wait(context.Background())
	fmt.Println(x*2, err)
	// Output: 5 <nil>
}

// Wait returns ctx.Err() when ctx ends first; the Future stays valid.
func ExampleFuture_Wait() {
	rt, _ := qthr.New(qthr.Config{})
	defer rt.Close()
	release := make(chan struct{})
	fut, _ := rt.Submit(func() (any, error) { <-release; return "finally", nil })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	_, err := fut.Wait(ctx)
	fmt.Println(err)
	close(release)
	v, err := fut.Wait(context.Background())
	fmt.Println(v, err)
	// Output:
	// context deadline exceeded
	// finally <nil>
}

func ExampleFuture_Cancel() {
	rt, _ := qthr.New(qthr.Config{})
	defer rt.Close()
	release := make(chan struct{})
	started := make(chan struct{})
	_, _ = rt.Submit(func() (any, error) { close(started); <-release; return nil, nil })
	<-started
	queued, _ := rt.Submit(func() (any, error) { return "never runs", nil })
	fmt.Println(queued.Cancel())
	_, err := queued.Wait(context.Background())
	fmt.Println(err == qthr.ErrCancelled)
	close(release)
	// Output:
	// true
	// true
}

// Post forgets the job; what it returns is logged (log/slog), not returned.
func ExampleRuntime_Post() {
	rt, _ := qthr.New(qthr.Config{})
	done := make(chan struct{})
	err := rt.Post(func() error { close(done); return nil })
	<-done
	fmt.Println(err)
	rt.Close()
	// Output: <nil>
}

// Shutdown(Cancel) drops the queued jobs; a running job finishes.
func ExampleRuntime_Shutdown() {
	rt, _ := qthr.New(qthr.Config{})
	defer rt.Close()
	started := make(chan struct{})
	running, _ := rt.Submit(func() (any, error) { close(started); time.Sleep(10 * time.Millisecond); return "finished", nil })
	<-started
	queued, _ := rt.Submit(func() (any, error) { return "never", nil })
	fmt.Println(rt.Shutdown(qthr.Cancel))
	v, _ := running.Wait(context.Background())
	_, err := queued.Wait(context.Background())
	fmt.Println(v, err == qthr.ErrCancelled)
	_, err = rt.Call(func() (any, error) { return nil, nil })
	fmt.Println(err == qthr.ErrShutdown)
	// Output:
	// <nil>
	// finished true
	// true
}

// Close drains the queue, runs OnStop on the worker and frees the runtime;
// Stats still gives the final counters.
func ExampleRuntime_Close() {
	rt, _ := qthr.New(qthr.Config{OnStop: func() { fmt.Println("OnStop") }})
	for i := 0; i < 3; i++ {
		_ = rt.Post(func() error { return nil })
	}
	fmt.Println(rt.Close())
	fmt.Println(rt.Stats().Completed)
	// Output:
	// OnStop
	// <nil>
	// 3
}

// A deadline to start by: a job still queued when it passes never runs.
func ExampleRuntime_SubmitOpts() {
	rt, _ := qthr.New(qthr.Config{})
	defer rt.Close()
	release := make(chan struct{})
	started := make(chan struct{})
	_, _ = rt.Submit(func() (any, error) { close(started); <-release; return nil, nil })
	<-started
	late, _ := rt.SubmitOpts(func() (any, error) { return "too late", nil },
		qthr.SubmitOptions{Deadline: 10 * time.Millisecond})
	urgent, _ := rt.SubmitOpts(func() (any, error) { return "first", nil }, qthr.SubmitOptions{Urgent: true})
	_, err := late.Wait(context.Background()) // returns once the deadline passed
	fmt.Println(errors.Is(err, qthr.ErrExpired))
	close(release)
	v, _ := urgent.Wait(context.Background())
	fmt.Println(v)
	// Output:
	// true
	// first
}

// OnInterrupt asks the engine to stop the running job (here: a flag it polls).
func ExampleFuture_Interrupt() {
	var stop atomic.Bool
	rt, _ := qthr.New(qthr.Config{OnInterrupt: func() { stop.Store(true) }})
	defer rt.Close()
	running := make(chan struct{})
	fut, _ := rt.Submit(func() (any, error) {
		close(running)
		for !stop.Load() {
			time.Sleep(time.Millisecond)
		}
		return "stopped early", nil
	})
	<-running
	fmt.Println(fut.Interrupt())
	v, _ := fut.Wait(context.Background())
	fmt.Println(v)
	// Output:
	// true
	// stopped early
}
