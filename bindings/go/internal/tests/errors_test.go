package tests

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"syscall"
	"testing"

	qthr "github.com/qthr/qthr/bindings/go"
)

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
