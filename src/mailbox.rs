//! The call mailbox: a one-job hand-off line beside the queue, for synchronous
//! calls from threads that are not workers.
//!
//! A call through the queue moves many cache lines between the caller and the
//! worker (the gate counter both ways, the ring's tail and cell, the completion
//! slot both ways). Through the mailbox it moves one line, and each way once,
//! like a spin ping-pong: the caller writes the job into the line and flips it
//! to REQUEST; the worker, polling it, runs the job, writes the result into the
//! same line and flips it to DONE; the caller reads the result.
//!
//! The caller does not hand the line back by writing it (the worker, polling
//! it, would pull it across once more, and the next claim pull it back): it
//! acknowledges its result on a second line that only callers touch. The next
//! claim, by the same caller or another, needs the line DONE (or CANCELLED, or
//! never used) and the acknowledgement of that call's ticket; the ticket lives
//! in the state word's high bits.
//!
//! One caller at a time owns the mailbox; the others, and every caller while
//! jobs are queued (so a thread's earlier submits run before its call), take
//! the queue. The mailbox holds at most one job, so it needs no room
//! accounting; shutdown closes it with a flag the claiming CAS cannot get past,
//! and the worker runs (or cancels) a request that got in before.

use crate::future::{Job, JobFn, Outcome};
use crate::park;
use crate::sync::{AtomicUsize, Ordering};
use crate::waiter;
use crossbeam_utils::CachePadded;
use std::cell::UnsafeCell;
use std::ffi::c_void;

/// Never used since the mailbox was made; a caller may claim it.
const IDLE: usize = 0;
/// Claimed by a caller that is writing the job.
const CLAIMED: usize = 1;
/// The job is written; the worker may run it.
const REQUEST: usize = 2;
/// The job ran; the result is written.
const DONE: usize = 3;
/// The job was cancelled by a cancelling shutdown; it never ran.
const CANCELLED: usize = 4;
const PHASE: usize = 7;
/// The caller parked (or is about to): the worker must unpark it.
const WAITER: usize = 8;
/// Shut down: no more claims.
const CLOSED: usize = 16;
/// The ticket (call number) is the state word shifted right by this.
const TICKET_SHIFT: u32 = 8;

/// A posted call's number: `wait` acknowledges it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Ticket(usize);

impl Ticket {
    /// The first call posted to its mailbox.
    pub(crate) fn is_first(self) -> bool {
        self.0 == 1
    }
}

struct Line {
    state: AtomicUsize,
    func: UnsafeCell<Option<JobFn>>,
    arg: UnsafeCell<*mut c_void>,
    result: UnsafeCell<*mut c_void>,
}

/// The mailbox: the hand-off line, and the callers' acknowledgement line.
pub(crate) struct Mailbox {
    line: CachePadded<Line>,
    /// The ticket of the last call whose caller has read its outcome.
    acked: CachePadded<AtomicUsize>,
}

// SAFETY: the UnsafeCells are accessed only by the thread the state word gives
// them to (the claiming caller until REQUEST, the worker until DONE/CANCELLED,
// that caller again until it acknowledges the ticket), with release/acquire on
// the state word or the acknowledgement at each hand-over.
unsafe impl Sync for Mailbox {}
// SAFETY: as above; the raw pointers are plain data passed through.
unsafe impl Send for Mailbox {}

impl Mailbox {
    pub(crate) fn new() -> Mailbox {
        Mailbox {
            line: CachePadded::new(Line {
                state: AtomicUsize::new(IDLE),
                func: UnsafeCell::new(None),
                arg: UnsafeCell::new(std::ptr::null_mut()),
                result: UnsafeCell::new(std::ptr::null_mut()),
            }),
            acked: CachePadded::new(AtomicUsize::new(0)),
        }
    }

    fn key(&self) -> usize {
        &self.line.state as *const AtomicUsize as usize
    }

    /// Caller: claims the mailbox and posts `job`. None (nothing done) if it
    /// is busy or closed. After Some, the caller must `wake` the worker if it
    /// sleeps, then `wait` with the ticket.
    pub(crate) fn post(&self, job: &Job) -> Option<Ticket> {
        let state = &self.line.state;
        // Relaxed: the CAS below re-validates the word.
        let s = state.load(Ordering::Relaxed);
        let phase = s & PHASE;
        if s & CLOSED != 0 || !(phase == IDLE || phase == DONE || phase == CANCELLED) {
            return None;
        }
        let ticket = s >> TICKET_SHIFT;
        // Acquire: the previous caller read its outcome before it acknowledged
        // (Release), so that read happens before our writes below and before
        // the worker's next write of the result. (For IDLE: ticket 0, acked 0.)
        if self.acked.load(Ordering::Acquire) != ticket {
            return None;
        }
        let mine = ticket.wrapping_add(1);
        // Relaxed on success: the acknowledgement above already ordered us
        // after the previous caller; the worker's writes of the previous call
        // (result, flip) were acquired by that caller. The CAS expects the word
        // exactly (WAITER/CLOSED included), so a close in between makes it fail.
        let claimed = (mine << TICKET_SHIFT) | CLAIMED;
        if state
            .compare_exchange(s, claimed, Ordering::Relaxed, Ordering::Relaxed)
            .is_err()
        {
            return None;
        }
        // SAFETY: CLAIMED gives us the line (see the Sync impl).
        unsafe {
            *self.line.func.get() = Some(job.func);
            *self.line.arg.get() = job.arg;
        }
        // SeqCst: Release publishes the job to the worker's Acquire load; and
        // this RMW, then the caller's SeqCst load of the worker's sleep key,
        // is one half of the Dekker pair of Shared::wake_worker (the worker
        // stores its sleep key, then loads this word). XOR keeps a CLOSED flag
        // set meanwhile by a shutdown (CLAIMED ^ (CLAIMED ^ REQUEST) = REQUEST).
        state.fetch_xor(CLAIMED ^ REQUEST, Ordering::SeqCst);
        crate::sync::dekker_fence();
        Some(Ticket(mine))
    }

    /// Worker: true if a posted job waits to be served.
    pub(crate) fn has_request(&self) -> bool {
        // SeqCst: the worker's half of the Dekker pair (see `post`).
        self.line.state.load(Ordering::SeqCst) & PHASE == REQUEST
    }

    /// Worker: hands the posted job to `run`, which runs it (`Some(result)`) or
    /// cancels it (`None`), and hands the outcome to the caller. False if no
    /// job was posted.
    pub(crate) fn serve(&self, run: impl FnOnce(Job) -> Option<*mut c_void>) -> bool {
        let state = &self.line.state;
        // Acquire: pairs with the caller's release in `post`: the job is visible.
        if state.load(Ordering::Acquire) & PHASE != REQUEST {
            return false;
        }
        // SAFETY: REQUEST gives the line to the worker (see the Sync impl).
        let (func, arg) = unsafe { (*self.line.func.get(), *self.line.arg.get()) };
        // The caller's `Job` minus its cancel hook, which it runs itself if
        // the job is cancelled (`Executor::call`).
        let job = Job {
            func: func.expect("a posted job"),
            arg,
            on_cancel: None,
        };
        let outcome = match run(job) {
            Some(r) => {
                // SAFETY: still ours until the flip below.
                unsafe { *self.line.result.get() = r };
                DONE
            }
            None => CANCELLED,
        };
        // Release: the result is visible to the caller's Acquire load. The
        // caller may set WAITER concurrently: XOR keeps it (and CLOSED).
        let old = state.fetch_xor(REQUEST ^ outcome, Ordering::AcqRel);
        if old & WAITER != 0 {
            waiter::wake_all(self.key());
        }
        true
    }

    /// Caller, after `post` gave `ticket`: waits for the outcome (spinning,
    /// yielding or parking at once if the worker is on this CPU: see
    /// `park::wait_for_worker`), reads it and acknowledges it.
    pub(crate) fn wait(&self, ticket: Ticket, worker: park::WorkerCpu) -> Outcome {
        let state = &self.line.state;
        // Acquire: pairs with the worker's release in `serve`. Nobody else can
        // move the word past DONE/CANCELLED before we acknowledge.
        let resolved = || {
            let p = state.load(Ordering::Acquire) & PHASE;
            p == DONE || p == CANCELLED
        };
        let waited = park::wait_for_worker(worker, None, resolved);
        if !waited {
            while !resolved() {
                // The protocol of waiter.rs, announcement and condition in one
                // word: Relaxed is enough for the flag.
                state.fetch_or(WAITER, Ordering::Relaxed);
                waiter::sleep(self.key(), None, || !resolved());
            }
        }
        let out = if state.load(Ordering::Acquire) & PHASE == DONE {
            // SAFETY: DONE gives the line back to us until we acknowledge.
            Outcome::Done(unsafe { *self.line.result.get() })
        } else {
            Outcome::Cancelled
        };
        // Release: our read of the result happens before the next claim
        // (Acquire), hence before the worker writes the next result.
        self.acked.store(ticket.0, Ordering::Release);
        out
    }

    /// Closes the mailbox: later `post`s fail. Idempotent; any thread.
    pub(crate) fn close(&self) {
        // Relaxed is enough for the flag itself: a claim is a CAS from the
        // exact word it checked for CLOSED, which fails once the flag is in the
        // word's modification order; the worker's `finish` orders its own
        // checks with its RMW.
        self.line.state.fetch_or(CLOSED, Ordering::Relaxed);
    }

    /// Worker, when it stops: closes the mailbox and serves (see `serve`) the
    /// job of a caller that claimed it before; true if there was one. Nothing
    /// can be posted after.
    pub(crate) fn finish(&self, run: impl FnOnce(Job) -> Option<*mut c_void>) -> bool {
        let state = &self.line.state;
        // Acquire: as in `serve`, for a job posted before the flag.
        let mut s = state.fetch_or(CLOSED, Ordering::AcqRel);
        // A caller between its claim and its post: it is about to post.
        while s & PHASE == CLAIMED {
            crate::sync::yield_now();
            s = state.load(Ordering::Acquire);
        }
        self.serve(run)
    }

    /// True if no job is in the line and its last outcome was acknowledged.
    #[cfg(all(test, not(loom)))]
    fn is_empty(&self) -> bool {
        let s = self.line.state.load(Ordering::Acquire);
        let p = s & PHASE;
        (p == IDLE || p == DONE || p == CANCELLED)
            && self.acked.load(Ordering::Acquire) == s >> TICKET_SHIFT
    }
}

/// How many mailboxes a runtime has. Callers are spread over them (each
/// thread always uses the same one), so a caller descheduled before it reads
/// its outcome holds up only its share of the callers, who take the queue
/// meanwhile.
pub(crate) const MAILBOXES: usize = 4;

/// A runtime's mailboxes.
pub(crate) struct Mailboxes([Mailbox; MAILBOXES]);

impl Mailboxes {
    pub(crate) fn new() -> Mailboxes {
        Mailboxes(std::array::from_fn(|_| Mailbox::new()))
    }

    /// The calling thread's mailbox.
    pub(crate) fn mine(&self) -> &Mailbox {
        #[cfg(not(loom))]
        {
            use std::cell::Cell;
            use std::sync::atomic::AtomicUsize;
            static NEXT: AtomicUsize = AtomicUsize::new(0);
            thread_local! {
                static INDEX: Cell<usize> = const { Cell::new(usize::MAX) };
            }
            let i = INDEX
                .try_with(|c| {
                    if c.get() == usize::MAX {
                        // Relaxed: only spreads threads over the mailboxes.
                        c.set(NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % MAILBOXES);
                    }
                    c.get()
                })
                .unwrap_or(0);
            &self.0[i]
        }
        #[cfg(loom)]
        &self.0[0]
    }

    /// All of them, for the worker.
    pub(crate) fn all(&self) -> &[Mailbox] {
        &self.0
    }

    /// Worker: true if any holds a posted job (SeqCst, see `Mailbox::post`).
    pub(crate) fn has_request(&self) -> bool {
        self.0.iter().any(Mailbox::has_request)
    }

    /// How many hold a posted job (for the stats).
    pub(crate) fn posted(&self) -> usize {
        self.0.iter().filter(|m| m.has_request()).count()
    }

    /// Closes them all (see `Mailbox::close`).
    pub(crate) fn close(&self) {
        self.0.iter().for_each(Mailbox::close);
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::sync::Arc;

    unsafe extern "C" fn plus_one(arg: *mut c_void) -> *mut c_void {
        (arg as usize + 1) as *mut c_void
    }

    fn run(job: Job) -> Option<*mut c_void> {
        Some(job.run())
    }

    fn cancel(_: Job) -> Option<*mut c_void> {
        None
    }

    fn job(n: usize) -> Job {
        // SAFETY: plus_one only does arithmetic on its argument.
        unsafe { Job::new(plus_one, n as *mut c_void, None) }
    }

    #[test]
    fn one_job_at_a_time_then_closed() {
        let m = Arc::new(Mailbox::new());
        assert!(!m.has_request());
        let t = m.post(&job(1)).unwrap();
        assert!(m.post(&job(2)).is_none(), "busy");
        assert!(m.has_request());
        let w = m.clone();
        let worker = std::thread::spawn(move || while !w.serve(run) {});
        assert_eq!(
            m.wait(t, park::WorkerCpu::Other),
            Outcome::Done(2 as *mut c_void)
        );
        worker.join().unwrap();
        assert!(m.is_empty());
        // Claimable again, by anyone, once acknowledged.
        let t = m.post(&job(10)).unwrap();
        assert!(m.serve(run));
        assert!(m.post(&job(2)).is_none(), "outcome not read yet");
        assert_eq!(
            m.wait(t, park::WorkerCpu::Other),
            Outcome::Done(11 as *mut c_void)
        );
        assert!(!m.serve(run), "nothing posted");
        m.close();
        assert!(m.post(&job(3)).is_none(), "closed");
        m.finish(run);
        assert!(m.is_empty());
    }

    #[test]
    fn finish_runs_or_cancels_a_posted_job() {
        for cancelling in [false, true] {
            let m = Mailbox::new();
            let t = m.post(&job(5)).unwrap();
            m.close();
            let serve: fn(Job) -> Option<*mut c_void> = if cancelling { cancel } else { run };
            m.finish(serve);
            let want = if cancelling {
                Outcome::Cancelled
            } else {
                Outcome::Done(6 as *mut c_void)
            };
            assert_eq!(m.wait(t, park::WorkerCpu::Other), want);
            assert!(m.post(&job(1)).is_none());
        }
    }

    #[test]
    fn a_parked_caller_is_woken() {
        let m = Arc::new(Mailbox::new());
        let t = m.post(&job(7)).unwrap();
        let w = m.clone();
        let worker = std::thread::spawn(move || {
            // Long enough for the caller to park.
            std::thread::sleep(std::time::Duration::from_millis(50));
            assert!(w.serve(run));
        });
        assert_eq!(
            m.wait(t, park::WorkerCpu::Other),
            Outcome::Done(8 as *mut c_void)
        );
        worker.join().unwrap();
    }
}
