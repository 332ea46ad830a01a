package qthr

/*
#include "glue.h"
*/
import "C"

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
)

// qthr_log_level values.
const (
	levelError = 1
	levelWarn  = 2
	levelInfo  = 3
	levelDebug = 4
	levelTrace = 5
)

// LevelTrace is the slog level qthr's TRACE records are logged at.
const LevelTrace = slog.LevelDebug - 4

var (
	logger   atomic.Pointer[slog.Logger] // nil: slog.Default() at the time of the record
	logMu    sync.Mutex
	logLevel = slog.LevelWarn
)

func init() {
	setCLogLevel(logLevel)
}

// SetLogger sends qthr's log records to l (nil: slog.Default(), looked up for
// every record, which is the initial setting). The library's log callback is
// process-wide.
//
// Every record carries the attribute lib=qthr, and runtime=<thread name> when
// it concerns one runtime; failures of jobs nobody waits for (Post) add
// job=<function>, error=<the error> or panic=<value>, status=<qthr status> for
// library statuses and stack=<goroutine stack> for panics. Failures that are
// returned to a caller (New, Call, Wait, ...) are not logged at Error as well:
// the library's own report of such a failure is passed on at Debug.
func SetLogger(l *slog.Logger) {
	logger.Store(l)
}

// SetLogLevel sets the lowest level of the records the library produces at all
// (initially slog.LevelWarn, so a program only hears of problems; LevelTrace
// for everything). Records at or above it are passed to the logger, whose
// handler may filter further.
func SetLogLevel(level slog.Level) {
	logMu.Lock()
	defer logMu.Unlock()
	logLevel = level
	setCLogLevel(level)
}

func setCLogLevel(level slog.Level) {
	var max int
	switch {
	case level <= LevelTrace:
		max = levelTrace
	case level <= slog.LevelDebug:
		max = levelDebug
	case level <= slog.LevelInfo:
		max = levelInfo
	case level <= slog.LevelWarn:
		max = levelWarn
	default:
		max = levelError
	}
	C.qthrgo_set_log(C.int(max))
}

func slogLevel(level int) slog.Level {
	switch level {
	case levelError:
		return slog.LevelError
	case levelWarn:
		return slog.LevelWarn
	case levelInfo:
		return slog.LevelInfo
	case levelDebug:
		return slog.LevelDebug
	default:
		return LevelTrace
	}
}

func currentLogger() *slog.Logger {
	if l := logger.Load(); l != nil {
		return l
	}
	return slog.Default()
}

// logAttrs emits one record of the binding itself.
func logAttrs(level int, msg string, attrs ...slog.Attr) {
	l := currentLogger()
	lv := slogLevel(level)
	if !l.Enabled(context.Background(), lv) {
		return
	}
	l.LogAttrs(context.Background(), lv, msg, append([]slog.Attr{slog.String("lib", "qthr")}, attrs...)...)
}

// Failures the library logs and also returns to the caller of qthr_init (New
// returns them as errors): passed on at Debug, not Error.
var returnedFailures = []string{"start failed", "cannot start the worker thread", "the worker exited during start"}

// libRecord passes on a record of the C library. Its messages read
// "qthr 'NAME': text"; the name becomes the runtime attribute.
func libRecord(level int, msg string) {
	attrs := make([]slog.Attr, 0, 1)
	if rest, ok := strings.CutPrefix(msg, "qthr '"); ok {
		if name, text, ok := strings.Cut(rest, "': "); ok {
			attrs = append(attrs, slog.String("runtime", name))
			msg = text
		}
	} else if rest, ok := strings.CutPrefix(msg, "qthr: "); ok {
		msg = rest
	}
	if level <= levelWarn {
		for _, f := range returnedFailures {
			if strings.Contains(msg, f) {
				level = levelDebug
				break
			}
		}
	}
	logAttrs(level, msg, attrs...)
}

func (rt *Runtime) logName() slog.Attr { return slog.String("runtime", rt.name) }

func anyAttr(key string, v any) slog.Attr { return slog.Any(key, v) }

func stackAttr(stack []byte) slog.Attr { return slog.String("stack", string(stack)) }

// errAttrs describes err for a record: error=..., plus status=... when it is
// a library status, or panic=... and stack=... for a panic.
func errAttrs(err error) []slog.Attr {
	if pe, ok := err.(*PanicError); ok {
		return []slog.Attr{anyAttr("panic", pe.Value), stackAttr(pe.Stack)}
	}
	attrs := []slog.Attr{slog.String("error", err.Error())}
	if se, ok := asStatusError(err); ok {
		attrs = append(attrs, slog.String("status", se.Status.name()))
	}
	return attrs
}

// jobGoexitAdvice is reportGoexit's advice for a job.
const jobGoexitAdvice = "Return an error from the job instead, and check it where Call, Do or Wait returns it"

// hookGoexitAdvice is reportGoexit's advice for the hook named hook.
func hookGoexitAdvice(hook string) string {
	return "Return from " + hook + " instead (an error, where it has one)"
}

// reportGoexit is called by the deferred check of a job (or hook) that ended
// with neither a return nor a panic: it called runtime.Goexit (t.Fatal,
// t.FailNow, t.SkipNow). Go cannot end a goroutine on a thread it did not
// create: right after this the runtime stops the process with "fatal error:
// runtime.Goexit called in a thread that was not created by the Go runtime".
// This names the job first, through slog and straight on stderr (a buffering
// handler would lose it). advice says what to do instead.
func reportGoexit(name, what, advice string) {
	stack := debug.Stack()
	msg := fmt.Sprintf("%s called runtime.Goexit (t.Fatal, t.FailNow or t.SkipNow?) on the worker thread of runtime %q: "+
		"Go cannot end a goroutine on a thread it did not create, so the process stops now. %s", what, name, advice)
	logAttrs(levelError, "job called runtime.Goexit on the worker thread; the process stops",
		slog.String("runtime", name), slog.String("job", what), stackAttr(stack))
	fmt.Fprintf(os.Stderr, "qthr: %s\n%s\n", msg, stack)
}
