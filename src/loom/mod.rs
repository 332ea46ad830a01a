//! Loom models of the real code (RUSTFLAGS="--cfg loom" cargo test --release
//! --lib loom), one file per module: the completion slot (`slot.rs`), the
//! queue's gates and ring (`queue.rs`), the call mailbox (`mailbox.rs`), and
//! the worker's doorbell with the parking protocol (`doorbell.rs`).
//!
//! Every model runs the crate's own types over `crate::sync`'s loom atomics and
//! the loom model of the parking lot (park/mod.rs): every interleaving (bounded
//! by `preemption_bound` where noted), weak memory for Relaxed/Acquire/Release,
//! a lost wake-up reported as a deadlock. Data written by jobs, cancel hooks and
//! continuations goes through loom atomics stored Relaxed, so reading a stale
//! value after a resolved future means a missing release/acquire edge.
//!
//! Limits (docs/design.md): `UnsafeCell` fields are std cells, invisible to
//! loom; loom models SeqCst accesses as AcqRel, so the code marks its Dekker
//! points with `crate::sync::dekker_fence()`; the parking model wakes every key
//! on any unpark, so a wake-up sent to the wrong key is not caught; the worker
//! loop itself (worker.rs) is driven by each model, over the real doorbell,
//! queue and mailbox.

mod doorbell;
mod mailbox;
mod queue;
mod slot;

use crate::future::{Continuation, Job, Kind, Outcome, Slot};
use loom::sync::atomic::{AtomicUsize, Ordering::*};
use loom::sync::Arc;
use std::ffi::c_void;
use std::ptr;

/// What jobs, hooks and continuations record, all through loom atomics.
#[derive(Default)]
pub(super) struct Probe {
    /// Written (Relaxed) by the job before it returns.
    pub(super) data: AtomicUsize,
    pub(super) ran: AtomicUsize,
    pub(super) hooked: AtomicUsize,
    pub(super) thens_done: AtomicUsize,
    pub(super) thens_cancelled: AtomicUsize,
}

pub(super) const RESULT: usize = 0x2a;
pub(super) const DATA: usize = 4242;

pub(super) unsafe extern "C" fn job(arg: *mut c_void) -> *mut c_void {
    // SAFETY: (model) arg is a live Probe.
    let p = unsafe { &*(arg as *const Probe) };
    p.data.store(DATA, Relaxed);
    p.ran.fetch_add(1, Relaxed);
    RESULT as *mut c_void
}

pub(super) unsafe fn cancel_hook(arg: *mut c_void) {
    // SAFETY: (model) arg is a live Probe.
    let p = unsafe { &*(arg as *const Probe) };
    p.hooked.fetch_add(1, Relaxed);
}

pub(super) unsafe fn cont(data: [*mut c_void; 2], outcome: Outcome) {
    // SAFETY: (model) data[0] is a live Probe.
    let p = unsafe { &*(data[0] as *const Probe) };
    match outcome {
        Outcome::Done(r) => {
            assert_eq!(r as usize, RESULT);
            // The job's write must be visible wherever the continuation runs.
            assert_eq!(
                p.data.load(Relaxed),
                DATA,
                "continuation saw a stale job write"
            );
            p.thens_done.fetch_add(1, Relaxed);
        }
        Outcome::Cancelled | Outcome::Expired => {
            assert_eq!(p.ran.load(Relaxed), 0, "cancelled, yet the job ran");
            p.thens_cancelled.fetch_add(1, Relaxed);
        }
    }
}

pub(super) fn continuation(p: &Probe) -> Continuation {
    // SAFETY: (model) the probe outlives the model's threads.
    unsafe { Continuation::new(cont, [p as *const Probe as *mut c_void, ptr::null_mut()]) }
}

/// A raw slot pointer that may cross (model) threads.
#[derive(Clone, Copy)]
pub(super) struct P(pub(super) *const Slot);
// SAFETY: slots are made to be shared between threads (see future.rs).
unsafe impl Send for P {}
// SAFETY: as above.
unsafe impl Sync for P {}

impl P {
    pub(super) fn slot(&self) -> &Slot {
        // SAFETY: (model) each model keeps the slot alive while it is used.
        unsafe { &*self.0 }
    }
}

/// A heap slot armed as a Shared future with `refs` references.
pub(super) fn shared_slot(probe: &Arc<Probe>, refs: u32) -> P {
    let s = Box::into_raw(Box::new(Slot::new()));
    // SAFETY: (model) the probe outlives the slot.
    let j = unsafe { Job::new(job, Arc::as_ptr(probe) as *mut c_void, Some(cancel_hook)) };
    // SAFETY: fresh, exclusively ours.
    unsafe { (*s).arm(j, Kind::Shared, refs, ptr::null(), 0) };
    P(s)
}

/// Drops one reference; frees the slot when it was the last. Returns true then.
pub(super) fn release(p: P) -> bool {
    if p.slot().release_ref() {
        // SAFETY: that was the last reference.
        drop(unsafe { Box::from_raw(p.0 as *mut Slot) });
        true
    } else {
        false
    }
}

/// The worker's whole part for a shared slot, on a thread of its own: runs the
/// job (unless it was resolved first) and drops the queue's reference. The
/// handle joins to (ran, freed the slot).
pub(super) fn spawn_worker(p: P) -> loom::thread::JoinHandle<(bool, bool)> {
    loom::thread::spawn(move || {
        let ran = run_on_worker(p);
        (ran, release(p))
    })
}

/// The worker's part of `Shared::process` in run mode.
pub(super) fn run_on_worker(p: P) -> bool {
    match p.slot().start() {
        Ok(j) => {
            let r = j.run();
            // SAFETY: we started it.
            unsafe { Slot::complete(p.0, r) };
            p.slot().wait_interrupters();
            true
        }
        Err(_) => false,
    }
}

/// Checks what a resolved waiter saw against what happened.
pub(super) fn check_outcome(o: Outcome, probe: &Probe) {
    match o {
        Outcome::Done(r) => {
            assert_eq!(r as usize, RESULT);
            assert_eq!(
                probe.data.load(Relaxed),
                DATA,
                "waiter saw a stale job write"
            );
        }
        Outcome::Cancelled | Outcome::Expired => {}
    }
}

pub(super) fn model(f: impl Fn() + Sync + Send + 'static) {
    model_bounded(3, f);
}

/// `model` with another default preemption bound (LOOM_MAX_PREEMPTIONS wins).
pub(super) fn model_bounded(bound: usize, f: impl Fn() + Sync + Send + 'static) {
    let mut b = loom::model::Builder::new();
    if b.preemption_bound.is_none() {
        b.preemption_bound = Some(bound);
    }
    b.check(f);
}
