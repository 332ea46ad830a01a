package tests

import (
	"context"
	"runtime"
	"testing"
	"time"

	qthr "github.com/qthr/qthr/bindings/go"
	"github.com/qthr/qthr/bindings/go/internal/ctest"
)

// The pattern Go programs use today for a thread-affine library: a goroutine
// locked to its OS thread with runtime.LockOSThread, fed by a channel, with a
// reply channel per call (golang.design/x/mainthread, faiface/mainthread).
type chanReply struct {
	v   any
	err error
}

type chanReq struct {
	fn    func() (any, error)
	reply chan chanReply
}

type lockedThread struct{ reqs chan chanReq }

func startLockedThread() *lockedThread {
	lt := &lockedThread{reqs: make(chan chanReq, runtime.GOMAXPROCS(0))}
	started := make(chan struct{})
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		close(started)
		for r := range lt.reqs {
			v, err := r.fn()
			r.reply <- chanReply{v, err}
		}
	}()
	<-started
	return lt
}

func (lt *lockedThread) call(fn func() (any, error)) (any, error) {
	reply := make(chan chanReply, 1)
	lt.reqs <- chanReq{fn: fn, reply: reply}
	r := <-reply
	return r.v, r.err
}

func (lt *lockedThread) stop() { close(lt.reqs) }

var sink any

func noop() (any, error) { return nil, nil }

func BenchmarkChannelLockOSThread(b *testing.B) {
	lt := startLockedThread()
	defer lt.stop()
	n := 0
	fn := func() (any, error) { n++; return nil, nil }
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		sink, _ = lt.call(fn)
	}
}

func BenchmarkCall(b *testing.B) {
	rt := newRT(b, qthr.Config{})
	n := 0
	fn := func() (any, error) { n++; return nil, nil }
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		sink, _ = rt.Call(fn)
	}
}

func BenchmarkDo(b *testing.B) {
	rt := newRT(b, qthr.Config{})
	n := 0
	fn := func() (int, error) { n++; return n, nil }
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		v, _ := qthr.Do(rt, fn)
		sink = v
	}
}

func BenchmarkCallC(b *testing.B) {
	rt := newRT(b, qthr.Config{})
	fn := ctest.Noop()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		p, _ := rt.CallC(fn, nil)
		sink = p
	}
}

func BenchmarkSubmitWait(b *testing.B) {
	rt := newRT(b, qthr.Config{})
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		f, err := rt.Submit(noop)
		if err != nil {
			b.Fatal(err)
		}
		sink, _ = f.Wait(ctx)
	}
}

// Throughput with 8 callers per CPU (b.RunParallel): the worker batches.
func BenchmarkChannelLockOSThreadParallel(b *testing.B) {
	lt := startLockedThread()
	defer lt.stop()
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			_, _ = lt.call(noop)
		}
	})
}

func BenchmarkCallParallel(b *testing.B) {
	rt := newRT(b, qthr.Config{})
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			_, _ = rt.Call(noop)
		}
	})
}

func BenchmarkSubmitParallel(b *testing.B) {
	rt := newRT(b, qthr.Config{})
	ctx := context.Background()
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			f, err := rt.Submit(noop)
			if err != nil {
				b.Error(err)
				return
			}
			_, _ = f.Wait(ctx)
		}
	})
}

// BenchmarkRatioCallVsChannel alternates blocks of rt.Call and of the
// LockOSThread channel pattern, so both see the same machine load, and reports
// ns per call of each and their ratio (call/chan; the goal is <= 0.25).
func BenchmarkRatioCallVsChannel(b *testing.B) {
	rt := newRT(b, qthr.Config{})
	lt := startLockedThread()
	defer lt.stop()
	const block = 256
	var tCall, tChan time.Duration
	calls := 0
	b.ResetTimer()
	for done := 0; done < b.N; done += block {
		n := min(block, b.N-done)
		t0 := time.Now()
		for i := 0; i < n; i++ {
			_, _ = rt.Call(noop)
		}
		t1 := time.Now()
		for i := 0; i < n; i++ {
			_, _ = lt.call(noop)
		}
		tChan += time.Since(t1)
		tCall += t1.Sub(t0)
		calls += n
	}
	b.StopTimer()
	callNs := float64(tCall.Nanoseconds()) / float64(calls)
	chanNs := float64(tChan.Nanoseconds()) / float64(calls)
	b.ReportMetric(callNs, "call-ns/op")
	b.ReportMetric(chanNs, "chan-ns/op")
	b.ReportMetric(callNs/chanNs, "call/chan")
}
