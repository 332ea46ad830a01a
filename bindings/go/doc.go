// Package qthr confines a single-threaded "engine" library (embedded q, a
// SQLite connection opened without mutexes, a Lua state, any C library whose
// state belongs to the thread that created it) to ONE dedicated worker thread,
// and lets every goroutine call into it.
//
// It is the Go binding of the qthr C library (include/qthr.h), linked in
// through cgo. A Runtime owns the worker thread, which is an OS thread of its
// own (not a goroutine locked to a thread): Config.OnStart runs there first,
// then every job, in submission order, then Config.OnStop.
//
//	rt, err := qthr.New(qthr.Config{ThreadName: "engine",
//		OnStart: func() error { return openEngine() }, OnStop: closeEngine})
//	defer rt.Close()
//	n, err := qthr.Do(rt, func() (int, error) { return engine.Count() })        // typed, synchronous
//	n, err = qthr.DoCtx(ctx, rt, func() (int, error) { return engine.Count() }) // gives up with ctx
//	fut, err := qthr.SubmitTyped(rt, func() ([]Row, error) { return engine.Query(q) })
//	rows, err := fut.Wait(ctx)                                                  // ctx.Err() on timeout
//
// Jobs are Go closures handed to C as integers (slots of the binding's job
// table), so C never holds a Go pointer; a C function can also run on the
// worker without entering Go at all (Runtime.CallC). A panic in a job is
// recovered on the worker and returned as *PanicError; the worker keeps
// serving. Calls from a job into its own runtime run inline instead of
// deadlocking. A full queue parks the submitting goroutine in Go (no OS
// thread per waiter), for as long as its context allows.
//
// A job must not call runtime.Goexit (t.Fatal, t.FailNow, t.SkipNow): Go kills
// the process when a goroutine exits on a thread it did not create. The
// binding names the job on stderr and in the log before that happens; return
// an error from the job instead.
//
// Errors of the library are *StatusError values; the common ones are the
// sentinels ErrShutdown, ErrCancelled, ErrQueueFull, ErrWouldDeadlock,
// ErrNoMemory, ErrExpired and so on, which work with both == and errors.Is.
// The library's log records go to log/slog (SetLogger, SetLogLevel).
//
// Linking: the module carries the library as a static archive for linux/amd64
// and linux/arm64 (internal/prebuilt, built from the repository's sources by
// update-prebuilt.sh), so a dependent module builds with plain go build and
// the program needs nothing installed. -tags qthr_system links an installed
// libqthr found through pkg-config instead; inside a qthr checkout, -tags
// qthr_repo links its target/release/libqthr.a and -tags qthr_dynamic its
// libqthr.so. CGO_ENABLED=0 fails the build with a message saying cgo is needed.
package qthr
