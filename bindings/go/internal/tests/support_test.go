package tests

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	qthr "github.com/qthr/qthr/bindings/go"
	"github.com/qthr/qthr/bindings/go/internal/counters"
)

// What the files of the suite share: TestMain's leak check and the helpers
// most tests use.

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

// settledStats returns rt's counters once every accepted job is counted as
// completed or cancelled (or after 5 s, whatever they are then). Counters are
// exact only when the runtime is quiescent: a caller learns of its job's end
// from inside the job, a moment before the library counts it as completed.
func settledStats(rt *qthr.Runtime) qthr.Stats {
	deadline := time.Now().Add(5 * time.Second)
	for {
		st := rt.Stats()
		if (st.Submitted == st.Completed+st.Cancelled && st.QueueLen == 0) || time.Now().After(deadline) {
			return st
		}
		time.Sleep(time.Millisecond)
	}
}
