package tests

import (
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"

	qthr "github.com/qthr/qthr/bindings/go"
)

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
