//! Submitting jobs: one, one with options, a batch, a synchronous call.

use super::*;
use crate::future::Job;
use crate::runtime::SubmitOptions;
use std::time::{Duration, Instant};

/// The job `func(arg)` as the executor takes it. The C caller vouches for it
/// (the header's "Memory and lifetimes": `arg` stays valid until the job ran
/// or was resolved without running, and may be used on the worker).
fn c_job(func: qthr_fn, arg: *mut c_void) -> Result<Job, Error> {
    let func = func.ok_or(Error::InvalidArgument)?;
    // SAFETY: see above; C jobs have no cancel hook.
    Ok(unsafe { Job::new(func, arg, None) })
}

/// Queues `func(arg)` to run on the worker.
///
/// - `out`: receives a future on QTHR_OK (release it with qthr_future_free);
///   NULL makes the job fire-and-forget; untouched on failure.
///
/// Returns QTHR_OK; QTHR_SHUTDOWN (shut down or shutting down: nothing
/// queued); QTHR_QUEUE_FULL (nonblocking runtime, or called on the worker
/// itself, and the queue is full); QTHR_INVALID_ARGUMENT (NULL rt or func);
/// QTHR_NO_MEMORY (no completion slot could be allocated); QTHR_FORKED. A
/// blocking runtime's full queue makes the caller sleep until there is room
/// (and return QTHR_SHUTDOWN if a shutdown starts meanwhile).
///
/// Threads: any, the worker included. Jobs run in submission order (per
/// submitting thread: one FIFO). Lifetime: `arg` must stay valid until the job
/// ran (or was cancelled); it is passed through untouched.
#[no_mangle]
pub unsafe extern "C" fn qthr_submit(
    rt: *mut qthr_runtime,
    func: qthr_fn,
    arg: *mut c_void,
    out: *mut *mut qthr_future,
) -> qthr_status {
    status(|| {
        // SAFETY: a non-null rt comes from qthr_init.
        let rt = unsafe { runtime(rt) }?;
        if let Some(f) = rt.submit(c_job(func, arg)?, !out.is_null())? {
            // SAFETY: out is non-null (we asked for a future only then).
            unsafe { *out = f.into_raw() as *mut qthr_future };
        }
        Ok(())
    })
}

/// (0.2) Queues `func(arg)` with per-job options: a deadline to start by and
/// a priority. `opts` NULL is exactly qthr_submit.
///
/// - `opts->deadline_ns` > 0: a job that has not STARTED that many
///   nanoseconds (CLOCK_MONOTONIC) after this call never runs and resolves
///   QTHR_EXPIRED (waiters and then-callbacks see it; stats count it). It
///   costs the worker no engine time: it is resolved when the worker reaches
///   it, or earlier by a thread waiting on its future (qthr_wait returns
///   QTHR_EXPIRED as soon as the deadline passes). There is no timer thread.
///   A job that started in time runs to its end, however long it takes.
/// - `opts->priority` 1 (urgent): runs before every queued normal job, FIFO
///   among urgent jobs; it has room of its own (queue_capacity jobs), so a
///   full main queue does not hold it up; qthr_call never overtakes it.
///   Submitted from another runtime's worker, any job goes to the lane of such
///   jobs (served before the main lane too), whatever its priority.
///
/// Returns as qthr_submit; also QTHR_INVALID_ARGUMENT (nothing queued) for an
/// `opts->size` of no released version, a negative deadline or a priority
/// other than 0 and 1, and QTHR_NO_MEMORY if the urgent lane's ring cannot be
/// allocated (on its first use). Threads: any, the worker included.
/// Lifetime: `opts` is only read during the call; `arg` as for qthr_submit.
#[no_mangle]
pub unsafe extern "C" fn qthr_submit_ex(
    rt: *mut qthr_runtime,
    func: qthr_fn,
    arg: *mut c_void,
    opts: *const qthr_submit_opts,
    out: *mut *mut qthr_future,
) -> qthr_status {
    status(|| {
        // SAFETY: a non-null rt comes from qthr_init.
        let rt = unsafe { runtime(rt) }?;
        let job = c_job(func, arg)?;
        let opts = if opts.is_null() {
            SubmitOptions::default()
        } else {
            let defaults = qthr_submit_opts {
                size: 0,
                deadline_ns: 0,
                priority: 0,
            };
            // SAFETY: a non-null opts points to at least opts->size bytes.
            submit_options(unsafe { read_sized(opts, &OPTS_SIZES, defaults) }?)?
        };
        if let Some(f) = rt.submit_with(job, opts, !out.is_null())? {
            // SAFETY: out is non-null (we asked for a future only then).
            unsafe { *out = f.into_raw() as *mut qthr_future };
        }
        Ok(())
    })
}

fn submit_options(o: qthr_submit_opts) -> Result<SubmitOptions, Error> {
    let deadline = match o.deadline_ns {
        0 => None,
        ns if ns > 0 => Instant::now().checked_add(Duration::from_nanos(ns as u64)),
        _ => return Err(Error::InvalidArgument),
    };
    let urgent = match o.priority {
        0 => false,
        1 => true,
        _ => return Err(Error::InvalidArgument),
    };
    Ok(SubmitOptions { deadline, urgent })
}

/// Queues `n` jobs `fns[i](args[i])` at once, in order, with a single wake-up
/// of the worker. All or nothing: either every job is queued or none is.
///
/// - `fns`: n non-NULL functions; `args`: n arguments (NULL: every arg NULL).
/// - `outs`: NULL (fire and forget) or n slots receiving the futures on
///   QTHR_OK (untouched otherwise).
///
/// Returns as qthr_submit; also QTHR_INVALID_ARGUMENT if n exceeds the queue
/// capacity or any fns[i] is NULL (the arrays are not read when n is absurd).
/// n == 0 is a no-op returning QTHR_OK. Threads: any, the worker included.
/// Lifetime: the arrays are only read during the call.
#[no_mangle]
pub unsafe extern "C" fn qthr_submit_batch(
    rt: *mut qthr_runtime,
    n: usize,
    fns: *const qthr_fn,
    args: *const *mut c_void,
    outs: *mut *mut qthr_future,
) -> qthr_status {
    status(|| {
        // SAFETY: a non-null rt comes from qthr_init.
        let rt = unsafe { runtime(rt) }?;
        if n == 0 {
            return Ok(());
        }
        // Before touching the arrays: n may be absurd.
        if fns.is_null() || n > rt.queue_capacity() {
            return Err(Error::InvalidArgument);
        }
        // SAFETY: the caller provides n readable entries.
        let fns = unsafe { std::slice::from_raw_parts(fns, n) };
        if fns.iter().any(Option::is_none) {
            return Err(Error::InvalidArgument);
        }
        let args = if args.is_null() {
            None
        } else {
            // SAFETY: the caller provides n readable entries.
            Some(unsafe { std::slice::from_raw_parts(args, n) })
        };
        let job = |i: usize| {
            let arg = args.map_or(std::ptr::null_mut(), |a| a[i]);
            c_job(fns[i], arg).expect("checked above")
        };
        rt.submit_batch(n, job, !outs.is_null(), |i, f| {
            // SAFETY: outs is non-null and has n writable slots.
            unsafe { *outs.add(i) = f.into_raw() as *mut qthr_future };
        })
    })
}

/// Runs `func(arg)` on the worker and waits for it (submit + wait) with no
/// heap allocation. On the worker itself it runs inline. From an ordinary
/// thread, when nothing is queued, the job goes through the runtime's
/// one-call mailbox (about one cache-line round trip); otherwise through the
/// queue. Either way it runs after every job this thread submitted before
/// (urgent ones included).
///
/// - `result`: receives the return value on QTHR_OK; may be NULL.
///
/// Returns QTHR_OK; QTHR_CANCELLED (shut down with QTHR_CANCEL before it ran);
/// QTHR_SHUTDOWN; QTHR_QUEUE_FULL (nonblocking and full); QTHR_INVALID_ARGUMENT;
/// QTHR_NO_MEMORY; QTHR_FORKED; QTHR_WOULD_DEADLOCK (from another runtime's
/// job nested 64 deep in waits across runtimes: nothing queued).
///
/// Threads: any. From another runtime's worker it serves that runtime's
/// callbacks while it waits. Not interruptible (there is no future): use
/// qthr_submit + qthr_interrupt for a call that may need stopping. Lifetime:
/// `arg` needs to live only until this returns.
#[no_mangle]
pub unsafe extern "C" fn qthr_call(
    rt: *mut qthr_runtime,
    func: qthr_fn,
    arg: *mut c_void,
    result: *mut *mut c_void,
) -> qthr_status {
    status(|| {
        // SAFETY: a non-null rt comes from qthr_init.
        let rt = unsafe { runtime(rt) }?;
        let r = rt.call(c_job(func, arg)?)?;
        if !result.is_null() {
            // SAFETY: non-null and writable.
            unsafe { *result = r };
        }
        Ok(())
    })
}
