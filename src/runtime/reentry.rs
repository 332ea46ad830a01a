//! Re-entrancy: what a worker does when one of its jobs (or hooks) waits —
//! for a job of its own runtime, for another runtime's job, for room in
//! another runtime's queue, for another runtime to start or to exit.
//!
//! The rules (the README's "Re-entrancy"):
//! - Waiting for a job of its own runtime, the worker runs its queue up to it.
//! - Waiting for anything of another runtime, it serves its own calls lane
//!   (jobs other runtimes' workers submitted to it — e.g. the runtime it waits
//!   for calling back), never its main or urgent lane, so runtimes calling each
//!   other do not deadlock and a job never runs in the middle of an unrelated
//!   job of the same runtime.
//! - At most `MAX_NESTED` jobs nest on one worker this way; a job at that depth
//!   that would wait for another runtime gets `WouldDeadlock` at once (chains
//!   deeper than that would overflow the stack instead).
//! - Workers shutting each other down (a cycle of exit waits) are detected:
//!   the call that would close the cycle returns `WouldDeadlock`.

use super::worker::{Fairness, Shared};
use crate::error::Error;
use crate::future::{Outcome, Slot};
use crate::park::lock::ForkLock;
use crate::queue::{Lane, Refused};
use crate::{park, waiter};
use std::cell::Cell;
use std::ptr;
use std::time::Instant;

/// How many jobs may nest on one worker inside waits for other runtimes.
pub(crate) const MAX_NESTED: u32 = 64;

thread_local! {
    /// The runtime whose worker this thread is (null elsewhere).
    static CURRENT: Cell<*const Shared> = const { Cell::new(ptr::null()) };
    /// Jobs this worker runs nested inside waits for other runtimes.
    static NESTED: Cell<u32> = const { Cell::new(0) };
}

/// The runtime whose worker the calling thread is, or null.
pub(crate) fn current_worker() -> *const Shared {
    CURRENT.try_with(|c| c.get()).unwrap_or(ptr::null())
}

/// Calls `f` with the runtime whose worker the calling thread is, if any.
pub(crate) fn with_current<R>(f: impl FnOnce(Option<&Shared>) -> R) -> R {
    // SAFETY: CURRENT is set only while this thread runs that worker's loop,
    // which holds a reference to its Shared for longer than this call.
    f(unsafe { current_worker().as_ref() })
}

/// Marks the calling thread as `shared`'s worker (for its whole life).
pub(crate) fn enter_worker(shared: *const Shared) {
    let _ = CURRENT.try_with(|c| c.set(shared));
}

/// The worker loop is done.
pub(crate) fn leave_worker() {
    let _ = CURRENT.try_with(|c| c.set(ptr::null()));
}

/// Whether a worker may start waiting for another runtime (below the cap).
pub(crate) fn may_wait() -> Result<(), Error> {
    if NESTED.with(Cell::get) < MAX_NESTED {
        Ok(())
    } else {
        Err(Error::WouldDeadlock)
    }
}

impl Shared {
    /// Waits, on this runtime's worker, for a slot: for a job of this runtime,
    /// runs the queue up to it; for another runtime's job, serves this
    /// runtime's calls lane meanwhile.
    pub(crate) fn wait_on_worker(
        &self,
        p: *const Slot,
        deadline: Option<Instant>,
    ) -> Result<Outcome, Error> {
        // SAFETY: the caller holds a reference to (or owns) the slot.
        let s = unsafe { &*p };
        if let Some(o) = s.outcome() {
            return Ok(o);
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            // A poll: report, without running this worker's queue meanwhile.
            return Err(Error::Timeout);
        }
        if s.owner() == self.id() {
            // Our own job: it is queued behind us (run the queue up to it) or
            // running, i.e. somewhere up this very stack.
            let mut fair = Fairness::default();
            loop {
                if let Some(o) = s.outcome() {
                    return Ok(o);
                }
                self.check_not_forked()?;
                if let Some(q) = self.next_job(&mut fair) {
                    self.process(q);
                    continue;
                }
                if deadline.is_some_and(|d| Instant::now() >= d) {
                    return Err(Error::Timeout);
                }
                // Not resolved and not queued. (Check once more: a canceller
                // may have won.)
                return s.outcome().ok_or(Error::WouldDeadlock);
            }
        }
        may_wait()?;
        let sleep = |until: Option<Instant>, rung: &dyn Fn() -> bool| {
            s.park_until_resolved(until, || !rung())
        };
        self.wait_serving(deadline, s.key(), || s.is_resolved(), sleep)?;
        Ok(s.outcome().expect("resolved"))
    }

    /// Waits, on this runtime's worker, until `done()` (Ok) or `deadline`
    /// (`Timeout`), serving the calls lane meanwhile. `sleep(until, rung)`
    /// parks once on `key` (through waiter.rs), validating that its condition
    /// is still false and that `rung()` is false; whoever makes `done()` true
    /// wakes `key`. The caller checked `may_wait()`.
    pub(crate) fn wait_serving(
        &self,
        deadline: Option<Instant>,
        key: usize,
        done: impl Fn() -> bool,
        sleep: impl Fn(Option<Instant>, &dyn Fn() -> bool),
    ) -> Result<(), Error> {
        loop {
            if done() {
                return Ok(());
            }
            // A fork() in a nested job leaves this copy of the worker waiting
            // for a thread that is not in the child.
            self.check_not_forked()?;
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return Err(Error::Timeout);
            }
            if let Some(p) = self.queue.pop_call() {
                NESTED.with(|n| n.set(n.get() + 1));
                self.process(p);
                NESTED.with(|n| n.set(n.get() - 1));
                continue;
            }
            if self.queue.has_calls() {
                // Room reserved but not yet pushed: let the submitter run.
                std::thread::yield_now();
                continue;
            }
            let ready = || done() || self.queue.has_calls();
            if park::spin_then_yield(park::CALLER_SPIN, deadline, &ready) {
                continue;
            }
            self.doorbell
                .sleep(key, true, ready, |rung| sleep(deadline, rung));
        }
    }

    /// Reserves room in this runtime's calls lane from the worker `me` of
    /// another runtime, serving `me`'s calls lane while the lane is full.
    pub(crate) fn reserve_from_worker(&self, me: &Shared, n: usize) -> Result<(), Error> {
        loop {
            match self.queue.try_reserve(n, Lane::Calls) {
                Ok(()) => return Ok(()),
                Err(Refused::Full) => {}
                Err(e) => return Err(e.into()),
            }
            may_wait()?;
            let q = &self.queue;
            let sleep = |until: Option<Instant>, rung: &dyn Fn() -> bool| {
                q.park_for_room(n, Lane::Calls, until, &|| !rung())
            };
            let fits = || q.fits_or_closed(n, Lane::Calls);
            me.wait_serving(None, q.room_key(), fits, sleep)?;
        }
    }

    /// Waits on the worker `me` for this runtime's worker to exit (a job
    /// shutting down or freeing another runtime), serving `me`'s calls lane —
    /// unless this runtime's worker waits (directly or through others) for
    /// `me`'s exit: then `WouldDeadlock`.
    pub(crate) fn wait_exit_from_worker(&self, me: &Shared) -> Result<(), Error> {
        may_wait()?;
        let _listed = ExitWait::enter(me.id() as usize, self.id() as usize)?;
        let key = self.exited_key();
        let sleep = |until: Option<Instant>, rung: &dyn Fn() -> bool| {
            waiter::sleep(key, until, || !self.has_exited() && !rung())
        };
        me.wait_serving(None, key, || self.has_exited(), sleep)
    }

    /// Waits on the worker `me` for this runtime's worker to have started
    /// (`qthr_init` called from a job): serving `me`'s calls lane, since
    /// `on_start` may call back into `me`'s runtime.
    pub(crate) fn wait_start_from_worker(&self, me: &Shared) -> Result<(), Error> {
        let key = self.start_key();
        let sleep = |until: Option<Instant>, rung: &dyn Fn() -> bool| {
            waiter::sleep(key, until, || !self.start_signalled() && !rung())
        };
        me.wait_serving(None, key, || self.start_signalled(), sleep)
    }
}

/// Which worker waits, inside a job, for which runtime's worker to exit:
/// (waiter, target) runtime addresses. Both are alive while their pair is
/// listed: the waiter's worker is running the job, and the target's handle is
/// borrowed by the waiting `shutdown`. Cold path: a plain lock, fork-safe.
static EXIT_WAITS: ForkLock<Vec<(usize, usize)>> = ForkLock::new(Vec::new());

/// One listed wait; unlisted on drop.
struct ExitWait(usize, usize);

impl ExitWait {
    /// Lists `waiter` as waiting for `target` to exit, unless `target` already
    /// waits (directly or through others) for `waiter` to exit: then waiting
    /// would deadlock. Checking and listing under one lock means that of two
    /// workers shutting each other down, the second one sees the cycle.
    fn enter(waiter: usize, target: usize) -> Result<ExitWait, Error> {
        let mut waits = EXIT_WAITS.lock();
        let mut cur = target;
        // Each worker waits for at most one exit, so this is a chain (cycle-free:
        // every entry passed this check).
        while let Some(&(_, next)) = waits.iter().find(|(w, _)| *w == cur) {
            if next == waiter {
                return Err(Error::WouldDeadlock);
            }
            cur = next;
        }
        waits.try_reserve(1).map_err(|_| Error::NoMemory)?;
        waits.push((waiter, target));
        Ok(ExitWait(waiter, target))
    }
}

impl Drop for ExitWait {
    fn drop(&mut self) {
        let mut waits = EXIT_WAITS.lock();
        if let Some(i) = waits.iter().position(|&(w, t)| (w, t) == (self.0, self.1)) {
            waits.swap_remove(i);
        }
    }
}

/// The atfork handlers' part for the exit-wait list.
pub(crate) mod fork_hooks {
    use super::EXIT_WAITS;

    pub(crate) fn prepare() {
        EXIT_WAITS.fork_prepare();
    }
    pub(crate) fn parent() {
        EXIT_WAITS.fork_parent();
    }
    /// The waits listed were the parent's workers'.
    pub(crate) fn child() {
        EXIT_WAITS.fork_child(Vec::clear);
    }
}
