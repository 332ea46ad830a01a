package tests

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	qthr "github.com/qthr/qthr/bindings/go"
)

func newRT(t testing.TB, cfg qthr.Config) *qthr.Runtime {
	t.Helper()
	rt, err := qthr.New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		if err := rt.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return rt
}

// blocker occupies the worker until release is called.
type blocker struct {
	fut     *qthr.Future
	started chan struct{}
	release chan struct{}
	once    sync.Once
}

func block(t testing.TB, rt *qthr.Runtime) *blocker {
	t.Helper()
	b := &blocker{started: make(chan struct{}), release: make(chan struct{})}
	f, err := rt.Submit(func() (any, error) {
		close(b.started)
		<-b.release
		return "blocker", nil
	})
	if err != nil {
		t.Fatalf("Submit blocker: %v", err)
	}
	b.fut = f
	<-b.started
	t.Cleanup(b.Release)
	return b
}

func (b *blocker) Release() { b.once.Do(func() { close(b.release) }) }

// waitFor polls cond until it holds (20 s at most: then the test fails).
func waitFor(t testing.TB, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached within 20s")
		}
		time.Sleep(time.Millisecond)
	}
}

func wait(t testing.TB, f *qthr.Future) (any, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	v, err := f.Wait(ctx)
	if errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("future did not resolve within 30s")
	}
	return v, err
}

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

type myPanic struct{ code int }

func panicky() (any, error) { panic(myPanic{7}) }

func TestPanicsAreErrors(t *testing.T) {
	rt := newRT(t, qthr.Config{})
	tid, _ := qthr.Do(rt, func() (int, error) { return syscall.Gettid(), nil })

	fut, err := rt.Submit(panicky)
	if err != nil {
		t.Fatal(err)
	}
	_, err = wait(t, fut)
	var pe *qthr.PanicError
	if !errors.As(err, &pe) {
		t.Fatalf("Wait of a panicking job = %v; want *PanicError", err)
	}
	if v, ok := pe.Value.(myPanic); !ok || v.code != 7 {
		t.Fatalf("panic value = %#v; want myPanic{7}", pe.Value)
	}
	if !strings.Contains(string(pe.Stack), "panicky") {
		t.Fatalf("panic stack lacks the panicking function:\n%s", pe.Stack)
	}
	if _, err := rt.Call(func() (any, error) { panic("boom") }); !errors.As(err, &pe) || pe.Value != "boom" {
		t.Fatalf("Call panic = %v", err)
	}
	_, err = qthr.Do(rt, func() (int, error) {
		var m map[string]int
		//lint:ignore SA5000 the runtime error is the point
		m["x"] = 1
		return 0, nil
	})
	var re runtime.Error
	if !errors.As(err, &re) {
		t.Fatalf("Do with a runtime error panic = %v; want a runtime.Error inside", err)
	}
	if err := rt.Post(func() error { panic("posted") }); err != nil {
		t.Fatal(err)
	}
	// The worker keeps serving, on the same thread.
	for i := 0; i < 3; i++ {
		got, err := qthr.Do(rt, func() (int, error) { return syscall.Gettid(), nil })
		if err != nil || got != tid {
			t.Fatalf("after panics: tid %d, %v; want %d", got, err, tid)
		}
	}
}

func TestOnStartError(t *testing.T) {
	myErr := errors.New("engine failed to load")
	var startTid atomic.Int64
	stopped := false
	rt, err := qthr.New(qthr.Config{
		OnStart: func() error { startTid.Store(int64(syscall.Gettid())); return myErr },
		OnStop:  func() { stopped = true },
	})
	if rt != nil || err == nil {
		t.Fatalf("New = %v, %v; want an error", rt, err)
	}
	if !errors.Is(err, myErr) || !errors.Is(err, qthr.ErrStartFailed) {
		t.Fatalf("New error %v does not wrap both the OnStart error and ErrStartFailed", err)
	}
	if startTid.Load() == 0 {
		t.Fatal("OnStart did not run")
	}
	if stopped {
		t.Fatal("OnStop ran although OnStart failed")
	}
	_, err = qthr.New(qthr.Config{OnStart: func() error { panic("no engine") }})
	var pe *qthr.PanicError
	if !errors.As(err, &pe) || pe.Value != "no engine" || !errors.Is(err, qthr.ErrStartFailed) {
		t.Fatalf("New with a panicking OnStart = %v", err)
	}
	if _, err := qthr.New(qthr.Config{QueueCapacity: -1}); !errors.Is(err, qthr.ErrInvalidArgument) {
		t.Fatalf("New with a negative capacity = %v", err)
	}
}

func TestHooksRunOnWorkerInOrder(t *testing.T) {
	var mu sync.Mutex
	var events []string
	var tids []int
	note := func(s string) {
		mu.Lock()
		events = append(events, s)
		tids = append(tids, syscall.Gettid())
		mu.Unlock()
	}
	rt, err := qthr.New(qthr.Config{
		OnStart: func() error { note("start"); return nil },
		OnStop:  func() { note("stop") },
	})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		if err := rt.Post(func() error { note("job"); return nil }); err != nil {
			t.Fatal(err)
		}
	}
	if err := rt.Close(); err != nil {
		t.Fatal(err)
	}
	if err := rt.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if got := strings.Join(events, ","); got != "start,job,job,job,stop" {
		t.Fatalf("events = %s", got)
	}
	for _, id := range tids {
		if id != tids[0] {
			t.Fatalf("hooks and jobs ran on threads %v", tids)
		}
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

func TestStatsAndErrors(t *testing.T) {
	rt := newRT(t, qthr.Config{})
	for i := 0; i < 10; i++ {
		if _, err := rt.Call(func() (any, error) { return nil, nil }); err != nil {
			t.Fatal(err)
		}
	}
	st := rt.Stats()
	if st.Submitted < 10 || st.Completed < 10 || st.QueueLen != 0 || st.QueueHighWater < 1 {
		t.Fatalf("stats = %+v", st)
	}
	for s := qthr.StatusTimeout; s <= qthr.StatusExpired; s++ {
		if s.String() == "" || strings.Contains(s.String(), "unknown") {
			t.Fatalf("status %d has no string of its own: %q", s, s.String())
		}
	}
	for _, c := range []struct {
		s   qthr.Status
		err error
	}{{qthr.StatusNoMemory, qthr.ErrNoMemory}, {qthr.StatusExpired, qthr.ErrExpired}} {
		var se *qthr.StatusError
		if !errors.As(c.err, &se) || se.Status != c.s || !errors.Is(&qthr.StatusError{Status: c.s}, c.err) {
			t.Fatalf("sentinel of status %d: %#v", c.s, c.err)
		}
	}
	err := error(&qthr.StatusError{Status: qthr.StatusShutdown, Msg: "x"})
	if !errors.Is(err, qthr.ErrShutdown) || errors.Is(err, qthr.ErrCancelled) {
		t.Fatal("StatusError.Is compares statuses")
	}
	if !strings.Contains(qthr.ErrShutdown.Error(), "qthr") {
		t.Fatalf("ErrShutdown = %q", qthr.ErrShutdown.Error())
	}
}

// TestGCStress drops futures and whole runtimes and collects garbage all along:
// use-after-free of handles, C futures or runtimes would crash or corrupt results.
func TestGCStress(t *testing.T) {
	rt := newRT(t, qthr.Config{QueueCapacity: 256})
	var forgottenStopped atomic.Int64
	const forgotten = 4
	var wg sync.WaitGroup
	for g := 0; g < 6; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 1000; i++ {
				payload := make([]byte, 64+i%512)
				payload[0] = byte(i)
				f, err := rt.Submit(func() (any, error) { return payload, nil })
				if err != nil {
					t.Error(err)
					return
				}
				if i%3 == 0 {
					v, err := wait(t, f)
					if err != nil || v.([]byte)[0] != byte(i) {
						t.Errorf("result %v, %v", v, err)
						return
					}
				} // else: the Future is dropped with its job pending or done
				if i%50 == 0 {
					runtime.GC()
				}
				if i%7 == 0 {
					if f, err := rt.Submit(func() (any, error) { return i, nil }); err == nil {
						f.Cancel()
					}
				}
			}
		}(g)
	}
	// Runtimes nobody closes: the cleanup must shut them down (OnStop runs).
	for i := 0; i < forgotten; i++ {
		func() {
			r, err := qthr.New(qthr.Config{OnStop: func() { forgottenStopped.Add(1) }})
			if err != nil {
				t.Error(err)
				return
			}
			_, _ = r.Submit(func() (any, error) { return nil, nil })
		}()
	}
	wg.Wait()
	deadline := time.Now().Add(20 * time.Second)
	for forgottenStopped.Load() < forgotten && time.Now().Before(deadline) {
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
	}
	if n := forgottenStopped.Load(); n != forgotten {
		t.Fatalf("%d of %d forgotten runtimes were shut down by their cleanup", n, forgotten)
	}
	if _, err := rt.Call(func() (any, error) { return nil, nil }); err != nil {
		t.Fatal(err)
	}
}
