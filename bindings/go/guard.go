//go:build cgo

package qthr

import (
	"sync"
	"sync/atomic"
)

// guard keeps the C runtime alive while calls are in flight and lets Close free
// it once they have all returned. Unlike a sync.RWMutex, a closing guard never
// makes a caller wait (a job on the worker that calls into its own runtime while
// another goroutine closes it must not block): callers that come after close
// simply fail.
type guard struct {
	n       atomic.Int64 // calls in flight, plus closedBias once closed
	once    sync.Once
	drained chan struct{}
}

const closedBias = -1 << 62

func newGuard() *guard { return &guard{drained: make(chan struct{})} }

// enter reports whether the runtime is open; if so, the caller must exit.
func (g *guard) enter() bool {
	if g.n.Add(1) < 0 {
		g.exit()
		return false
	}
	return true
}

func (g *guard) exit() {
	if g.n.Add(-1) == closedBias {
		g.once.Do(func() { close(g.drained) })
	}
}

// close makes every later enter fail and waits for the calls in flight. It
// reports false if the guard was already closed (it then does not wait).
func (g *guard) close() bool {
	for {
		n := g.n.Load()
		if n < 0 {
			return false
		}
		if g.n.CompareAndSwap(n, n+closedBias) {
			if n == 0 {
				g.once.Do(func() { close(g.drained) })
			}
			<-g.drained
			return true
		}
	}
}

func (g *guard) closed() bool { return g.n.Load() < 0 }
