package tests

import (
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	qthr "github.com/qthr/qthr/bindings/go"
)

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
