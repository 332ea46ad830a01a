package qthr

/*
#include "glue.h"
*/
import "C"

import (
	"context"
	"log/slog"
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
// every record, which is the initial setting). Records carry the attribute
// "lib"="qthr". The library's log callback is process-wide.
func SetLogger(l *slog.Logger) {
	logger.Store(l)
}

// SetLogLevel sets the lowest level of the records the library produces at all
// (initially slog.LevelWarn, so a program only hears of problems; LevelTrace for everything). Records at or above it
// are passed to the logger, whose handler may filter further.
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

// logRecord emits one record of the library (or of the binding itself).
func logRecord(level int, msg string) {
	l := logger.Load()
	if l == nil {
		l = slog.Default()
	}
	l.LogAttrs(context.Background(), slogLevel(level), msg, slog.String("lib", "qthr"))
}
