package tests

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"unsafe"

	qthr "github.com/qthr/qthr/bindings/go"
	"github.com/qthr/qthr/bindings/go/internal/counters"
	"github.com/qthr/qthr/bindings/go/internal/ctest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	if code == 0 {
		if n := counters.LiveSlots.Load(); n != 0 {
			fmt.Fprintf(os.Stderr, "FAIL: %d job slots leaked\n", n)
			code = 1
		}
	}
	os.Exit(code)
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

// recorder is a slog.Handler that keeps the records it gets.
type recorder struct {
	mu   sync.Mutex
	recs []slog.Record
}

func (r *recorder) Enabled(context.Context, slog.Level) bool { return true }
func (r *recorder) Handle(_ context.Context, rec slog.Record) error {
	r.mu.Lock()
	r.recs = append(r.recs, rec)
	r.mu.Unlock()
	return nil
}
func (r *recorder) WithAttrs([]slog.Attr) slog.Handler { return r }
func (r *recorder) WithGroup(string) slog.Handler      { return r }

func TestLogRecordsReachSlog(t *testing.T) {
	rec := &recorder{}
	qthr.SetLogger(slog.New(rec))
	qthr.SetLogLevel(qthr.LevelTrace)
	defer func() {
		qthr.SetLogLevel(slog.LevelWarn)
		qthr.SetLogger(nil)
	}()
	rt, err := qthr.New(qthr.Config{ThreadName: "logged"})
	if err != nil {
		t.Fatal(err)
	}
	if err := rt.Post(func() error { return errors.New("posted job failed") }); err != nil {
		t.Fatal(err)
	}
	if err := rt.Close(); err != nil {
		t.Fatal(err)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	var fromLib, fromBinding bool
	for _, r := range rec.recs {
		lib := ""
		r.Attrs(func(a slog.Attr) bool {
			if a.Key == "lib" {
				lib = a.Value.String()
			}
			return true
		})
		if lib != "qthr" {
			t.Errorf("record without lib=qthr: %q", r.Message)
		}
		attrs := map[string]string{}
		r.Attrs(func(a slog.Attr) bool { attrs[a.Key] = a.Value.String(); return true })
		if attrs["error"] == "posted job failed" {
			fromBinding = true
			if r.Level != slog.LevelWarn {
				t.Errorf("failed fire-and-forget job logged at %v", r.Level)
			}
			if attrs["runtime"] != "logged" || !strings.Contains(attrs["job"], "TestLogRecordsReachSlog") ||
				strings.Contains(r.Message, "posted job failed") {
				t.Errorf("record of the failed job: %q %v", r.Message, attrs)
			}
		} else {
			fromLib = true
		}
	}
	if !fromLib {
		t.Errorf("no record of the library itself reached slog (%d records)", len(rec.recs))
	}
	if !fromBinding {
		t.Errorf("the failed fire-and-forget job was not logged")
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
