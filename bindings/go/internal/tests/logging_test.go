package tests

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"

	qthr "github.com/qthr/qthr/bindings/go"
)

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
