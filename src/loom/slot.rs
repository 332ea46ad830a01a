//! Loom models of the completion slot (future/slot.rs).

use super::*;
use crate::queue::{JobQueue, Lane};
use loom::thread;

/// complete (worker) vs cancel (another thread) vs a waiter that parks, with the
/// two references (queue + handle) released in any order: the job runs xor is
/// cancelled, the waiter wakes with the matching outcome and sees the job's
/// writes, the slot is freed exactly once.
#[test]
fn loom_slot_complete_vs_cancel_vs_waiter() {
    model(|| {
        let probe = Arc::new(Probe::default());
        let p = shared_slot(&probe, 2);
        let worker = spawn_worker(p);
        let canceller = thread::spawn(move || {
            // SAFETY: the handle's reference is held by main until both joined.
            unsafe { Slot::cancel(p.0) }
        });
        let o = p
            .slot()
            .wait(None, crate::park::WorkerCpu::Other)
            .expect("no deadline");
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
        let attacher = thread::spawn(move || p.slot().then(continuation(&pr)).unwrap());
        let worker = spawn_worker(p);
        p.slot().then(continuation(&probe)).unwrap();
        attacher.join().unwrap();
        let (_, worker_freed) = worker.join().unwrap();
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
        let attacher = thread::spawn(move || p.slot().then(continuation(&pr)).unwrap());
        let worker = spawn_worker(p);
        // SAFETY: main holds the handle's reference.
        let cancelled = unsafe { Slot::cancel(p.0) };
        attacher.join().unwrap();
        let (_, worker_freed) = worker.join().unwrap();
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
            let o = p.slot().wait(None, crate::park::WorkerCpu::Mine).unwrap();
            check_outcome(o, &pr);
        });
        let worker = spawn_worker(p);
        let o = p.slot().wait(None, crate::park::WorkerCpu::Other).unwrap();
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
        let o = p.slot().wait(None, crate::park::WorkerCpu::Other).unwrap();
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
        let worker = spawn_worker(p);
        // SAFETY: main holds the handle's reference.
        let a = unsafe { Slot::cancel(p.0) };
        let b = c2.join().unwrap();
        let (ran, _) = worker.join().unwrap();
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
        let q = Arc::new(JobQueue::new(1).unwrap());
        let slot = Box::into_raw(Box::new(Slot::new()));
        let p = P(slot);
        // SAFETY: (model) the probe outlives the calls.
        let j = unsafe { Job::new(job, Arc::as_ptr(&probe) as *mut c_void, None) };
        let q2 = q.clone();
        let worker = thread::spawn(move || {
            let mut n = 0;
            while n < 2 {
                match q2.pop_any() {
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
            q.reserve(1, Lane::Main).unwrap();
            q.push(p.0, Lane::Main);
            let o = p.slot().wait(None, crate::park::WorkerCpu::Other).unwrap();
            check_outcome(o, &probe);
        }
        worker.join().unwrap();
        assert_eq!(probe.ran.load(Relaxed), 2);
        // SAFETY: both calls resolved, the worker is gone.
        drop(unsafe { Box::from_raw(slot) });
    });
}

/// An interrupter races the job's end: the hook runs only while the job runs
/// (never after the worker moved on from it), and a hook that was called has
/// returned before the worker does anything else.
#[test]
fn loom_slot_interrupt_vs_completion() {
    model(|| {
        let probe = Arc::new(Probe::default());
        let moved_on = Arc::new(AtomicUsize::new(0));
        let p = shared_slot(&probe, 2);
        // The job has started (the worker's QUEUED -> RUNNING).
        let Ok(j) = p.slot().start() else {
            panic!("a queued job starts")
        };
        let mo = moved_on.clone();
        let worker = thread::spawn(move || {
            let r = j.run();
            // SAFETY: we started it.
            unsafe { Slot::complete(p.0, r) };
            p.slot().wait_interrupters();
            mo.store(1, Relaxed);
            release(p)
        });
        let hooked = AtomicUsize::new(0);
        let called = p.slot().interrupt_running(|| {
            assert_eq!(
                moved_on.load(Relaxed),
                0,
                "hook ran after the worker moved on"
            );
            hooked.fetch_add(1, Relaxed);
        });
        assert_eq!(called, hooked.load(Relaxed) == 1);
        let worker_freed = worker.join().unwrap();
        assert!(!worker_freed);
        assert_eq!(
            p.slot().outcome(),
            Some(Outcome::Done(RESULT as *mut c_void))
        );
        assert!(release(p));
    });
}

/// A waiter expiring a job at its deadline races the worker starting it:
/// exactly one wins; the job runs xor expires; every observer agrees.
#[test]
fn loom_slot_expire_vs_start() {
    model(|| {
        let probe = Arc::new(Probe::default());
        let p = shared_slot(&probe, 2);
        let worker = spawn_worker(p);
        // SAFETY: main holds the handle's reference.
        let expired = unsafe { Slot::expire(p.0) };
        let (ran, _) = worker.join().unwrap();
        assert_ne!(ran, expired, "ran xor expired");
        let want = if expired {
            Outcome::Expired
        } else {
            Outcome::Done(RESULT as *mut c_void)
        };
        assert_eq!(p.slot().outcome(), Some(want));
        assert_eq!(probe.hooked.load(Relaxed), expired as usize);
        assert!(release(p));
    });
}
