//! Loom models of the job queue (queue.rs) and, through it, the ring
//! (ring.rs): gates, room waiters, close.

use super::*;
use crate::queue::{JobQueue, Lane, Refused};
use loom::thread;

/// Two submitters block for room in a full queue of capacity 1; the worker pops
/// as room frees: nobody sleeps through the room being made (room_waiters /
/// gate Dekker pair), every reserved job is queued and popped.
#[test]
fn loom_queue_blocked_reservations_wake_on_pop() {
    model(|| {
        let q = Arc::new(JobQueue::new(1).unwrap());
        q.try_reserve(1, Lane::Main).unwrap();
        q.push(ptr::null(), Lane::Main);
        let subs: Vec<_> = (0..2)
            .map(|_| {
                let q = q.clone();
                thread::spawn(move || {
                    q.reserve(1, Lane::Main).unwrap();
                    q.push(ptr::null(), Lane::Main);
                })
            })
            .collect();
        let mut popped = 0;
        while popped < 3 {
            match q.pop_any() {
                Some(_) => popped += 1,
                None => thread::yield_now(),
            }
        }
        for s in subs {
            s.join().unwrap();
        }
        assert_eq!(q.len(), 0);
        assert!(q.pop_any().is_none());
    });
}

/// close() races a submitter blocked for room and the worker: the submitter
/// returns (Ok if it got room first, Closed otherwise), never sleeps forever;
/// the worker sees `is_finished` only after popping everything reserved.
#[test]
fn loom_queue_close_vs_blocked_reserve_vs_worker() {
    model(|| {
        let q = Arc::new(JobQueue::new(1).unwrap());
        q.try_reserve(1, Lane::Main).unwrap();
        q.push(ptr::null(), Lane::Main);
        let qs = q.clone();
        let sub = thread::spawn(move || match qs.reserve(1, Lane::Main) {
            Ok(()) => {
                qs.push(ptr::null(), Lane::Main);
                1
            }
            Err(Refused::Closed) => 0,
            Err(e) => panic!("a blocking reserve reports only Closed, not {e:?}"),
        });
        let qw = q.clone();
        let worker = thread::spawn(move || {
            let mut popped = 0;
            loop {
                while qw.pop_any().is_some() {
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
        assert!(q.pop_any().is_none());
    });
}

/// try_reserve of a batch (2) and a single (1) against capacity 2 and close:
/// all or nothing, never over capacity, nothing accepted after close is lost.
#[test]
fn loom_queue_batch_all_or_nothing_vs_close() {
    model(|| {
        let q = Arc::new(JobQueue::new(2).unwrap());
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
        while q.pop_any().is_some() {
            popped += 1;
        }
        assert_eq!(popped, accepted);
        assert!(q.is_finished());
    });
}

/// The urgent lane is popped first, and each lane keeps FIFO order, whatever
/// the interleaving of two submitters and the worker.
#[test]
fn loom_queue_urgent_first_fifo() {
    model(|| {
        let q = Arc::new(JobQueue::new(2).unwrap());
        let (a, b, u) = (
            8usize as *const Slot,
            16usize as *const Slot,
            24usize as *const Slot,
        );
        q.try_reserve(2, Lane::Main).unwrap();
        q.push(a, Lane::Main);
        q.push(b, Lane::Main);
        let qu = q.clone();
        let urgent = thread::spawn(move || {
            qu.try_reserve(1, Lane::Urgent).unwrap();
            qu.push(u, Lane::Urgent);
        });
        let first = q.pop_any();
        urgent.join().unwrap();
        let mut rest = Vec::new();
        while let Some(p) = q.pop_any() {
            rest.push(p);
        }
        match first {
            Some(p) if p == u => assert_eq!(rest, vec![a, b]),
            Some(p) if p == a => assert_eq!(rest, vec![u, b]),
            other => panic!("popped {other:?} first"),
        }
    });
}
