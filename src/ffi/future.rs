//! Futures: waiting, cancelling, interrupting, continuations, release.

use super::*;
use crate::future::{Continuation, Outcome};

/// Waits for a future.
///
/// - `timeout_ns`: < 0 waits forever, 0 polls, > 0 waits at most that long.
/// - `result`: receives the job's return value on QTHR_OK; may be NULL.
///
/// Returns QTHR_OK (again and again, from any number of threads at once, with
/// the same result); QTHR_TIMEOUT (still pending); QTHR_CANCELLED (the job
/// never ran); QTHR_EXPIRED (it missed its deadline: returned as soon as the
/// deadline passes, even while the worker is busy); QTHR_INVALID_ARGUMENT
/// (NULL f); QTHR_FORKED (pending future from the parent process);
/// QTHR_WOULD_DEADLOCK (see Threads). Long waits sleep (futex) instead of
/// burning a CPU; signals do not end a wait early (it resumes, and still ends
/// by its timeout).
///
/// Threads: any. On a worker: waiting for a queued job of the same runtime
/// runs the queued jobs inline until it is done; waiting for the running job
/// itself returns QTHR_WOULD_DEADLOCK (QTHR_TIMEOUT for a poll); waiting for
/// another runtime's job serves the callbacks other runtimes' workers submit
/// to this one meanwhile, so runtimes calling each other (A -> B -> A) do not
/// deadlock; a job nested 64 deep in such waits gets QTHR_WOULD_DEADLOCK.
#[no_mangle]
pub unsafe extern "C" fn qthr_wait(
    f: *mut qthr_future,
    timeout_ns: i64,
    result: *mut *mut c_void,
) -> qthr_status {
    status(|| {
        // SAFETY: a non-null f comes from a submit call.
        let f = unsafe { future(f) }?;
        let r = f.wait(timeout_ns)?;
        if !result.is_null() {
            // SAFETY: non-null and writable.
            unsafe { *result = r };
        }
        Ok(())
    })
}

/// (0.2) Stops a job: a queued one is withdrawn exactly as by qthr_cancel
/// (QTHR_OK; waiters get QTHR_CANCELLED); a running one, if its runtime has
/// `on_interrupt`, is asked to stop: the hook is called ON THIS THREAD with the
/// runtime's hook_ctx and this returns QTHR_OK (the job ends as the engine
/// decides; its future resolves as usual, with whatever the job returns).
///
/// Returns QTHR_OK; QTHR_NOT_CANCELLABLE (running and the runtime has no
/// on_interrupt, or already finished or expired); QTHR_INVALID_ARGUMENT
/// (NULL); QTHR_FORKED (a pending future inherited from the parent process).
///
/// The hook is called only while the job runs, and never overlaps a later
/// job: the worker, once the job returned, waits for a hook still in flight
/// before it starts anything else. A hook that saw the job running may still
/// be returning just after the job did; so an engine flag the hook sets should
/// be cleared by the engine when its next call starts (SQLite does) or by each
/// job when it starts. Threads: any (from the running job itself it calls the
/// hook on the worker).
#[no_mangle]
pub unsafe extern "C" fn qthr_interrupt(f: *mut qthr_future) -> qthr_status {
    status(|| {
        // SAFETY: a non-null f comes from a submit call.
        unsafe { future(f) }?.interrupt()
    })
}

/// Cancels a job that has not started: returns QTHR_OK and the job will never
/// run (waiters get QTHR_CANCELLED; continuations run on this thread, now).
/// QTHR_OK again if it was already cancelled; QTHR_NOT_CANCELLABLE if it started,
/// finished or expired; QTHR_INVALID_ARGUMENT for NULL; QTHR_FORKED. Threads:
/// any.
#[no_mangle]
pub unsafe extern "C" fn qthr_cancel(f: *mut qthr_future) -> qthr_status {
    status(|| {
        // SAFETY: a non-null f comes from a submit call.
        unsafe { future(f) }?.cancel()
    })
}

/// # Safety
/// `data[0]` is a non-null `qthr_then_fn` (see `qthr_future_then`).
unsafe fn run_then(data: [*mut c_void; 2], outcome: Outcome) {
    // SAFETY: data[0] was made from a non-null qthr_then_fn in qthr_future_then.
    let cb: unsafe extern "C" fn(*mut c_void, qthr_status, *mut c_void) =
        unsafe { std::mem::transmute(data[0]) };
    let (st, result) = match outcome {
        Outcome::Done(r) => (qthr_status::QTHR_OK, r),
        Outcome::Cancelled => (qthr_status::QTHR_CANCELLED, std::ptr::null_mut()),
        Outcome::Expired => (qthr_status::QTHR_EXPIRED, std::ptr::null_mut()),
    };
    // SAFETY: the C caller registered this callback with this context.
    unsafe { cb(data[1], st, result) };
}

/// Attaches `cb(ctx, status, result)` to a future; it runs exactly once: on
/// the worker right after the job finishes (QTHR_OK, its result); at once on
/// the calling thread if the future is already resolved; on the cancelling
/// thread if qthr_cancel or qthr_interrupt withdraws it; on the thread that
/// runs qthr_shutdown(QTHR_CANCEL) (or the worker) if the shutdown discards it
/// (QTHR_CANCELLED, NULL); on the worker or a waiting thread if it expires
/// (QTHR_EXPIRED, NULL). May be called several times per future (each cb runs
/// once). cb must not unwind and should be short: it may run on the worker
/// between jobs.
///
/// Returns QTHR_OK; QTHR_INVALID_ARGUMENT (NULL f or cb); QTHR_NO_MEMORY (a
/// second or later callback could not be stored: it will not run);
/// QTHR_FORKED. Threads: any. Lifetime: `ctx` must stay valid until cb ran.
#[no_mangle]
pub unsafe extern "C" fn qthr_future_then(
    f: *mut qthr_future,
    cb: qthr_then_fn,
    ctx: *mut c_void,
) -> qthr_status {
    status(|| {
        // SAFETY: a non-null f comes from a submit call.
        let f = unsafe { future(f) }?;
        let cb = cb.ok_or(Error::InvalidArgument)?;
        // SAFETY: run_then gets a non-null qthr_then_fn; the C caller vouches
        // for calling it with ctx once, on any thread.
        let cont = unsafe { Continuation::new(run_then, [cb as *mut c_void, ctx]) };
        f.then(cont)
    })
}

/// Releases a future. Any time: before the job ran (it still runs unless
/// cancelled), after qthr_free of its runtime. Never cancels. NULL: no-op.
/// Lifetime: no other thread may use `f` during or after this call.
#[no_mangle]
pub unsafe extern "C" fn qthr_future_free(f: *mut qthr_future) {
    boundary(|| {
        if !f.is_null() {
            // SAFETY: f comes from a submit call; this consumes its reference.
            drop(unsafe { FutureRef::from_raw(f as *const c_void) });
        }
    })
}

/// A ready-made qthr_future_then callback: writes the 8-byte integer 1 to the
/// file descriptor `(int)(intptr_t)ctx` (an eventfd, or a pipe's write end), so
/// another thread or an event loop learns of the completion without any code of
/// its own running on the worker.
///
/// It never blocks the worker: if the descriptor cannot take the 8 bytes at
/// once (a full pipe, or a blocking descriptor that is not ready), the
/// notification is dropped. So the reader must treat a notification as "some
/// futures resolved": drain the descriptor, then check every future it waits
/// for. An eventfd accumulates and never fills in practice: prefer it.
/// Other errors are ignored too. Threads: any (it is a callback).
#[no_mangle]
pub unsafe extern "C" fn qthr_then_notify_fd(
    ctx: *mut c_void,
    st: qthr_status,
    result: *mut c_void,
) {
    let _ = (st, result);
    boundary(|| {
        let fd = ctx as isize as c_int;
        let one: u64 = 1;
        let mut ready = libc::pollfd {
            fd,
            events: libc::POLLOUT,
            revents: 0,
        };
        loop {
            // A zero-timeout poll first: on a blocking descriptor a write could
            // otherwise stall the worker until the reader catches up.
            // SAFETY: one live pollfd.
            let n = unsafe { libc::poll(&mut ready, 1, 0) };
            if n < 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
                continue;
            }
            if n != 1 || ready.revents & libc::POLLOUT == 0 {
                return; // not writable now: drop it
            }
            // SAFETY: writes 8 bytes from a live local.
            let n = unsafe { libc::write(fd, &one as *const u64 as *const c_void, 8) };
            if n >= 0 || std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
                return;
            }
        }
    })
}
