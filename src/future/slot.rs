//! The completion slot: one per job, the state machine behind a future.
//!
//! ```text
//!            start (worker)            complete (worker)
//!   QUEUED ----------------> RUNNING -------------------> DONE
//!      |
//!      +-- cancel (any thread, or the worker at shutdown) --> CANCELLED
//! ```
//! Two flag bits ride along while the job is unresolved: `WAITERS` (a thread
//! parked, or is about to park, on this slot: the resolver must unpark) and
//! `HAS_THEN` (continuations are attached: the resolver must run them). Whoever
//! resolves the slot learns both from the single RMW that resolves it, so a
//! completion that nobody waits for costs no wake-up at all.
//!
//! Each slot is cache-line padded and, on the hot path, written by one thread at
//! a time: the submitter fills it before publishing it through the queue, the
//! worker writes the result before the resolving RMW.

use super::deadline;
use super::thens::Thens;
use super::{Continuation, Job, Outcome};
use crate::park;
use crate::sync::{AtomicU32, Mutex, Ordering};
use crate::waiter;
use std::cell::UnsafeCell;
use std::ffi::c_void;
use std::ptr;
use std::time::Instant;

pub(crate) const QUEUED: u32 = 0;
pub(crate) const RUNNING: u32 = 1;
pub(crate) const DONE: u32 = 2;
pub(crate) const CANCELLED: u32 = 3;
const PHASE: u32 = 3;
const WAITERS: u32 = 4;
const HAS_THEN: u32 = 8;
/// Set together with CANCELLED: the job was withdrawn because its deadline
/// passed before it started.
const EXPIRED: u32 = 16;

/// Who owns the slot's memory while it is in flight.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Kind {
    /// A synchronous call: the caller owns the slot and waits until it resolves;
    /// the worker must not touch it after the resolving RMW.
    Call,
    /// A future: reference counted between the handle and the queue.
    Shared,
}

/// Identity of the runtime that runs the slot's job. Compared, never followed,
/// except by that runtime's own worker (which knows it is alive).
pub(crate) type OwnerId = *const ();

/// One job's completion slot.
///
/// Layout: everything the worker touches for a job is in the first 64-byte
/// line (state, job, result, deadline, interrupters); the second line holds
/// what only slow paths read (fork generation, continuations). A field of the
/// worker's in the second line costs one more cache-line transfer per job:
/// seen as batches 20-35 % slower.
#[repr(C, align(128))]
pub(crate) struct Slot {
    /// Phase and flags; the futex-like word waiters park on (by address).
    state: AtomicU32,
    /// References for `Kind::Shared` slots (handle + queue).
    refs: AtomicU32,
    /// Threads inside `interrupt_running` (see there).
    interrupters: AtomicU32,
    /// Fields below are written by the submitter before the slot is published
    /// through the queue (a release/acquire hand-off) and are then read-only,
    /// except `result` (written by the worker before the resolving RMW).
    kind: UnsafeCell<Kind>,
    job: UnsafeCell<Option<Job>>,
    result: UnsafeCell<*mut c_void>,
    owner: UnsafeCell<OwnerId>,
    /// The job must start before this (`deadline::encode`; 0: no deadline).
    deadline: UnsafeCell<u64>,
    // -- second line --
    fork_gen: UnsafeCell<u64>,
    /// Continuations (cold path: a lock only when `then` is used).
    thens: Mutex<Thens>,
}

// SAFETY: all shared mutation goes through atomics or the mutex; the UnsafeCell
// fields follow the single-writer hand-off protocol described on the fields.
unsafe impl Sync for Slot {}
// SAFETY: as above; a slot moves between threads through the pool.
unsafe impl Send for Slot {}

impl Slot {
    pub(crate) fn new() -> Slot {
        Slot {
            state: AtomicU32::new(DONE),
            refs: AtomicU32::new(0),
            kind: UnsafeCell::new(Kind::Call),
            job: UnsafeCell::new(None),
            result: UnsafeCell::new(ptr::null_mut()),
            owner: UnsafeCell::new(ptr::null()),
            fork_gen: UnsafeCell::new(0),
            deadline: UnsafeCell::new(0),
            interrupters: AtomicU32::new(0),
            thens: Mutex::new(Thens::new()),
        }
    }

    /// Prepares a recycled slot for a new job.
    ///
    /// # Safety
    /// The caller must own the slot exclusively (fresh from the pool).
    pub(crate) unsafe fn arm(&self, job: Job, kind: Kind, refs: u32, owner: OwnerId, gen: u64) {
        // SAFETY: exclusive ownership (contract): no other thread reads these.
        unsafe {
            *self.kind.get() = kind;
            *self.job.get() = Some(job);
            *self.result.get() = ptr::null_mut();
            *self.owner.get() = owner;
            *self.fork_gen.get() = gen;
            *self.deadline.get() = 0;
        }
        // Relaxed: the slot is not shared yet; publication through the queue
        // (release push / acquire pop) orders these stores for the worker.
        self.refs.store(refs, Ordering::Relaxed);
        self.state.store(QUEUED, Ordering::Relaxed);
    }

    /// Gives the armed (not yet published) job a deadline to start by.
    ///
    /// # Safety
    /// As for `arm`: the caller owns the slot exclusively.
    pub(crate) unsafe fn set_deadline(&self, deadline: Instant) {
        // SAFETY: exclusive ownership (contract).
        unsafe { *self.deadline.get() = deadline::encode(deadline) };
    }

    /// The deadline the job must start by, if any.
    pub(crate) fn deadline(&self) -> Option<Instant> {
        // SAFETY: written before publication, read-only afterwards.
        deadline::decode(unsafe { *self.deadline.get() })
    }

    /// True if the job has a deadline and it has passed (reads the clock only
    /// for jobs that have one).
    pub(crate) fn missed_deadline(&self) -> bool {
        // SAFETY: written before publication, read-only afterwards.
        let d = unsafe { *self.deadline.get() };
        d != 0 && deadline::now() >= d
    }

    /// The link of a chain of unarmed slots (`pool::take_many`), kept in the
    /// result field, which an unarmed slot does not use.
    ///
    /// # Safety
    /// The caller owns the slot exclusively and has not armed it.
    pub(crate) unsafe fn chain_next(&self) -> *mut Slot {
        // SAFETY: exclusive ownership (contract).
        unsafe { *self.result.get() as *mut Slot }
    }

    /// # Safety
    /// As `chain_next`.
    pub(crate) unsafe fn set_chain_next(&self, next: *mut Slot) {
        // SAFETY: exclusive ownership (contract).
        unsafe { *self.result.get() = next as *mut c_void };
    }

    pub(crate) fn key(&self) -> usize {
        &self.state as *const AtomicU32 as usize
    }

    pub(crate) fn owner(&self) -> OwnerId {
        // SAFETY: written before publication, read-only afterwards.
        unsafe { *self.owner.get() }
    }

    pub(crate) fn fork_gen(&self) -> u64 {
        // SAFETY: written before publication, read-only afterwards.
        unsafe { *self.fork_gen.get() }
    }

    pub(crate) fn kind(&self) -> Kind {
        // SAFETY: written before publication, read-only afterwards.
        unsafe { *self.kind.get() }
    }

    /// True once done or resolved without running.
    pub(crate) fn is_resolved(&self) -> bool {
        self.phase() >= DONE
    }

    /// The current phase (QUEUED, RUNNING, DONE or CANCELLED).
    pub(crate) fn phase(&self) -> u32 {
        // Acquire: a DONE phase must make the result visible.
        self.state.load(Ordering::Acquire) & PHASE
    }

    /// The outcome, if resolved.
    pub(crate) fn outcome(&self) -> Option<Outcome> {
        // Acquire pairs with the release in `complete`/`cancel`, making `result`
        // (written before the resolving RMW) visible.
        let s = self.state.load(Ordering::Acquire);
        match s & PHASE {
            // SAFETY: DONE is set after `result` was written; never written again
            // until the slot is recycled, which needs every reference gone.
            DONE => Some(Outcome::Done(unsafe { *self.result.get() })),
            CANCELLED => Some(resolved_unstarted(s)),
            _ => None,
        }
    }

    /// QUEUED -> RUNNING. Returns the job if it was still queued; else how it
    /// was resolved while queued (cancelled or expired).
    pub(crate) fn start(&self) -> Result<Job, Outcome> {
        // fetch_or(RUNNING) moves QUEUED(0) to RUNNING(1) and leaves CANCELLED(3)
        // unchanged, so starting costs one RMW and cannot resurrect a cancelled
        // job. Acquire: the job fields were published before the slot was queued
        // (also ordered by the queue), and a racing `cancel` must be observed.
        let prev = self.state.fetch_or(RUNNING, Ordering::Acquire);
        if prev & PHASE == QUEUED {
            // SAFETY: only the worker takes the job, after winning QUEUED->RUNNING.
            Ok(unsafe { (*self.job.get()).take() }.expect("an armed slot has its job"))
        } else {
            Err(resolved_unstarted(prev))
        }
    }

    /// RUNNING -> DONE with `result`. Wakes parked waiters, runs continuations.
    ///
    /// # Safety
    /// `this` must be a slot this thread started. For `Kind::Call` slots the
    /// caller may recycle the slot the moment DONE is visible, so after the
    /// resolving swap this function only uses the slot's address as a parking
    /// key (and continuations, which only `Kind::Shared` slots can have; the
    /// resolver holds a reference to those).
    pub(crate) unsafe fn complete(this: *const Slot, result: *mut c_void) {
        // SAFETY: only the worker that started the job writes the result, before
        // publishing DONE; nobody reads it before observing DONE.
        unsafe { *(*this).result.get() = result };
        // SAFETY: the slot is alive until the swap below publishes DONE.
        let (state, key) = unsafe { (&(*this).state, (*this).key()) };
        // AcqRel: release publishes `result`; acquire makes continuations pushed
        // by `then` (under its lock, before it set HAS_THEN) visible to us.
        // SeqCst: also one half of the Dekker pair of `interrupt_running`.
        let prev = state.swap(DONE, Ordering::SeqCst);
        crate::sync::dekker_fence();
        // SAFETY: see the function's contract.
        unsafe { Slot::after_resolve(this, prev, key, Outcome::Done(result)) };
    }

    /// QUEUED -> CANCELLED. Returns false if the job had started or resolved
    /// otherwise (true if this call, or an earlier one, cancelled it). Runs the
    /// job's cancel hook, continuations (on this thread) and wakes waiters.
    ///
    /// # Safety
    /// `this` must be alive on entry; as for `complete`, a `Kind::Call` slot is
    /// not touched after the resolving CAS.
    pub(crate) unsafe fn cancel(this: *const Slot) -> bool {
        // SAFETY: forwarded contract.
        match unsafe { Slot::withdraw(this, CANCELLED) } {
            Ok(()) => true,
            Err(Some(Outcome::Cancelled)) => true,
            Err(_) => false,
        }
    }

    /// QUEUED -> CANCELLED + EXPIRED: the job missed its deadline. True if this
    /// call expired it.
    ///
    /// # Safety
    /// As for `cancel`.
    pub(crate) unsafe fn expire(this: *const Slot) -> bool {
        // SAFETY: forwarded contract.
        unsafe { Slot::withdraw(this, CANCELLED | EXPIRED) }.is_ok()
    }

    /// Resolves a queued job without running it (`to`: CANCELLED, perhaps with
    /// EXPIRED). `Err(None)`: it started (or ran); `Err(Some(o))`: it was
    /// already resolved without running, as `o`.
    ///
    /// # Safety
    /// As for `cancel`.
    unsafe fn withdraw(this: *const Slot, to: u32) -> Result<(), Option<Outcome>> {
        // SAFETY: alive on entry (contract).
        let state = unsafe { &(*this).state };
        let key = state as *const AtomicU32 as usize;
        // Relaxed initial load: the CAS below re-validates with AcqRel.
        let mut cur = state.load(Ordering::Relaxed);
        loop {
            match cur & PHASE {
                QUEUED => {}
                CANCELLED => return Err(Some(resolved_unstarted(cur))),
                _ => return Err(None),
            }
            // SAFETY: alive on entry; `kind` is read-only while queued.
            let kind = unsafe { (*this).kind() };
            // AcqRel: acquire sees continuations attached before HAS_THEN was set;
            // release orders the cancellation before waiters observe it.
            let next = (cur & !PHASE) | to;
            match state.compare_exchange_weak(cur, next, Ordering::AcqRel, Ordering::Relaxed) {
                Ok(prev) => {
                    // Winning QUEUED->CANCELLED makes us the only thread that will
                    // ever touch the job. Call slots carry no cancel hook and may
                    // already be recycled by their waiting caller: skip them.
                    if kind == Kind::Shared {
                        // SAFETY: Shared slots are kept alive by the canceller's
                        // reference; the worker never takes a cancelled job.
                        if let Some(job) = unsafe { (*(*this).job.get()).take() } {
                            job.discard();
                        }
                    }
                    let outcome = resolved_unstarted(next);
                    // SAFETY: see the function's contract.
                    unsafe { Slot::after_resolve(this, prev, key, outcome) };
                    return Ok(());
                }
                Err(actual) => cur = actual,
            }
        }
    }

    /// Interrupter side: runs `hook` if (and only while) the job is running,
    /// and returns whether it did. The worker does not start its next job, nor
    /// touch this slot again, before every `hook` that saw the job running has
    /// returned (`wait_interrupters`), so a hook never overlaps a later job.
    ///
    /// Only `Kind::Shared` slots may be interrupted (the caller holds a
    /// reference; Call slots have no handle).
    pub(crate) fn interrupt_running(&self, hook: impl FnOnce()) -> bool {
        // SeqCst: a Dekker pair with `complete` (swap the phase to DONE, then
        // read this count in `wait_interrupters`): either the worker sees our
        // increment and waits for us, or we see DONE and do not call the hook.
        self.interrupters.fetch_add(1, Ordering::SeqCst);
        crate::sync::dekker_fence();
        let running = self.state.load(Ordering::SeqCst) & PHASE == RUNNING;
        if running {
            hook();
        }
        // Release: the hook's effects happen-before the worker moves on.
        self.interrupters.fetch_sub(1, Ordering::Release);
        running
    }

    /// Worker side, after `complete` of a `Kind::Shared` slot it still holds a
    /// reference to: waits for interrupt hooks in flight (see `interrupt_running`).
    pub(crate) fn wait_interrupters(&self) {
        // SeqCst: the other half of the Dekker pair (see `interrupt_running`);
        // acquire: the hooks' effects are visible once we see zero.
        while self.interrupters.load(Ordering::SeqCst) != 0 {
            crate::sync::yield_now();
        }
    }

    /// # Safety
    /// `this` is dereferenced only if `prev` has HAS_THEN (a Shared slot whose
    /// resolver holds a reference).
    unsafe fn after_resolve(this: *const Slot, prev: u32, key: usize, outcome: Outcome) {
        if prev & WAITERS != 0 {
            waiter::wake_all(key);
        }
        if prev & HAS_THEN != 0 {
            // SAFETY: see above.
            let (first, more) = unsafe { (*this).thens.lock().take() };
            first.into_iter().chain(more).for_each(|c| c.run(outcome));
        }
    }

    /// Attaches a continuation: runs it now (on this thread) if the slot is
    /// already resolved, else on the resolving thread. `Err(NoMemory)` (and
    /// nothing attached) if the list cannot grow.
    pub(crate) fn then(&self, cont: Continuation) -> Result<(), crate::Error> {
        // Fast path, lock-free: already resolved.
        if let Some(o) = self.outcome() {
            cont.run(o);
            return Ok(());
        }
        let mut list = self.thens.lock();
        list.push(cont)?;
        // Relaxed initial load: the CAS re-validates.
        let mut cur = self.state.load(Ordering::Relaxed);
        loop {
            if cur & PHASE >= DONE {
                // Resolved before we could flag it: the resolver will not run ours
                // (only those attached earlier, after we unlock). Take ours back.
                list.pop();
                drop(list);
                // Acquire through outcome(): result visibility.
                cont.run(self.outcome().expect("resolved"));
                return Ok(());
            }
            if cur & HAS_THEN != 0 {
                return Ok(()); // already flagged; the resolver will lock and see ours
            }
            // Release: our push (under the lock) happens-before the resolver's
            // acquire swap observes HAS_THEN. The resolver also takes the lock.
            match self.state.compare_exchange_weak(
                cur,
                cur | HAS_THEN,
                Ordering::Release,
                Ordering::Relaxed,
            ) {
                Ok(_) => return Ok(()),
                Err(actual) => cur = actual,
            }
        }
    }

    /// Blocks the calling thread until the slot resolves or `deadline` passes:
    /// spins briefly, then parks. Returns the outcome, or None on timeout.
    ///
    /// `worker`: where the job's worker last went idle (see
    /// `park::wait_for_worker`).
    pub(crate) fn wait(
        &self,
        deadline: Option<Instant>,
        worker: park::WorkerCpu,
    ) -> Option<Outcome> {
        if let Some(o) = self.outcome() {
            return Some(o);
        }
        let done = || self.phase() >= DONE;
        let waited = park::wait_for_worker(worker, deadline, done);
        if waited {
            return self.outcome();
        }
        loop {
            if let Some(o) = self.outcome() {
                return Some(o);
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return None;
            }
            self.park_until_resolved(deadline, || true);
        }
    }

    /// Flags WAITERS and sleeps once (the protocol of waiter.rs, announcement
    /// and condition in this one word): returns on wake-up, resolution,
    /// timeout, or when `still_wanted()` is false under the bucket lock.
    pub(crate) fn park_until_resolved(
        &self,
        deadline: Option<Instant>,
        still_wanted: impl FnOnce() -> bool,
    ) {
        // Announce: set WAITERS unless resolved. Relaxed initial load, the CAS
        // re-validates; Relaxed is enough (waiter.rs: one word).
        let mut cur = self.state.load(Ordering::Relaxed);
        loop {
            if cur & PHASE >= DONE {
                return;
            }
            if cur & WAITERS != 0 {
                break;
            }
            match self.state.compare_exchange_weak(
                cur,
                cur | WAITERS,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => break,
                Err(actual) => cur = actual,
            }
        }
        waiter::sleep(self.key(), deadline, || {
            let s = self.state.load(Ordering::Relaxed);
            s & PHASE < DONE && s & WAITERS != 0 && still_wanted()
        });
        // WAITERS stays set until the slot resolves: clearing it could race a
        // second waiter's announcement, and a resolver that finds it set for
        // nobody pays one cheap unpark.
    }

    /// Drops a reference; true if it was the last (the caller recycles the slot).
    pub(crate) fn release_ref(&self) -> bool {
        // Release, then an acquire on the last drop: as Arc, every use of the
        // slot by other holders happens-before it is recycled. An acquire load
        // of the counter rather than an acquire fence: the same edge (our RMW
        // ends the release sequence), and one ThreadSanitizer can see.
        if self.refs.fetch_sub(1, Ordering::Release) == 1 {
            let _ = self.refs.load(Ordering::Acquire);
            true
        } else {
            false
        }
    }
}

/// The outcome of a slot resolved without running, from its state word.
fn resolved_unstarted(state: u32) -> Outcome {
    if state & EXPIRED != 0 {
        Outcome::Expired
    } else {
        Outcome::Cancelled
    }
}

// A slot is one 128-byte line pair (its alignment): growing past that doubles
// the memory every submit touches; and the worker's fields fit the first line.
// (loom's atomics are larger, so the layout is only checked on the real ones.)
#[cfg(not(loom))]
const _: () = assert!(std::mem::size_of::<Slot>() == 128);
#[cfg(not(loom))]
const _: () = assert!(std::mem::offset_of!(Slot, fork_gen) == 64);
