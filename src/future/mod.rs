//! Jobs and their futures: the public job types (`Job`, `Outcome`,
//! `Continuation`), the completion slot's state machine (`slot.rs`) with its
//! continuations (`thens.rs`), and the future handle with its waiting policy
//! (`handle.rs`).

mod deadline;
mod handle;
mod slot;
mod thens;

pub use handle::FutureRef;
pub(crate) use handle::{never_ran, release, wait_slot_on};
pub(crate) use slot::{Kind, OwnerId, Slot};

use std::ffi::c_void;
use std::time::{Duration, Instant};

/// A job's function: runs on the worker with the job's argument.
pub type JobFn = unsafe extern "C" fn(arg: *mut c_void) -> *mut c_void;

/// Called instead of the job when the job never runs (cancelled, expired,
/// discarded by a cancelling shutdown), so the owner of `arg` can release it.
pub type DropFn = unsafe fn(arg: *mut c_void);

/// What a job is: a function, its argument and an optional release hook for
/// the argument. Made only by the `unsafe` [`Job::new`], which is where the
/// caller vouches for the raw pointers; the executor's methods that take a
/// `Job` are therefore safe.
#[derive(Clone, Copy)]
pub struct Job {
    pub(crate) func: JobFn,
    pub(crate) arg: *mut c_void,
    pub(crate) on_cancel: Option<DropFn>,
}

// SAFETY: a Job is handed to the worker thread on purpose; `Job::new`'s caller
// promises that `arg` may be used from there.
unsafe impl Send for Job {}

impl Job {
    /// A job that runs `func(arg)` on the worker thread; if it never runs,
    /// `on_cancel(arg)` runs instead, on the thread that resolves it.
    ///
    /// # Safety
    /// Each time this job (or a copy) is submitted, calling `func(arg)` on the
    /// runtime's worker thread, or else `on_cancel(arg)` on any thread, exactly
    /// once, must be sound: `arg` must stay valid that long and may be used
    /// from those threads, and `func` must not unwind.
    pub unsafe fn new(func: JobFn, arg: *mut c_void, on_cancel: Option<DropFn>) -> Job {
        Job {
            func,
            arg,
            on_cancel,
        }
    }

    /// Runs the job. Only the worker (or the inline path on it) calls this.
    pub(crate) fn run(&self) -> *mut c_void {
        // SAFETY: `Job::new`'s caller vouched for calling func(arg) once per
        // submission on the worker; every caller of `run` is that one call.
        unsafe { (self.func)(self.arg) }
    }

    /// The job will never run: releases its argument.
    pub(crate) fn discard(&self) {
        if let Some(hook) = self.on_cancel {
            // SAFETY: `Job::new`'s caller supplied the hook for this argument,
            // to run instead of the job.
            unsafe { hook(self.arg) };
        }
    }
}

/// How a future was resolved.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The job ran; the payload is what it returned.
    Done(*mut c_void),
    /// The job never ran: cancelled, or discarded by a cancelling shutdown.
    Cancelled,
    /// The job never ran: its deadline passed before it started.
    Expired,
}

// SAFETY: the result pointer is an opaque value passed back to the submitter.
unsafe impl Send for Outcome {}

/// A continuation: a plain function and two words of captured data, so that
/// attaching one allocates nothing. Runs exactly once, on the thread that
/// resolves the future (or at once if it was already resolved).
#[derive(Clone, Copy)]
pub struct Continuation {
    call: unsafe fn(data: [*mut c_void; 2], outcome: Outcome),
    data: [*mut c_void; 2],
}

// SAFETY: `Continuation::new`'s caller promises it may run on any thread.
unsafe impl Send for Continuation {}

impl Continuation {
    /// A continuation calling `call(data, outcome)`.
    ///
    /// # Safety
    /// Calling `call(data, outcome)` once, on any thread (the worker
    /// included, between two jobs), must be sound, and it must not unwind.
    pub unsafe fn new(call: unsafe fn([*mut c_void; 2], Outcome), data: [*mut c_void; 2]) -> Self {
        Continuation { call, data }
    }

    pub(crate) fn run(self, outcome: Outcome) {
        // SAFETY: `Continuation::new`'s caller vouched for `call` and `data`.
        unsafe { (self.call)(self.data, outcome) }
    }
}

/// Converts a user timeout (ns; negative = forever) into a deadline.
pub(crate) fn deadline_after(timeout_ns: i64) -> Option<Instant> {
    if timeout_ns < 0 {
        None
    } else {
        let now = Instant::now();
        // Saturate absurd timeouts instead of overflowing Instant.
        now.checked_add(Duration::from_nanos(timeout_ns as u64))
            .or_else(|| now.checked_add(Duration::from_secs(86400 * 365 * 100)))
    }
}
