package qthr

/*
#include "glue.h"
*/
import "C"

import (
	"errors"
	"fmt"
)

// Status is a qthr_status code of the C library.
type Status uint32

// The qthr_status codes (include/qthr.h).
const (
	StatusOK              Status = 0  // QTHR_OK
	StatusTimeout         Status = 1  // QTHR_TIMEOUT: a wait ran out of time; the job is still pending
	StatusCancelled       Status = 2  // QTHR_CANCELLED: the job never ran
	StatusShutdown        Status = 3  // QTHR_SHUTDOWN: the runtime is shut down; nothing was queued
	StatusQueueFull       Status = 4  // QTHR_QUEUE_FULL: nonblocking runtime (or a submit from the worker) and a full queue
	StatusInvalidArgument Status = 5  // QTHR_INVALID_ARGUMENT
	StatusStartFailed     Status = 6  // QTHR_START_FAILED: OnStart failed or the thread could not start
	StatusWouldDeadlock   Status = 7  // QTHR_WOULD_DEADLOCK: e.g. Shutdown called on the worker itself
	StatusForked          Status = 8  // QTHR_FORKED: used in a child process after fork
	StatusNotCancellable  Status = 9  // QTHR_NOT_CANCELLABLE: the job already started or finished
	StatusPanic           Status = 10 // QTHR_PANIC: an internal error of the library was caught
	StatusNoMemory        Status = 11 // QTHR_NO_MEMORY: an allocation failed; nothing was queued or started
	StatusExpired         Status = 12 // QTHR_EXPIRED: the job's deadline passed before it started; it never ran
)

var statusNames = [...]string{"QTHR_OK", "QTHR_TIMEOUT", "QTHR_CANCELLED", "QTHR_SHUTDOWN", "QTHR_QUEUE_FULL",
	"QTHR_INVALID_ARGUMENT", "QTHR_START_FAILED", "QTHR_WOULD_DEADLOCK", "QTHR_FORKED",
	"QTHR_NOT_CANCELLABLE", "QTHR_PANIC", "QTHR_NO_MEMORY", "QTHR_EXPIRED"}

// name is the C name of the status ("QTHR_SHUTDOWN"), for log attributes.
func (s Status) name() string {
	if int(s) < len(statusNames) {
		return statusNames[s]
	}
	return fmt.Sprintf("QTHR_STATUS_%d", uint32(s))
}

// String returns the library's description of s (qthr_status_str).
func (s Status) String() string {
	return C.GoString(C.qthr_status_str(C.qthr_status(s)))
}

// StatusError is an error reported by the C library: its status code and the
// message qthr_status_str gives for it. Every error of this package that comes
// from a status is a *StatusError; for the common statuses it is the very
// sentinel value (ErrShutdown, ErrCancelled, ...), so both == and errors.Is work,
// and errors.Is(err, &StatusError{Status: s}) matches any error with status s.
type StatusError struct {
	Status Status // the qthr_status code
	Msg    string // qthr_status_str(Status)
}

// Error implements error.
func (e *StatusError) Error() string { return "qthr: " + e.Msg }

// Is reports whether target is a *StatusError with the same Status.
func (e *StatusError) Is(target error) bool {
	t, ok := target.(*StatusError)
	return ok && t != nil && t.Status == e.Status
}

func newStatusError(s Status) *StatusError {
	return &StatusError{Status: s, Msg: s.String()}
}

// Sentinel errors, one per failure status. They are *StatusError values.
var (
	// ErrShutdown: the runtime is shut down or closed; nothing was queued.
	ErrShutdown error = newStatusError(StatusShutdown)
	// ErrCancelled: the job never ran (Future.Cancel, or Shutdown(Cancel)).
	ErrCancelled error = newStatusError(StatusCancelled)
	// ErrQueueFull: the queue is full and the runtime is nonblocking, or a job
	// submitted to its own runtime's full queue.
	ErrQueueFull error = newStatusError(StatusQueueFull)
	// ErrTimeout: a wait ran out of time (the binding reports ctx.Err() instead
	// wherever a context is involved).
	ErrTimeout error = newStatusError(StatusTimeout)
	// ErrInvalidArgument: a nil function or a bad configuration.
	ErrInvalidArgument error = newStatusError(StatusInvalidArgument)
	// ErrStartFailed: New failed: OnStart returned an error (wrapped beside it) or
	// the worker thread could not start.
	ErrStartFailed error = newStatusError(StatusStartFailed)
	// ErrWouldDeadlock: the operation would wait for the worker on the worker
	// itself (Shutdown or Close called from inside a job).
	ErrWouldDeadlock error = newStatusError(StatusWouldDeadlock)
	// ErrForked: the runtime was created before fork() and is used in the child.
	ErrForked error = newStatusError(StatusForked)
	// ErrNotCancellable: the job already started or finished.
	ErrNotCancellable error = newStatusError(StatusNotCancellable)
	// ErrInternal: the library caught an internal panic (QTHR_PANIC). Not to be
	// confused with *PanicError, which is a panic of a Go job.
	ErrInternal error = newStatusError(StatusPanic)
	// ErrNoMemory: an allocation failed (the library's queue or completion
	// slot, or the binding's job table): nothing was queued or started.
	ErrNoMemory error = newStatusError(StatusNoMemory)
	// ErrExpired: the job had a deadline (SubmitOptions.Deadline) and had not
	// started when it passed: it never ran.
	ErrExpired error = newStatusError(StatusExpired)
)

var sentinels = [...]error{
	StatusTimeout:         ErrTimeout,
	StatusCancelled:       ErrCancelled,
	StatusShutdown:        ErrShutdown,
	StatusQueueFull:       ErrQueueFull,
	StatusInvalidArgument: ErrInvalidArgument,
	StatusStartFailed:     ErrStartFailed,
	StatusWouldDeadlock:   ErrWouldDeadlock,
	StatusForked:          ErrForked,
	StatusNotCancellable:  ErrNotCancellable,
	StatusPanic:           ErrInternal,
	StatusNoMemory:        ErrNoMemory,
	StatusExpired:         ErrExpired,
}

func asStatusError(err error) (*StatusError, bool) {
	var se *StatusError
	ok := errors.As(err, &se)
	return se, ok
}

// statusErr maps a C status to nil (QTHR_OK), a sentinel, or a new *StatusError.
func statusErr(s Status) error {
	if s == StatusOK {
		return nil
	}
	if int(s) < len(sentinels) && sentinels[s] != nil {
		return sentinels[s]
	}
	return newStatusError(s)
}

// PanicError is the error a job that panicked comes back with (from Wait, Call,
// Do, or New for a panicking OnStart). The panic was recovered on the worker,
// which keeps serving.
type PanicError struct {
	Value any    // the value passed to panic, with its original type
	Stack []byte // the stack of the panicking goroutine on the worker (runtime/debug.Stack)
}

// Error implements error.
func (e *PanicError) Error() string { return fmt.Sprintf("qthr: job panicked: %v", e.Value) }

// Unwrap returns the panic value if it is an error (e.g. a runtime.Error), so
// errors.Is and errors.As see through the panic.
func (e *PanicError) Unwrap() error {
	if err, ok := e.Value.(error); ok {
		return err
	}
	return nil
}

// LibraryVersion returns the version of the qthr C library linked in
// (qthr_version), as "major.minor.patch".
func LibraryVersion() string {
	v := uint32(C.qthr_version())
	return fmt.Sprintf("%d.%d.%d", v>>16, (v>>8)&0xff, v&0xff)
}
