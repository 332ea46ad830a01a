//! Synchronous calls behind a busy worker: how a waiting call is counted in the
//! stats, and calls from many threads at once, each getting its own result.

use crate::common::watchdog;
use crate::support::blocker;

use qthr::Runtime;
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::Duration;

/// A call waiting behind a running job counts as submitted and queued; once
/// the worker runs it, it is counted once (submitted, not queued).
#[test]
fn a_waiting_call_counts_as_queued_and_once_while_it_runs() {
    let _w = watchdog("a_waiting_call_counts_as_queued_and_once_while_it_runs", 60);
    let rt = Arc::new(Runtime::new().unwrap());
    let (blocked, _started, release) = blocker(&rt);
    let inside = Arc::new(Barrier::new(2));
    let leave = Arc::new(Barrier::new(2));
    let caller = {
        let (rt, inside, leave) = (rt.clone(), inside.clone(), leave.clone());
        thread::spawn(move || {
            rt.call(move || {
                inside.wait();
                leave.wait();
                7
            })
        })
    };
    let wait_for = |want: (u64, u64)| loop {
        let s = rt.stats().unwrap();
        if (s.submitted, s.queue_len) == want {
            return s;
        }
        assert!(s.submitted <= want.0, "{s:?}");
        thread::sleep(Duration::from_millis(1));
    };
    let s = wait_for((2, 1));
    assert_eq!((s.completed, s.cancelled), (0, 0));
    assert!(s.queue_high_water >= 1);
    release.wait();
    blocked.wait().unwrap();
    inside.wait();
    let s = rt.stats().unwrap();
    assert_eq!((s.submitted, s.queue_len, s.completed), (2, 0, 1), "{s:?}");
    leave.wait();
    assert_eq!(caller.join().unwrap().unwrap(), 7);
    let s = rt.stats().unwrap();
    assert_eq!((s.submitted, s.queue_len, s.completed), (2, 0, 2), "{s:?}");
}

/// Calls from several threads while the worker is busy (spread over the
/// runtime's mailboxes and the queue) are all counted as queued, and each
/// caller gets its own result.
#[test]
fn calls_from_many_threads_behind_a_busy_worker() {
    let _w = watchdog("calls_from_many_threads_behind_a_busy_worker", 60);
    let rt = Arc::new(Runtime::new().unwrap());
    let (blocked, _started, release) = blocker(&rt);
    let callers: Vec<_> = (0..6usize)
        .map(|i| {
            let rt = rt.clone();
            thread::spawn(move || rt.call(move || i * 10))
        })
        .collect();
    loop {
        let s = rt.stats().unwrap();
        assert!(s.submitted <= 7, "{s:?}");
        if (s.submitted, s.queue_len) == (7, 6) {
            break;
        }
        thread::sleep(Duration::from_millis(1));
    }
    release.wait();
    blocked.wait().unwrap();
    for (i, c) in callers.into_iter().enumerate() {
        assert_eq!(c.join().unwrap().unwrap(), i * 10);
    }
    let s = rt.stats().unwrap();
    assert_eq!((s.submitted, s.queue_len, s.completed), (7, 0, 7), "{s:?}");
}
