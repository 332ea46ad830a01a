//! Loom models of the worker's doorbell (doorbell.rs) and the sleep protocol
//! (waiter.rs), over the real queue and mailbox. Each model drives a worker
//! loop shaped like worker.rs's (drain, then sleep through the doorbell) and
//! submitters shaped like `Shared::enqueue` and `Executor::call` (push, then
//! ring); the protocol code itself is the crate's.

use super::mailbox::{check_handoff, mailbox_job, run_job};
use super::*;
use crate::doorbell::Doorbell;
use crate::mailbox::Mailbox;
use crate::queue::{JobQueue, Lane};
use crate::waiter;
use loom::thread;

/// A worker's state as the doorbell sees it. The idle key is this word's address.
struct Worker {
    queue: JobQueue,
    mailbox: Mailbox,
    doorbell: Doorbell,
    idle_key: AtomicUsize,
}

impl Worker {
    fn new() -> Arc<Worker> {
        Arc::new(Worker {
            queue: JobQueue::new(4).unwrap(),
            mailbox: Mailbox::new(),
            doorbell: Doorbell::new(),
            idle_key: AtomicUsize::new(0),
        })
    }

    fn idle_key(&self) -> usize {
        &self.idle_key as *const AtomicUsize as usize
    }

    /// As `Shared::idle` without its spinning (one check, then a yield, stands
    /// for the bounded spin: loom needs the yield to let a submitter that has
    /// reserved but not yet pushed make progress).
    fn idle(&self) {
        let has_work =
            || self.queue.len() != 0 || self.queue.is_closed() || self.mailbox.has_request();
        if has_work() {
            thread::yield_now();
            return;
        }
        let key = self.idle_key();
        self.doorbell.sleep(key, false, has_work, |rung| {
            waiter::sleep(key, None, || !rung());
        });
    }

    /// As `Shared::enqueue` for one job from an ordinary thread.
    fn submit(&self) -> bool {
        match self.queue.try_reserve(1, Lane::Main) {
            Ok(()) => {
                self.queue.push(ptr::null(), Lane::Main);
                self.doorbell.ring(false);
                true
            }
            Err(_) => false,
        }
    }

    /// As `Shared::begin_shutdown` in drain mode.
    fn shutdown(&self) {
        self.queue.close();
        self.mailbox.close();
        self.doorbell.ring_always();
    }
}

/// The worker loop vs a submitter vs shutdown: the worker never sleeps
/// through a submit or the close, and pops every accepted job. (Preemption
/// bound 2: with the ring's atomics visible to loom, 3 takes minutes.)
#[test]
fn loom_doorbell_idle_worker_wakes_for_submit_and_close() {
    model_bounded(2, || {
        let w = Worker::new();
        let ww = w.clone();
        let worker = thread::spawn(move || {
            let mut n = 0;
            loop {
                while ww.queue.pop_any().is_some() {
                    n += 1;
                }
                if ww.queue.is_finished() {
                    break;
                }
                ww.idle();
            }
            n
        });
        let ws = w.clone();
        let sub = thread::spawn(move || ws.submit() as usize);
        let first = w.submit() as usize;
        let second = sub.join().unwrap();
        w.shutdown();
        assert_eq!(worker.join().unwrap(), first + second);
    });
}

/// The worker loop vs a mailbox caller (Executor::call's fast path: post,
/// ring, wait), then vs shutdown: the worker never sleeps through a post
/// (first round: the call must finish before any shutdown), and a call posted
/// while a shutdown closes the mailbox is served before the worker stops, or
/// refused (second round). (Preemption bound 2: 3 takes minutes.)
#[test]
fn loom_doorbell_idle_worker_wakes_for_a_mailbox_call() {
    for concurrent_shutdown in [false, true] {
        model_bounded(2, move || {
            let w = Worker::new();
            let probe = Arc::new(Probe::default());
            let ww = w.clone();
            let worker = thread::spawn(move || {
                loop {
                    ww.mailbox.serve(run_job);
                    while ww.queue.pop_any().is_some() {}
                    if ww.queue.is_finished() {
                        break;
                    }
                    ww.idle();
                }
                ww.mailbox.finish(run_job);
            });
            let (wc, pc) = (w.clone(), probe.clone());
            let caller = thread::spawn(move || {
                let Some(t) = wc.mailbox.post(&mailbox_job(&pc)) else {
                    return false;
                };
                wc.doorbell.ring(false);
                check_handoff(wc.mailbox.wait(t, crate::park::WorkerCpu::Other), &pc);
                true
            });
            let posted = if concurrent_shutdown {
                w.shutdown();
                caller.join().unwrap()
            } else {
                let posted = caller.join().unwrap();
                assert!(posted);
                w.shutdown();
                posted
            };
            worker.join().unwrap();
            assert_eq!(probe.ran.load(Relaxed), usize::from(posted));
        });
    }
}

/// A worker waiting inside a job (CALLS_ONLY: `Shared::wait_serving`) for a
/// slot another thread resolves, while a third thread submits to its calls
/// lane: the wait ends once the slot resolves (a lost wake-up would be a loom
/// deadlock), serving the calls-lane job if it arrives meanwhile; nothing is
/// lost (a job not served during the wait is still queued).
#[test]
fn loom_doorbell_calls_only_wait() {
    model_bounded(2, || {
        let w = Worker::new();
        let probe = Arc::new(Probe::default());
        let p = shared_slot(&probe, 2);
        let ww = w.clone();
        let waiter_thread = thread::spawn(move || {
            let s = p.slot();
            let mut served = 0;
            while !s.is_resolved() {
                if ww.queue.pop_call().is_some() {
                    served += 1;
                    continue;
                }
                if ww.queue.has_calls() {
                    // Reserved, not yet pushed (as in wait_serving).
                    thread::yield_now();
                    continue;
                }
                let ready = || s.is_resolved() || ww.queue.has_calls();
                ww.doorbell.sleep(s.key(), true, ready, |rung| {
                    s.park_until_resolved(None, || !rung());
                });
            }
            served
        });
        let wc = w.clone();
        let caller = thread::spawn(move || {
            wc.queue.try_reserve(1, Lane::Calls).unwrap();
            wc.queue.push(ptr::null(), Lane::Calls);
            wc.doorbell.ring(true);
        });
        // The resolver: the worker of another runtime finishing the job.
        assert!(run_on_worker(p));
        caller.join().unwrap();
        let served = waiter_thread.join().unwrap();
        let left = usize::from(w.queue.pop_call().is_some());
        assert_eq!(served + left, 1, "the calls-lane job was lost or doubled");
        assert!(!release(p));
        assert!(release(p));
    });
}
