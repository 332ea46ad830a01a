package tests

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	qthr "github.com/qthr/qthr/bindings/go"
)

// load runs submitters until they see ErrShutdown; it returns the futures and
// how many Call/Do jobs succeeded.
func load(t *testing.T, rt *qthr.Runtime, ran *atomic.Int64, work time.Duration, stop <-chan struct{}) (wait func() ([]*qthr.Future, int64, int64)) {
	var wg sync.WaitGroup
	var mu sync.Mutex
	var futs []*qthr.Future
	var callsOK, callsCancelled atomic.Int64
	job := func() {
		if work > 0 {
			time.Sleep(work)
		}
		ran.Add(1)
	}
	for g := 0; g < 6; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; ; i++ {
				if g%2 == 0 {
					f, err := rt.Submit(func() (any, error) { job(); return i, nil })
					if errors.Is(err, qthr.ErrShutdown) {
						return
					}
					if err != nil {
						t.Errorf("Submit: %v", err)
						return
					}
					mu.Lock()
					futs = append(futs, f)
					mu.Unlock()
				} else {
					_, err := rt.Call(func() (any, error) { job(); return nil, nil })
					switch {
					case err == nil:
						callsOK.Add(1)
					case errors.Is(err, qthr.ErrShutdown):
						return
					case errors.Is(err, qthr.ErrCancelled):
						callsCancelled.Add(1)
					default:
						t.Errorf("Call: %v", err)
						return
					}
				}
				select {
				case <-stop:
					return
				default:
				}
			}
		}(g)
	}
	return func() ([]*qthr.Future, int64, int64) {
		wg.Wait()
		return futs, callsOK.Load(), callsCancelled.Load()
	}
}

func TestShutdownDrainUnderLoad(t *testing.T) {
	for i := 0; i < 8; i++ {
		t.Run(fmt.Sprint(i), shutdownDrainUnderLoad)
	}
}

func shutdownDrainUnderLoad(t *testing.T) {
	rt := newRT(t, qthr.Config{QueueCapacity: 128})
	var ran atomic.Int64
	done := load(t, rt, &ran, 0, nil)
	waitFor(t, func() bool { return ran.Load() >= 200 })
	if err := rt.Shutdown(qthr.Drain); err != nil {
		t.Fatal(err)
	}
	ranAtShutdown := ran.Load()
	futs, callsOK, callsCancelled := done()
	var ok int64
	for _, f := range futs {
		select {
		case <-f.Done():
		default:
			t.Fatal("a future is still pending after Shutdown(Drain) returned")
		}
		if _, err := f.Wait(context.Background()); err != nil {
			t.Fatalf("drained future: %v", err)
		}
		ok++
	}
	if callsCancelled != 0 {
		t.Fatalf("%d calls cancelled by a drain", callsCancelled)
	}
	if ran.Load() != ranAtShutdown || ran.Load() != ok+callsOK {
		t.Fatalf("ran %d (at shutdown %d), futures ok %d + calls ok %d", ran.Load(), ranAtShutdown, ok, callsOK)
	}
	if err := rt.Shutdown(qthr.Drain); err != nil {
		t.Fatalf("second Shutdown: %v", err)
	}
	if _, err := rt.Submit(func() (any, error) { return nil, nil }); err != qthr.ErrShutdown {
		t.Fatalf("Submit after Shutdown = %v", err)
	}
	if _, err := rt.Call(func() (any, error) { return nil, nil }); !errors.Is(err, qthr.ErrShutdown) {
		t.Fatalf("Call after Shutdown = %v", err)
	}
	st := rt.Stats()
	if st.Submitted != st.Completed+st.Cancelled || st.QueueLen != 0 {
		t.Fatalf("stats after drain: %+v", st)
	}
}

func TestShutdownCancelUnderLoad(t *testing.T) {
	for i := 0; i < 8; i++ {
		t.Run(fmt.Sprint(i), shutdownCancelUnderLoad)
	}
}

func shutdownCancelUnderLoad(t *testing.T) {
	rt := newRT(t, qthr.Config{QueueCapacity: 64})
	var ran atomic.Int64
	b := block(t, rt)
	// A queue full of jobs behind the blocker, plus submitters waiting for room.
	var queued []*qthr.Future
	for i := 0; i < 32; i++ {
		f, err := rt.Submit(func() (any, error) { ran.Add(1); return nil, nil })
		if err != nil {
			t.Fatal(err)
		}
		queued = append(queued, f)
	}
	done := load(t, rt, &ran, 20*time.Microsecond, nil)
	// The submitters are now waiting for room behind the blocker.
	waitFor(t, func() bool { return rt.Stats().QueueLen >= 60 })
	// A probe that keeps submitting: once the queue is full it waits for
	// room, and it returns when the shutdown has begun (ErrShutdown).
	probe := make(chan []*qthr.Future)
	go func() {
		var mine []*qthr.Future
		for {
			f, err := rt.Submit(func() (any, error) { ran.Add(1); return nil, nil })
			if err != nil {
				if err != qthr.ErrShutdown {
					t.Errorf("probe Submit: %v", err)
				}
				probe <- mine
				return
			}
			mine = append(mine, f)
		}
	}()
	shut := make(chan error, 1)
	go func() { shut <- rt.Shutdown(qthr.Cancel) }()
	queued = append(queued, <-probe...)
	// The shutdown has begun while the blocker still runs: everything queued
	// behind it must be cancelled.
	b.Release()
	if err := <-shut; err != nil {
		t.Fatal(err)
	}
	futs, callsOK, callsCancelled := done()
	for _, f := range queued {
		if _, err := wait(t, f); err != qthr.ErrCancelled {
			t.Fatalf("queued behind the blocker: %v; want ErrCancelled", err)
		}
	}
	var ok, cancelled int64
	for _, f := range append(futs, queued...) {
		select {
		case <-f.Done():
		default:
			t.Fatal("a future is still pending after Shutdown(Cancel) returned")
		}
		_, err := f.Wait(context.Background())
		switch {
		case err == nil:
			ok++
		case err == qthr.ErrCancelled:
			cancelled++
		default:
			t.Fatalf("future after Shutdown(Cancel): %v", err)
		}
	}
	if ran.Load() != ok+callsOK {
		t.Fatalf("ran %d, futures ok %d + calls ok %d", ran.Load(), ok, callsOK)
	}
	st := rt.Stats()
	if st.Cancelled != uint64(cancelled+callsCancelled) || st.Submitted != st.Completed+st.Cancelled {
		t.Fatalf("stats %+v; cancelled futures %d + calls %d", st, cancelled, callsCancelled)
	}
	if v, err := wait(t, b.fut); v != "blocker" || err != nil {
		t.Fatalf("the running job must finish: %v, %v", v, err)
	}
}

func TestCloseAndAfterClose(t *testing.T) {
	rt, err := qthr.New(qthr.Config{})
	if err != nil {
		t.Fatal(err)
	}
	b := block(t, rt)
	fut, err := rt.Submit(func() (any, error) { return 1, nil })
	if err != nil {
		t.Fatal(err)
	}
	closed := make(chan error, 1)
	go func() { closed <- rt.Close() }()
	time.Sleep(10 * time.Millisecond)
	b.Release()
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
	if v, err := fut.Wait(context.Background()); v != 1 || err != nil {
		t.Fatalf("job queued before Close = %v, %v (Close drains)", v, err)
	}
	if fut.Cancel() {
		t.Fatal("Cancel after Close returned true")
	}
	for i := 0; i < 2; i++ {
		if err := rt.Close(); err != nil {
			t.Fatalf("Close again: %v", err)
		}
	}
	if _, err := rt.Submit(func() (any, error) { return nil, nil }); err != qthr.ErrShutdown {
		t.Fatalf("Submit after Close = %v", err)
	}
	if _, err := rt.Call(func() (any, error) { return nil, nil }); err != qthr.ErrShutdown {
		t.Fatalf("Call after Close = %v", err)
	}
	if _, err := qthr.Do(rt, func() (int, error) { return 0, nil }); err != qthr.ErrShutdown {
		t.Fatalf("Do after Close = %v", err)
	}
	if err := rt.Post(func() error { return nil }); err != qthr.ErrShutdown {
		t.Fatalf("Post after Close = %v", err)
	}
	if rt.OnWorker() {
		t.Fatal("OnWorker after Close")
	}
	// Stats after Close: the final counters (the blocker, the job, nothing else).
	if st := rt.Stats(); st.Submitted != 2 || st.Completed != 2 || st.QueueLen != 0 {
		t.Fatalf("Stats after Close = %+v", st)
	}
	if err := rt.Shutdown(qthr.Cancel); err != nil {
		t.Fatalf("Shutdown after Close = %v", err)
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
