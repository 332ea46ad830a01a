package tests

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	qthr "github.com/qthr/qthr/bindings/go"
)

// interruptible is an engine whose long job polls a stop flag that
// OnInterrupt sets from the interrupting goroutine.
type interruptible struct {
	stop       atomic.Bool
	calls      atomic.Int64
	hookTid    atomic.Int64
	workerTid  atomic.Int64
	jobRunning chan struct{}
}

func (e *interruptible) config() qthr.Config {
	return qthr.Config{
		OnStart:     func() error { e.workerTid.Store(int64(syscall.Gettid())); return nil },
		OnInterrupt: func() { e.calls.Add(1); e.hookTid.Store(int64(syscall.Gettid())); e.stop.Store(true) },
	}
}

// job runs until interrupted (10 s at most) and reports whether it was.
func (e *interruptible) job() (any, error) {
	e.stop.Store(false)
	close(e.jobRunning)
	deadline := time.Now().Add(10 * time.Second)
	for !e.stop.Load() {
		if time.Now().After(deadline) {
			return "not interrupted", nil
		}
		time.Sleep(100 * time.Microsecond)
	}
	return "interrupted", nil
}

func TestCallCtxInterruptsRunningJob(t *testing.T) {
	e := &interruptible{jobRunning: make(chan struct{})}
	rt := newRT(t, e.config())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	t0 := time.Now()
	v, err := rt.CallCtx(ctx, e.job)
	if v != nil || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("CallCtx past its deadline = %v, %v", v, err)
	}
	t.Logf("returned %v after the start", time.Since(t0))
	if e.calls.Load() != 1 {
		t.Fatalf("OnInterrupt called %d times", e.calls.Load())
	}
	if e.hookTid.Load() == e.workerTid.Load() {
		t.Fatal("OnInterrupt ran on the worker, not on the interrupting goroutine's thread")
	}
	// The job ended as the engine decided; the runtime goes on.
	if v, err := rt.Call(func() (any, error) { return "next", nil }); v != "next" || err != nil {
		t.Fatalf("after the interrupt: %v, %v", v, err)
	}
}

func TestFutureInterrupt(t *testing.T) {
	e := &interruptible{jobRunning: make(chan struct{})}
	rt := newRT(t, e.config())
	running, err := rt.Submit(e.job)
	if err != nil {
		t.Fatal(err)
	}
	<-e.jobRunning
	queued, err := rt.Submit(func() (any, error) { return "queued ran", nil })
	if err != nil {
		t.Fatal(err)
	}
	if !queued.Interrupt() {
		t.Fatal("Interrupt of a queued job returned false")
	}
	if _, err := wait(t, queued); err != qthr.ErrCancelled {
		t.Fatalf("interrupted queued job: %v", err)
	}
	if e.calls.Load() != 0 {
		t.Fatal("OnInterrupt called for a queued job")
	}
	if !running.Interrupt() {
		t.Fatal("Interrupt of a running job returned false")
	}
	if v, err := wait(t, running); v != "interrupted" || err != nil {
		t.Fatalf("interrupted running job = %v, %v", v, err)
	}
	if running.Interrupt() {
		t.Fatal("Interrupt of a finished job returned true")
	}
	// A runtime without OnInterrupt cannot interrupt a running job.
	plain := newRT(t, qthr.Config{})
	b := block(t, plain)
	if b.fut.Interrupt() {
		t.Fatal("Interrupt of a running job without OnInterrupt returned true")
	}
	b.Release()
}

func TestSubmitOptsDeadline(t *testing.T) {
	rt := newRT(t, qthr.Config{})
	b := block(t, rt)
	var ran atomic.Bool
	f, err := rt.SubmitOpts(func() (any, error) { ran.Store(true); return nil, nil }, qthr.SubmitOptions{Deadline: 30 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	tf, err := qthr.SubmitTypedOpts(rt, func() (int, error) { ran.Store(true); return 1, nil }, qthr.SubmitOptions{Deadline: 30 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	// The waiter learns of the expiry while the worker is still busy.
	_, err = wait(t, f)
	if !errors.Is(err, qthr.ErrExpired) {
		t.Fatalf("Wait of an expired job = %v; want ErrExpired", err)
	}
	var se *qthr.StatusError
	if !errors.As(err, &se) || se.Status != qthr.StatusExpired {
		t.Fatalf("not a StatusError with StatusExpired: %#v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if n, err := tf.Wait(ctx); n != 0 || !errors.Is(err, qthr.ErrExpired) {
		t.Fatalf("typed expired job = %v, %v", n, err)
	}
	select {
	case <-b.fut.Done():
		t.Fatal("the blocker finished: the expiry was not seen while the worker was busy")
	default:
	}
	<-f.Done()
	b.Release()
	// A deadline that is met.
	ok, err := rt.SubmitOpts(func() (any, error) { return "in time", nil }, qthr.SubmitOptions{Deadline: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if v, err := wait(t, ok); v != "in time" || err != nil {
		t.Fatalf("job within its deadline = %v, %v", v, err)
	}
	if ran.Load() {
		t.Fatal("an expired job ran")
	}
	if st := settledStats(rt); st.Expired != 2 || st.Cancelled < 2 || st.Submitted != st.Completed+st.Cancelled {
		t.Fatalf("stats %+v; want 2 expired, counted in cancelled too", st)
	}
	if _, err := rt.SubmitOpts(func() (any, error) { return nil, nil }, qthr.SubmitOptions{Deadline: -time.Second}); !errors.Is(err, qthr.ErrInvalidArgument) || !strings.Contains(err.Error(), "Deadline") {
		t.Fatalf("negative deadline: %v", err)
	}
}

func TestSubmitOptsUrgent(t *testing.T) {
	rt := newRT(t, qthr.Config{QueueCapacity: 2})
	b := block(t, rt)
	var mu sync.Mutex
	var order []string
	note := func(s string) func() (any, error) {
		return func() (any, error) { mu.Lock(); order = append(order, s); mu.Unlock(); return s, nil }
	}
	a, _ := rt.Submit(note("a"))
	c, _ := rt.Submit(note("b"))
	// The main queue is full; an urgent job has room of its own.
	u1, err := rt.SubmitOpts(note("u1"), qthr.SubmitOptions{Urgent: true})
	if err != nil {
		t.Fatal(err)
	}
	u2, err := rt.SubmitOpts(note("u2"), qthr.SubmitOptions{Urgent: true, Deadline: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	b.Release()
	for _, f := range []*qthr.Future{a, c, u1, u2} {
		if _, err := wait(t, f); err != nil {
			t.Fatal(err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if got := strings.Join(order, ","); got != "u1,u2,a,b" {
		t.Fatalf("order = %s; want u1,u2,a,b", got)
	}
}
