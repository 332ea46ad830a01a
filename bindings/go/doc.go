// Package qthr confines a single-threaded "engine" library (embedded q, a
// SQLite connection opened without mutexes, a Lua state, any C library whose
// state belongs to the thread that created it) to ONE dedicated worker thread,
// and lets every goroutine call into it.
//
// It is the Go binding of the qthr C library (include/qthr.h), version 0.2.0,
// linked in through cgo. A Runtime owns the worker thread, which is an OS thread of its
// own (not a goroutine locked to a thread): Config.OnStart runs there first,
// then every job, in submission order, then Config.OnStop.
//
//	rt, err := qthr.New(qthr.Config{ThreadName: "engine",
//		OnStart: func() error { return openEngine() }, OnStop: closeEngine})
//	defer rt.Close()
//	n, err := qthr.Do(rt, func() (int, error) { return engine.Count() })  // typed, synchronous
//	fut, err := rt.Submit(func() (any, error) { return engine.Query(q) }) // asynchronous
//	v, err := fut.Wait(ctx)                                               // ctx.Err() on timeout
//
// Jobs are Go closures handed to C as runtime/cgo.Handle values (integers, so
// C never holds a Go pointer); a C function can also run on the worker without
// entering Go at all (Runtime.CallC). A panic in a job is recovered on the
// worker and returned as *PanicError; the worker keeps serving. Calls from a
// job into its own runtime run inline instead of deadlocking.
//
// Errors of the library are *StatusError values; the common ones are the
// sentinels ErrShutdown, ErrCancelled, ErrQueueFull, ErrWouldDeadlock and so
// on, which work with both == and errors.Is. The library's log records go to
// log/slog (SetLogger, SetLogLevel).
//
// Linking: by default the package links target/release/libqthr.a of the
// repository it sits in, statically (build it first with cargo build
// --release); -tags qthr_dynamic links target/release/libqthr.so with an
// rpath instead, and -tags qthr_system an installed libqthr (-lqthr, paths
// from CGO_CFLAGS / CGO_LDFLAGS).
package qthr
