//! Loom models of the completion slot, the call mailbox and the queue gate (RUSTFLAGS="--cfg loom"
//! cargo test --release --lib loom). Owned by the reliability work.
//!
//! What loom checks here: every interleaving (bounded by `preemption_bound`
//! where noted) of the real `Slot` and `JobQueue` code, with loom's atomics
//! (weak memory for Relaxed/Acquire/Release, SeqCst as loom models it), loom's
//! mutex, and the park/unpark model of `park.rs` (a lost wake-up is reported as
//! a deadlock). Data written by jobs, cancel hooks and continuations goes through
//! loom atomics stored with `Relaxed`, so reading a stale value after a resolved
//! future means a missing release/acquire edge.
//!
//! Limits (see notes/readme-reliability.md): the slot's `UnsafeCell` fields are
//! std cells, invisible to loom; the ring (crossbeam `ArrayQueue`) is not
//! instrumented and behaves as one atomic step; the park model wakes every key
//! on any `unpark_all`, so a wake-up sent to the wrong key is not detected; the
//! worker's idle/wake protocol lives in runtime.rs on std atomics, so it is
//! checked on a faithful replica (`replica_*`) rather than on the code itself.

use crate::future::{Continuation, Job, JobFn, Kind, Outcome, Slot};
use crate::mailbox::{Handoff, Mailbox};
use crate::park;
use crate::queue::{JobQueue, Lane, Refused};
use loom::sync::atomic::{AtomicUsize, Ordering::*};
use loom::sync::Arc;
use loom::thread;
use std::ffi::c_void;
use std::ptr;

/// What jobs, hooks and continuations record, all through loom atomics.
#[derive(Default)]
struct Probe {
    /// Written (Relaxed) by the job before it returns.
    data: AtomicUsize,
    ran: AtomicUsize,
    hooked: AtomicUsize,
    thens_done: AtomicUsize,
    thens_cancelled: AtomicUsize,
}

const RESULT: usize = 0x2a;
const DATA: usize = 4242;

unsafe extern "C" fn job(arg: *mut c_void) -> *mut c_void {
    // SAFETY (model): arg is a live Probe.
    let p = unsafe { &*(arg as *const Probe) };
    p.data.store(DATA, Relaxed);
    p.ran.fetch_add(1, Relaxed);
    RESULT as *mut c_void
}

unsafe fn cancel_hook(arg: *mut c_void) {
    // SAFETY (model): arg is a live Probe.
    let p = unsafe { &*(arg as *const Probe) };
    p.hooked.fetch_add(1, Relaxed);
}

unsafe fn cont(data: [*mut c_void; 2], outcome: Outcome) {
    // SAFETY (model): data[0] is a live Probe.
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
        Outcome::Cancelled => {
            assert_eq!(p.ran.load(Relaxed), 0, "cancelled, yet the job ran");
            p.thens_cancelled.fetch_add(1, Relaxed);
        }
    }
}

fn continuation(p: &Probe) -> Continuation {
    Continuation {
        call: cont,
        data: [p as *const Probe as *mut c_void, ptr::null_mut()],
    }
}

/// A raw slot pointer that may cross (model) threads.
#[derive(Clone, Copy)]
struct P(*const Slot);
// SAFETY: slots are made to be shared between threads (see future.rs).
unsafe impl Send for P {}
// SAFETY: as above.
unsafe impl Sync for P {}

impl P {
    fn slot(&self) -> &Slot {
        // SAFETY (model): each model keeps the slot alive while it is used.
        unsafe { &*self.0 }
    }
}

/// A heap slot armed as a Shared future with `refs` references.
fn shared_slot(probe: &Arc<Probe>, refs: u32) -> P {
    let s = Box::into_raw(Box::new(Slot::new()));
    let j = Job {
        func: job,
        arg: Arc::as_ptr(probe) as *mut c_void,
        on_cancel: Some(cancel_hook),
    };
    // SAFETY: fresh, exclusively ours.
    unsafe { (*s).arm(j, Kind::Shared, refs, ptr::null(), 0) };
    P(s)
}

/// Drops one reference; frees the slot when it was the last. Returns true then.
fn release(p: P) -> bool {
    if p.slot().release_ref() {
        // SAFETY: that was the last reference.
        drop(unsafe { Box::from_raw(p.0 as *mut Slot) });
        true
    } else {
        false
    }
}

/// The worker's part of `Shared::process` in run mode.
fn run_on_worker(p: P) -> bool {
    match p.slot().start() {
        Some(j) => {
            // SAFETY (model): the job and its probe are alive.
            let r = unsafe { (j.func)(j.arg) };
            // SAFETY: we started it.
            unsafe { Slot::complete(p.0, r) };
            true
        }
        None => false,
    }
}

/// Checks what a resolved waiter saw against what happened.
fn check_outcome(o: Outcome, probe: &Probe) {
    match o {
        Outcome::Done(r) => {
            assert_eq!(r as usize, RESULT);
            assert_eq!(
                probe.data.load(Relaxed),
                DATA,
                "waiter saw a stale job write"
            );
        }
        Outcome::Cancelled => {}
    }
}

fn model(f: impl Fn() + Sync + Send + 'static) {
    model_bounded(3, f);
}

/// `model` with another default preemption bound (LOOM_MAX_PREEMPTIONS wins).
fn model_bounded(bound: usize, f: impl Fn() + Sync + Send + 'static) {
    let mut b = loom::model::Builder::new();
    if b.preemption_bound.is_none() {
        b.preemption_bound = Some(bound);
    }
    b.check(f);
}

// ---------------------------------------------------------------------------
// The completion slot.

/// complete (worker) vs cancel (another thread) vs a waiter that parks, with the
/// two references (queue + handle) released in any order: the job runs xor is
/// cancelled, the waiter wakes with the matching outcome and sees the job's
/// writes, the slot is freed exactly once.
#[test]
fn loom_slot_complete_vs_cancel_vs_waiter() {
    model(|| {
        let probe = Arc::new(Probe::default());
        let p = shared_slot(&probe, 2);
        let worker = thread::spawn(move || {
            let ran = run_on_worker(p);
            (ran, release(p))
        });
        let canceller = thread::spawn(move || {
            // SAFETY: the handle's reference is held by main until both joined.
            unsafe { Slot::cancel(p.0) }
        });
        let o = p.slot().wait(None, false).expect("no deadline");
        check_outcome(o, &probe);
        let cancelled = canceller.join().unwrap();
        let (ran, worker_freed) = worker.join().unwrap();
        assert_eq!(
            p.slot().outcome(),
            Some(o),
            "outcome changed after resolution"
        );
        assert_ne!(ran, cancelled, "ran xor cancelled");
        assert_eq!(cancelled, o == Outcome::Cancelled);
        assert_eq!(probe.ran.load(Relaxed), ran as usize);
        assert_eq!(probe.hooked.load(Relaxed), cancelled as usize);
        // main still holds the handle: the worker's release is never the last.
        assert!(!worker_freed, "freed while a reference was held");
        assert!(release(p), "the last release must free");
    });
}

/// Continuations attached from two threads while the worker completes (or a
/// third thread cancels): each runs exactly once, with the right outcome, and
/// sees the job's writes.
#[test]
fn loom_slot_then_vs_complete() {
    model(|| {
        let probe = Arc::new(Probe::default());
        let p = shared_slot(&probe, 2);
        let pr = probe.clone();
        let attacher = thread::spawn(move || p.slot().then(continuation(&pr)));
        let worker = thread::spawn(move || {
            run_on_worker(p);
            release(p)
        });
        p.slot().then(continuation(&probe));
        attacher.join().unwrap();
        let worker_freed = worker.join().unwrap();
        assert_eq!(
            probe.thens_done.load(Relaxed),
            2,
            "each continuation runs once"
        );
        assert_eq!(probe.thens_cancelled.load(Relaxed), 0);
        assert!(!worker_freed);
        assert!(release(p));
    });
}

#[test]
fn loom_slot_then_vs_cancel_vs_complete() {
    model(|| {
        let probe = Arc::new(Probe::default());
        let p = shared_slot(&probe, 2);
        let pr = probe.clone();
        let attacher = thread::spawn(move || p.slot().then(continuation(&pr)));
        let worker = thread::spawn(move || {
            run_on_worker(p);
            release(p)
        });
        // SAFETY: main holds the handle's reference.
        let cancelled = unsafe { Slot::cancel(p.0) };
        attacher.join().unwrap();
        let worker_freed = worker.join().unwrap();
        let (done, canc) = (
            probe.thens_done.load(Relaxed),
            probe.thens_cancelled.load(Relaxed),
        );
        assert_eq!(done + canc, 1, "the continuation runs exactly once");
        assert_eq!(canc == 1, cancelled);
        assert_eq!(probe.hooked.load(Relaxed), cancelled as usize);
        assert!(!worker_freed);
        assert!(release(p));
    });
}

/// Two threads park on the same slot; the worker completes it. A lost wake-up
/// (WAITERS flag vs resolving swap vs the bucket-lock validation) is a loom
/// deadlock.
#[test]
fn loom_slot_two_waiters_park_no_lost_wakeup() {
    model(|| {
        let probe = Arc::new(Probe::default());
        let p = shared_slot(&probe, 2);
        let pr = probe.clone();
        let waiter = thread::spawn(move || {
            let o = p.slot().wait(None, true).unwrap();
            check_outcome(o, &pr);
        });
        let worker = thread::spawn(move || {
            run_on_worker(p);
            release(p)
        });
        let o = p.slot().wait(None, false).unwrap();
        check_outcome(o, &probe);
        waiter.join().unwrap();
        worker.join().unwrap();
        release(p);
    });
}

/// A timed park that expires (leaving WAITERS set) and then an untimed wait,
/// racing a cancel: the untimed wait must still be woken.
#[test]
fn loom_slot_timed_park_then_wait_vs_cancel() {
    model(|| {
        let probe = Arc::new(Probe::default());
        let p = shared_slot(&probe, 2);
        let canceller = thread::spawn(move || {
            // SAFETY: main holds the handle's reference.
            unsafe { Slot::cancel(p.0) }
        });
        // The park model turns a timed park into "woken or timed out".
        let far = std::time::Instant::now() + std::time::Duration::from_secs(3600);
        p.slot().park_until_resolved(Some(far), || true);
        let o = p.slot().wait(None, false).unwrap();
        assert_eq!(o, Outcome::Cancelled);
        assert!(canceller.join().unwrap());
        // The worker finds it cancelled and never runs it.
        assert!(!run_on_worker(p));
        assert_eq!(probe.ran.load(Relaxed), 0);
        assert_eq!(probe.hooked.load(Relaxed), 1);
        assert!(!release(p));
        assert!(release(p));
    });
}

/// Two cancellers race the worker: both report the same thing, the hook runs
/// at most once, the job never runs after a successful cancel.
#[test]
fn loom_slot_double_cancel_vs_start() {
    model(|| {
        let probe = Arc::new(Probe::default());
        let p = shared_slot(&probe, 2);
        let c2 = thread::spawn(move || {
            // SAFETY: main holds the handle's reference until joined.
            unsafe { Slot::cancel(p.0) }
        });
        let worker = thread::spawn(move || {
            let ran = run_on_worker(p);
            release(p);
            ran
        });
        // SAFETY: main holds the handle's reference.
        let a = unsafe { Slot::cancel(p.0) };
        let b = c2.join().unwrap();
        let ran = worker.join().unwrap();
        assert_eq!(a, b, "cancel is idempotent: both see the same final state");
        assert_eq!(a, !ran);
        assert_eq!(probe.hooked.load(Relaxed), a as usize, "the hook runs once");
        assert!(release(p));
    });
}

/// A synchronous call (Kind::Call, no references): the caller waits, then at
/// once re-arms the very same slot for its next call (as the pool does) while
/// the worker may still be finishing the first one. Jobs travel through a real
/// JobQueue. Neither call may be lost or wake-up starved.
#[test]
fn loom_call_slot_reused_immediately() {
    model(|| {
        let probe = Arc::new(Probe::default());
        let q = Arc::new(JobQueue::new(1));
        let slot = Box::into_raw(Box::new(Slot::new()));
        let p = P(slot);
        let j = Job {
            func: job,
            arg: Arc::as_ptr(&probe) as *mut c_void,
            on_cancel: None,
        };
        let q2 = q.clone();
        let worker = thread::spawn(move || {
            let mut n = 0;
            while n < 2 {
                match q2.pop() {
                    Some(s) => {
                        assert!(run_on_worker(P(s)));
                        n += 1;
                    }
                    None => thread::yield_now(),
                }
            }
        });
        for _ in 0..2 {
            // SAFETY: the previous call is resolved: the slot is ours again.
            unsafe { p.slot().arm(j, Kind::Call, 0, ptr::null(), 0) };
            q.reserve(1).unwrap();
            q.push(p.0, Lane::Main);
            let o = p.slot().wait(None, false).unwrap();
            check_outcome(o, &probe);
        }
        worker.join().unwrap();
        assert_eq!(probe.ran.load(Relaxed), 2);
        // SAFETY: both calls resolved, the worker is gone.
        drop(unsafe { Box::from_raw(slot) });
    });
}

// ---------------------------------------------------------------------------
// The queue gate.

/// Two submitters block for room in a full queue of capacity 1; the worker pops
/// as room frees: nobody sleeps through the room being made (room_waiters /
/// gate Dekker pair), every reserved job is queued and popped.
#[test]
fn loom_queue_blocked_reservations_wake_on_pop() {
    model(|| {
        let q = Arc::new(JobQueue::new(1));
        q.try_reserve(1, Lane::Main).unwrap();
        q.push(ptr::null(), Lane::Main);
        let subs: Vec<_> = (0..2)
            .map(|_| {
                let q = q.clone();
                thread::spawn(move || {
                    q.reserve(1).unwrap();
                    q.push(ptr::null(), Lane::Main);
                })
            })
            .collect();
        let mut popped = 0;
        while popped < 3 {
            match q.pop() {
                Some(_) => popped += 1,
                None => thread::yield_now(),
            }
        }
        for s in subs {
            s.join().unwrap();
        }
        assert_eq!(q.len(), 0);
        assert!(q.pop().is_none());
    });
}

/// close() races a submitter blocked for room and the worker: the submitter
/// returns (Ok if it got room first, Closed otherwise), never sleeps forever;
/// the worker sees `is_finished` only after popping everything reserved.
#[test]
fn loom_queue_close_vs_blocked_reserve_vs_worker() {
    model(|| {
        let q = Arc::new(JobQueue::new(1));
        q.try_reserve(1, Lane::Main).unwrap();
        q.push(ptr::null(), Lane::Main);
        let qs = q.clone();
        let sub = thread::spawn(move || match qs.reserve(1) {
            Ok(()) => {
                qs.push(ptr::null(), Lane::Main);
                1
            }
            Err(Refused::Closed) => 0,
            Err(Refused::Full) => panic!("a blocking reserve never reports Full"),
        });
        let qw = q.clone();
        let worker = thread::spawn(move || {
            let mut popped = 0;
            loop {
                while qw.pop().is_some() {
                    popped += 1;
                }
                if qw.is_finished() {
                    break;
                }
                thread::yield_now();
            }
            popped
        });
        q.close();
        assert_eq!(q.try_reserve(1, Lane::Main), Err(Refused::Closed));
        let accepted = sub.join().unwrap();
        let popped = worker.join().unwrap();
        assert_eq!(popped, 1 + accepted, "a reserved job was lost or invented");
        assert!(q.pop().is_none());
    });
}

/// try_reserve of a batch (2) and a single (1) against capacity 2 and close:
/// all or nothing, never over capacity, nothing accepted after close is lost.
#[test]
fn loom_queue_batch_all_or_nothing_vs_close() {
    model(|| {
        let q = Arc::new(JobQueue::new(2));
        let spawn_sub = |n: usize| {
            let q = q.clone();
            thread::spawn(move || match q.try_reserve(n, Lane::Main) {
                Ok(()) => {
                    for _ in 0..n {
                        q.push(ptr::null(), Lane::Main);
                    }
                    n
                }
                Err(_) => 0,
            })
        };
        let a = spawn_sub(2);
        let b = spawn_sub(1);
        q.close();
        let accepted = a.join().unwrap() + b.join().unwrap();
        assert!(accepted <= 2);
        let mut popped = 0;
        while q.pop().is_some() {
            popped += 1;
        }
        assert_eq!(popped, accepted);
        assert!(q.is_finished());
    });
}

// ---------------------------------------------------------------------------
// Replica of the worker's idle / wake protocol (runtime.rs: Shared::idle,
// Shared::wake_worker, Executor::begin_shutdown), on the real JobQueue and the
// park model. Kept line for line with runtime.rs; update both together.
//
// runtime.rs relies on the single total order of SeqCst accesses (store the
// sleep key, then load the gate; reserve on the gate, then load the sleep key).
// Loom models SeqCst accesses as AcqRel (loom README, "Unsupported features")
// and reports a false lost wake-up there, but it does model SeqCst fences: the
// replica marks each such point with `dekker_fence()`, which is exactly what
// the C++/Rust memory model guarantees for those SeqCst pairs.

fn dekker_fence() {
    loom::sync::atomic::fence(SeqCst);
}

struct Replica {
    queue: JobQueue,
    mailbox: Mailbox,
    sleep_key: AtomicUsize,
    idle_key: u8,
}

impl Replica {
    fn idle_key(&self) -> usize {
        &self.idle_key as *const u8 as usize
    }
    fn wake_worker(&self) {
        dekker_fence(); // after the SeqCst reservation on the gate
        if self.sleep_key.load(SeqCst) != 0 {
            let key = self.sleep_key.swap(0, SeqCst);
            if key != 0 {
                park::unpark_all(key);
            }
        }
    }
    fn idle(&self) {
        let has_work =
            || self.queue.len() != 0 || self.queue.is_closed() || self.mailbox.has_request();
        if has_work() {
            // The bounded spin, collapsed to one check. A yield stands for the
            // time that passes while it spins (loom needs it to make progress
            // when a submitter has reserved room but not pushed yet).
            thread::yield_now();
            return;
        }
        let key = self.idle_key();
        self.sleep_key.store(key, SeqCst);
        dekker_fence();
        if has_work() {
            self.sleep_key.store(0, Relaxed);
            return;
        }
        park::park(key, None, || self.sleep_key.load(SeqCst) == key);
        self.sleep_key.store(0, Relaxed);
    }
    fn begin_shutdown(&self) {
        self.queue.close();
        self.mailbox.close();
        dekker_fence();
        let key = self.sleep_key.swap(0, SeqCst);
        if key != 0 {
            park::unpark_all(key);
        }
    }
    fn enqueue(&self) -> bool {
        match self.queue.try_reserve(1, Lane::Main) {
            Ok(()) => {
                self.queue.push(ptr::null(), Lane::Main);
                self.wake_worker();
                true
            }
            Err(_) => false,
        }
    }
}

/// Worker loop (worker_main) vs a submitter vs shutdown: the worker never
/// sleeps through a submit or the close, and runs every accepted job.
#[test]
fn loom_replica_idle_worker_wakes_for_submit_and_close() {
    model(|| {
        let r = Arc::new(Replica {
            queue: JobQueue::new(4),
            mailbox: Mailbox::new(),
            sleep_key: AtomicUsize::new(0),
            idle_key: 0,
        });
        let rw = r.clone();
        let worker = thread::spawn(move || {
            let mut n = 0;
            loop {
                while rw.queue.pop().is_some() {
                    n += 1;
                }
                if rw.queue.is_finished() {
                    break;
                }
                rw.idle();
            }
            n
        });
        let rs = r.clone();
        let sub = thread::spawn(move || rs.enqueue() as usize);
        let first = r.enqueue() as usize;
        let second = sub.join().unwrap();
        r.begin_shutdown();
        assert_eq!(worker.join().unwrap(), first + second);
    });
}

// ---------------------------------------------------------------------------
// The call mailbox (mailbox.rs).

fn mailbox_job(probe: &Arc<Probe>) -> Job {
    Job {
        func: job,
        arg: Arc::as_ptr(probe) as *mut c_void,
        on_cancel: None,
    }
}

fn run_job(func: JobFn, arg: *mut c_void) -> Option<*mut c_void> {
    // SAFETY (model): the job and its probe are alive.
    Some(unsafe { func(arg) })
}

fn cancel_job(_: JobFn, _: *mut c_void) -> Option<*mut c_void> {
    None
}

/// Checks a caller's outcome: a result carries the job's writes.
fn check_handoff(h: Handoff, probe: &Probe) {
    match h {
        Handoff::Done(r) => check_outcome(Outcome::Done(r), probe),
        Handoff::Cancelled => assert_eq!(probe.ran.load(Relaxed), 0),
    }
}

/// A mailbox job that returns its argument (a probe), so each caller can
/// tell its own result from another's.
unsafe extern "C" fn echo_job(arg: *mut c_void) -> *mut c_void {
    // SAFETY (model): arg is a live Probe.
    let p = unsafe { &*(arg as *const Probe) };
    p.data.store(DATA, Relaxed);
    p.ran.fetch_add(1, Relaxed);
    arg
}

/// Two callers race for the mailbox while the worker serves it; then the
/// worker closes it. Each caller either posts (and then gets its own result,
/// with the job's writes visible, parked or not) or is turned away; no
/// wake-up is lost; every posted job runs exactly once. (Preemption bound 2:
/// with 3 the four threads take minutes.)
#[test]
fn loom_mailbox_two_callers_vs_worker() {
    model_bounded(2, || {
        let m = Arc::new(Mailbox::new());
        let stop = Arc::new(AtomicUsize::new(0));
        let probes: Vec<Arc<Probe>> = (0..2).map(|_| Arc::new(Probe::default())).collect();
        let callers: Vec<_> = probes
            .iter()
            .map(|probe| {
                let (m, probe) = (m.clone(), probe.clone());
                thread::spawn(move || {
                    let arg = Arc::as_ptr(&probe) as *mut c_void;
                    let j = Job {
                        func: echo_job,
                        arg,
                        on_cancel: None,
                    };
                    let Some(t) = m.post(&j) else {
                        return 0;
                    };
                    match m.wait(t, false) {
                        Handoff::Done(r) => assert_eq!(r, arg, "another caller's result"),
                        Handoff::Cancelled => panic!("nothing cancels here"),
                    }
                    assert_eq!(probe.data.load(Relaxed), DATA, "stale job write");
                    1
                })
            })
            .collect();
        let (mw, sw) = (m.clone(), stop.clone());
        let worker = thread::spawn(move || {
            let mut n = 0;
            while sw.load(Acquire) == 0 {
                if mw.serve(run_job) {
                    n += 1;
                } else {
                    thread::yield_now();
                }
            }
            n
        });
        let posted: usize = callers.into_iter().map(|c| c.join().unwrap()).sum();
        stop.store(1, Release);
        let served = worker.join().unwrap();
        m.close();
        m.finish(run_job);
        assert_eq!(served, posted);
        let ran: usize = probes.iter().map(|p| p.ran.load(Relaxed)).sum();
        assert_eq!(ran, posted);
    });
}

/// A caller posts while a shutdown closes the mailbox and the worker finishes
/// it (run or cancel mode): a post either fails or is served by `finish`, and
/// the caller always wakes.
#[test]
fn loom_mailbox_post_vs_close_and_finish() {
    for cancelling in [false, true] {
        model(move || {
            let m = Arc::new(Mailbox::new());
            let probe = Arc::new(Probe::default());
            let (mc, pc) = (m.clone(), probe.clone());
            let caller = thread::spawn(move || {
                let t = mc.post(&mailbox_job(&pc))?;
                let h = mc.wait(t, false);
                let cancelled = h == Handoff::Cancelled;
                check_handoff(h, &pc);
                Some(cancelled)
            });
            let ms = m.clone();
            let closer = thread::spawn(move || ms.close());
            let serve: fn(JobFn, *mut c_void) -> Option<*mut c_void> =
                if cancelling { cancel_job } else { run_job };
            m.finish(serve);
            closer.join().unwrap();
            match caller.join().unwrap() {
                None => assert_eq!(probe.ran.load(Relaxed), 0),
                Some(cancelled) => {
                    assert_eq!(cancelled, cancelling);
                    assert_eq!(probe.ran.load(Relaxed), usize::from(!cancelling));
                }
            }
        });
    }
}

/// The worker loop vs a mailbox caller (Executor::call's fast path: post, wake
/// the worker, wait), then vs shutdown: the worker never sleeps through a post
/// (first round: the call must finish before any shutdown), and a call posted
/// while a shutdown closes the mailbox is served before the worker stops, or
/// refused (second round). (Preemption bound 2: 3 takes minutes.)
#[test]
fn loom_replica_idle_worker_wakes_for_a_mailbox_call() {
    for concurrent_shutdown in [false, true] {
        model_bounded(2, move || {
            let r = Arc::new(Replica {
                queue: JobQueue::new(4),
                mailbox: Mailbox::new(),
                sleep_key: AtomicUsize::new(0),
                idle_key: 0,
            });
            let probe = Arc::new(Probe::default());
            let rw = r.clone();
            let worker = thread::spawn(move || {
                loop {
                    rw.mailbox.serve(run_job);
                    while rw.queue.pop().is_some() {}
                    if rw.queue.is_finished() {
                        break;
                    }
                    rw.idle();
                }
                rw.mailbox.finish(run_job);
            });
            let (rc, pc) = (r.clone(), probe.clone());
            let caller = thread::spawn(move || {
                let Some(t) = rc.mailbox.post(&mailbox_job(&pc)) else {
                    return false;
                };
                rc.wake_worker();
                check_handoff(rc.mailbox.wait(t, false), &pc);
                true
            });
            let posted = if concurrent_shutdown {
                r.begin_shutdown();
                caller.join().unwrap()
            } else {
                let posted = caller.join().unwrap();
                assert!(posted);
                r.begin_shutdown();
                posted
            };
            worker.join().unwrap();
            assert_eq!(probe.ran.load(Relaxed), usize::from(posted));
        });
    }
}
