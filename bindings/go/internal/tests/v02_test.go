package tests

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	qthr "github.com/qthr/qthr/bindings/go"
)

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

func TestConfigErrorsNameTheirCause(t *testing.T) {
	for _, c := range []int{-1, 1<<24 + 1} {
		_, err := qthr.New(qthr.Config{QueueCapacity: c})
		if !errors.Is(err, qthr.ErrInvalidArgument) || !strings.Contains(err.Error(), "QueueCapacity") ||
			!strings.Contains(err.Error(), fmt.Sprint(c)) {
			t.Fatalf("QueueCapacity %d: %v", c, err)
		}
	}
	_, err := qthr.New(qthr.Config{PinToCPU: true, CPU: 100000})
	if !errors.Is(err, qthr.ErrStartFailed) || !errors.Is(err, syscall.EINVAL) || !strings.Contains(err.Error(), "CPU 100000") {
		t.Fatalf("pinning to CPU 100000: %v", err)
	}
	_, err = qthr.New(qthr.Config{PinToCPU: true, CPU: 1000})
	if !errors.Is(err, qthr.ErrStartFailed) || !strings.Contains(err.Error(), "CPU 1000") || !strings.Contains(err.Error(), "sched_setaffinity") {
		t.Fatalf("pinning to CPU 1000: %v", err)
	}
	_, err = qthr.New(qthr.Config{ThreadName: "a\x00b"})
	if !errors.Is(err, qthr.ErrInvalidArgument) || !strings.Contains(err.Error(), "ThreadName") {
		t.Fatalf("ThreadName with NUL: %v", err)
	}
	if err := newRT(t, qthr.Config{}).Shutdown(7); !errors.Is(err, qthr.ErrInvalidArgument) || !strings.Contains(err.Error(), "mode 7") {
		t.Fatalf("Shutdown(7): %v", err)
	}
}

// An error New returns is not also logged at Error; records carry attributes.
func TestReturnedErrorsAreNotLoggedAtError(t *testing.T) {
	rec := &recorder{}
	qthr.SetLogger(slog.New(rec))
	qthr.SetLogLevel(slog.LevelDebug)
	defer func() {
		qthr.SetLogLevel(slog.LevelWarn)
		qthr.SetLogger(nil)
	}()
	_, err := qthr.New(qthr.Config{ThreadName: "failing", OnStart: func() error { return errors.New("no engine") }})
	if !errors.Is(err, qthr.ErrStartFailed) {
		t.Fatal(err)
	}
	rt, err := qthr.New(qthr.Config{ThreadName: "posting"})
	if err != nil {
		t.Fatal(err)
	}
	if err := rt.Post(func() error { panic("posted panic") }); err != nil {
		t.Fatal(err)
	}
	if err := rt.Close(); err != nil {
		t.Fatal(err)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	var sawPanic, sawLib bool
	for _, r := range rec.recs {
		attrs := map[string]string{}
		r.Attrs(func(a slog.Attr) bool { attrs[a.Key] = a.Value.String(); return true })
		if strings.Contains(r.Message, "qthr '") {
			t.Errorf("runtime name left in the message: %q", r.Message)
		}
		if attrs["runtime"] == "failing" {
			sawLib = true
			if r.Level >= slog.LevelError {
				t.Errorf("a failure New returned was also logged at %v: %q %v", r.Level, r.Message, attrs)
			}
		}
		if attrs["panic"] == "posted panic" {
			sawPanic = true
			if r.Level != slog.LevelError || attrs["runtime"] != "posting" || !strings.Contains(attrs["stack"], "goroutine") ||
				!strings.Contains(attrs["job"], "TestReturnedErrorsAreNotLoggedAtError") {
				t.Errorf("posted panic record: %v %q %v", r.Level, r.Message, attrs)
			}
		}
	}
	if !sawLib || !sawPanic {
		t.Fatalf("records: library's about the failed start %v, posted panic %v (%d records)", sawLib, sawPanic, len(rec.recs))
	}
}

// goexitJob is what a test that calls t.Fatal inside a job does.
func goexitJob() (any, error) {
	runtime.Goexit()
	return nil, nil
}

// A job that calls runtime.Goexit: the process cannot survive it (Go's rule
// for threads it did not create), but the job is named first.
func TestGoexitInJobIsReported(t *testing.T) {
	switch os.Getenv("QTHR_GOEXIT_CHILD") {
	case "job":
		rt, err := qthr.New(qthr.Config{ThreadName: "goexiter"})
		if err != nil {
			t.Fatal(err)
		}
		_, _ = rt.Call(goexitJob)
		t.Fatal("survived Goexit on the worker")
		return
	case "OnStart":
		_, _ = qthr.New(qthr.Config{ThreadName: "goexiter", OnStart: func() error { runtime.Goexit(); return nil }})
		t.Fatal("survived Goexit in OnStart")
		return
	}
	// Each case in a child process: Go ends it.
	for what, want := range map[string][]string{
		"job":     {"goexitJob", "Return an error from the job instead"},
		"OnStart": {"OnStart called runtime.Goexit", "Return from OnStart instead"},
	} {
		cmd := exec.Command(os.Args[0], "-test.run", "^TestGoexitInJobIsReported$", "-test.count=1")
		cmd.Env = append(os.Environ(), "QTHR_GOEXIT_CHILD="+what)
		out, err := cmd.CombinedOutput()
		if err == nil {
			t.Fatalf("%s: the child survived:\n%s", what, out)
		}
		text := string(out)
		for _, w := range append(want, "called runtime.Goexit", `runtime "goexiter"`) {
			if !strings.Contains(text, w) {
				t.Errorf("%s: the report lacks %q:\n%s", what, w, text)
			}
		}
	}
}
