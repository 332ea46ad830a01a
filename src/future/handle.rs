//! The future handle (`FutureRef`) and the waiting policy: how a thread waits
//! for a slot depends on who it is — an ordinary thread spins, then parks; a
//! worker runs its own queue up to its own job, or serves its calls lane while
//! it waits for another runtime (runtime/reentry.rs).

use super::slot::Slot;
use super::{Continuation, Job, Outcome};
use crate::error::Error;
use crate::fork;
use crate::park;
use crate::pool::{self, SlotBox};
use crate::runtime::{current_worker, Shared};
use std::ffi::c_void;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr::NonNull;
use std::time::Instant;

/// A reference to a future's completion slot. Dropping it releases the
/// reference; it never cancels the job.
pub struct FutureRef(NonNull<Slot>);

// SAFETY: the slot is designed for cross-thread use (see slot.rs).
unsafe impl Send for FutureRef {}
// SAFETY: every method takes &self and goes through the slot's atomics.
unsafe impl Sync for FutureRef {}

impl FutureRef {
    /// Takes over one reference to a queued `Kind::Shared` slot.
    pub(crate) fn from_slot(p: *const Slot) -> FutureRef {
        FutureRef(NonNull::new(p as *mut Slot).expect("non-null slot"))
    }

    fn slot(&self) -> &Slot {
        // SAFETY: we hold a reference.
        unsafe { self.0.as_ref() }
    }

    /// Waits until resolved or `timeout_ns` passes (<0 forever, 0 poll).
    /// `Ok(result)` once done; `Err(Cancelled)` / `Err(Expired)` if the job
    /// never ran.
    pub fn wait(&self, timeout_ns: i64) -> Result<*mut c_void, Error> {
        // Resolved already (the common case after a batch): no clock, no TLS.
        if let Some(o) = self.outcome() {
            return outcome_result(o);
        }
        self.wait_until(super::deadline_after(timeout_ns))
    }

    /// Waits until resolved or the deadline passes (None: forever). A job
    /// with a deadline of its own that has not started by then is expired by
    /// this wait (no timer thread: whoever waits, or the worker reaching it).
    pub fn wait_until(&self, deadline: Option<Instant>) -> Result<*mut c_void, Error> {
        let p = self.0.as_ptr();
        let mut expires = self.slot().deadline();
        loop {
            let until = match (deadline, expires) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            // SAFETY: we hold a reference.
            match unsafe { wait_slot_on(p, until, park::WorkerCpu::Other) } {
                Ok(o) => return outcome_result(o),
                Err(Error::Timeout) if expires.is_some_and(|e| Instant::now() >= e) => {
                    // SAFETY: we hold a reference. If the job started meanwhile
                    // this fails, and we wait for it with the caller's deadline.
                    unsafe { Slot::expire(p) };
                    expires = None;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// The outcome, if resolved (never blocks).
    pub fn outcome(&self) -> Option<Outcome> {
        self.slot().outcome()
    }

    fn check_fork(&self) -> Result<(), Error> {
        let s = self.slot();
        if s.outcome().is_none() && s.fork_gen() != fork::generation() {
            Err(Error::Forked)
        } else {
            Ok(())
        }
    }

    /// Cancels the job if it has not started. `Ok` if it will never run.
    pub fn cancel(&self) -> Result<(), Error> {
        self.check_fork()?;
        // SAFETY: we hold a reference.
        if unsafe { Slot::cancel(self.0.as_ptr()) } {
            Ok(())
        } else {
            Err(Error::NotCancellable)
        }
    }

    /// Withdraws the job if it has not started (like `cancel`); if it is
    /// running and its runtime has an interrupt hook, calls the hook on this
    /// thread. `Ok` in both cases; `NotCancellable` if it is running without a
    /// hook, or already resolved.
    pub fn interrupt(&self) -> Result<(), Error> {
        self.check_fork()?;
        let s = self.slot();
        // SAFETY: we hold a reference.
        if unsafe { Slot::cancel(self.0.as_ptr()) } {
            return Ok(());
        }
        let owner = s.owner() as *const Shared;
        let mut hooked = false;
        let called = s.interrupt_running(|| {
            // SAFETY: the job is running and its worker will not move on before
            // this returns (see Slot::interrupt_running), so the runtime's
            // Shared, which the worker holds, is alive.
            if let Some(hook) = &unsafe { &*owner }.on_interrupt {
                hooked = true;
                if catch_unwind(AssertUnwindSafe(hook)).is_err() {
                    log::error!("qthr: on_interrupt panicked");
                }
            }
        });
        if called && hooked {
            Ok(())
        } else {
            Err(Error::NotCancellable)
        }
    }

    /// Attaches a continuation (runs exactly once; see `Slot::then`).
    /// `Err(NoMemory)` if it could not be attached (it will not run).
    pub fn then(&self, cont: Continuation) -> Result<(), Error> {
        self.check_fork()?;
        self.slot().then(cont)
    }

    /// Gives up the Rust handle, keeping its reference (for FFI).
    pub fn into_raw(self) -> *const c_void {
        let p = self.0.as_ptr() as *const c_void;
        std::mem::forget(self);
        p
    }

    /// # Safety
    /// `p` must come from `into_raw` and its reference must not be used again.
    pub unsafe fn from_raw(p: *const c_void) -> FutureRef {
        FutureRef::from_slot(p as *const Slot)
    }
}

impl Drop for FutureRef {
    fn drop(&mut self) {
        // SAFETY: we hold one reference, given up here.
        unsafe { release(self.0.as_ptr()) };
    }
}

/// What a wait returns for an outcome.
fn outcome_result(o: Outcome) -> Result<*mut c_void, Error> {
    match o {
        Outcome::Done(r) => Ok(r),
        Outcome::Cancelled => Err(Error::Cancelled),
        Outcome::Expired => Err(Error::Expired),
    }
}

/// A called job was cancelled: runs its release hook; returns the error.
pub(crate) fn never_ran(job: &Job) -> Error {
    job.discard();
    Error::Cancelled
}

/// Drops one reference to a Shared slot, recycling it when it was the last.
///
/// # Safety
/// The caller owns one reference to the live slot `p`, and gives it up.
pub(crate) unsafe fn release(p: *const Slot) {
    // SAFETY: the caller owns one reference, so the slot is alive.
    if unsafe { (*p).release_ref() } {
        // SAFETY: that was the last reference.
        pool::give(unsafe { SlotBox::from_raw(p) });
    }
}

/// Waits for a slot from any thread, choosing the strategy: on a worker see
/// `Shared::wait_on_worker`; elsewhere spin, then park. `worker`: where the
/// job's worker last went idle (see `park::wait_for_worker`).
///
/// # Safety
/// The caller holds a reference to (or owns) the live slot `p`.
pub(crate) unsafe fn wait_slot_on(
    p: *const Slot,
    deadline: Option<Instant>,
    worker: park::WorkerCpu,
) -> Result<Outcome, Error> {
    // SAFETY: the caller holds a reference to (or owns) the slot.
    let s = unsafe { &*p };
    if let Some(o) = s.outcome() {
        return Ok(o);
    }
    if s.fork_gen() != fork::generation() {
        return Err(Error::Forked);
    }
    let me = current_worker();
    if !me.is_null() {
        // SAFETY: CURRENT is set only while this thread runs that worker loop,
        // which holds a reference to its Shared.
        return unsafe { &*me }.wait_on_worker(p, deadline);
    }
    s.wait(deadline, worker).ok_or(Error::Timeout)
}
