package tests

import (
	"context"
	"errors"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	qthr "github.com/qthr/qthr/bindings/go"
)

func TestWaitContextTimeoutAndCancel(t *testing.T) {
	rt := newRT(t, qthr.Config{})
	b := block(t, rt)
	fut, err := rt.Submit(func() (any, error) { return "late", nil })
	if err != nil {
		t.Fatal(err)
	}
	before := runtime.NumGoroutine()
	for i := 0; i < 50; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
		v, err := fut.Wait(ctx)
		cancel()
		if v != nil || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Wait with deadline = %v, %v; want DeadlineExceeded", v, err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() { time.Sleep(5 * time.Millisecond); cancel() }()
	if _, err := fut.Wait(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Wait with cancelled ctx = %v; want Canceled", err)
	}
	// Already-done context: immediate.
	if _, err := fut.Wait(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Wait with done ctx = %v", err)
	}
	select {
	case <-fut.Done():
		t.Fatal("Done closed while the job is still queued")
	default:
	}
	// No goroutine was left behind by the timed-out waits.
	time.Sleep(10 * time.Millisecond)
	if after := runtime.NumGoroutine(); after > before+1 {
		t.Fatalf("goroutines: %d before, %d after timed-out waits", before, after)
	}
	// The future stayed valid and still resolves.
	b.Release()
	if v, err := wait(t, fut); v != "late" || err != nil {
		t.Fatalf("Wait after timeouts = %v, %v", v, err)
	}
	if v, err := wait(t, b.fut); v != "blocker" || err != nil {
		t.Fatalf("blocker = %v, %v", v, err)
	}
}

func TestCancel(t *testing.T) {
	rt := newRT(t, qthr.Config{})
	b := block(t, rt)
	var ran atomic.Bool
	fut, err := rt.Submit(func() (any, error) { ran.Store(true); return nil, nil })
	if err != nil {
		t.Fatal(err)
	}
	if b.fut.Cancel() {
		t.Fatal("Cancel of a running job returned true")
	}
	if !fut.Cancel() {
		t.Fatal("Cancel of a queued job returned false")
	}
	select {
	case <-fut.Done():
	default:
		t.Fatal("Done not closed when Cancel returned true")
	}
	if fut.Cancel() {
		t.Fatal("second Cancel returned true")
	}
	_, err = fut.Wait(context.Background())
	if err != qthr.ErrCancelled || !errors.Is(err, qthr.ErrCancelled) {
		t.Fatalf("Wait of cancelled = %v; want ErrCancelled", err)
	}
	var se *qthr.StatusError
	if !errors.As(err, &se) || se.Status != qthr.StatusCancelled || se.Msg == "" {
		t.Fatalf("errors.As StatusError: %#v", se)
	}
	b.Release()
	if _, err := wait(t, b.fut); err != nil {
		t.Fatal(err)
	}
	if b.fut.Cancel() {
		t.Fatal("Cancel of a finished job returned true")
	}
	// A job after the cancelled one runs; the cancelled one never did.
	if _, err := rt.Call(func() (any, error) { return nil, nil }); err != nil {
		t.Fatal(err)
	}
	if ran.Load() {
		t.Fatal("cancelled job ran")
	}
	if st := rt.Stats(); st.Cancelled < 1 || st.Completed < 2 {
		t.Fatalf("stats after cancel: %+v", st)
	}
}

func TestCallCtxWithdrawsQueuedJob(t *testing.T) {
	rt := newRT(t, qthr.Config{})
	b := block(t, rt)
	var ran atomic.Bool
	ctx, cancel := context.WithCancel(context.Background())
	go func() { time.Sleep(20 * time.Millisecond); cancel() }()
	t0 := time.Now()
	v, err := rt.CallCtx(ctx, func() (any, error) { ran.Store(true); return "ran", nil })
	if v != nil || !errors.Is(err, context.Canceled) {
		t.Fatalf("CallCtx of a queued job, ctx cancelled = %v, %v", v, err)
	}
	t.Logf("returned %v after the cancel", time.Since(t0)-20*time.Millisecond)
	n, err := qthr.DoCtx(ctx, rt, func() (int, error) { ran.Store(true); return 1, nil })
	if n != 0 || !errors.Is(err, context.Canceled) {
		t.Fatalf("DoCtx with a done ctx = %v, %v", n, err)
	}
	b.Release()
	if _, err := rt.Call(func() (any, error) { return nil, nil }); err != nil {
		t.Fatal(err)
	}
	if ran.Load() {
		t.Fatal("the withdrawn job ran")
	}
	if st := rt.Stats(); st.Cancelled != 1 {
		t.Fatalf("stats %+v; want 1 cancelled", st)
	}
	// A ctx that never ends: CallCtx is Call.
	v, err = rt.CallCtx(context.Background(), func() (any, error) { return "ok", nil })
	if v != "ok" || err != nil {
		t.Fatalf("CallCtx(Background) = %v, %v", v, err)
	}
	n, err = qthr.DoCtx(context.Background(), rt, func() (int, error) { return 5, nil })
	if n != 5 || err != nil {
		t.Fatalf("DoCtx(Background) = %v, %v", n, err)
	}
}

func TestCallCtxRunningJobReturnsPromptly(t *testing.T) {
	rt := newRT(t, qthr.Config{})
	release := make(chan struct{})
	finished := make(chan struct{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	v, err := rt.CallCtx(ctx, func() (any, error) {
		<-release // a long job that does not watch ctx
		close(finished)
		return "late", nil
	})
	if v != nil || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("CallCtx of a running job past its deadline = %v, %v", v, err)
	}
	select {
	case <-finished:
		t.Fatal("CallCtx waited for the job")
	default:
	}
	close(release)
	<-finished // the job finishes on its own
	if _, err := rt.Call(func() (any, error) { return nil, nil }); err != nil {
		t.Fatal(err)
	}
}
