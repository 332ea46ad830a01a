//! Shutdown: Drain runs everything queued, Cancel runs nothing queued, late
//! submitters get Shutdown; shutdown from the worker would deadlock; dropping the
//! runtime drains it, and futures outlive it.

use crate::common::watchdog;
use crate::support::blocker;

use qthr::{Error, Runtime, ShutdownMode};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;

#[test]
fn shutdown_drain_runs_everything_and_cancel_runs_nothing_queued() {
    let _w = watchdog(
        "shutdown_drain_runs_everything_and_cancel_runs_nothing_queued",
        60,
    );
    for mode in [ShutdownMode::Drain, ShutdownMode::Cancel] {
        let rt = Arc::new(Runtime::new().unwrap());
        let (running, _, release) = blocker(&rt);
        let ran = Arc::new(AtomicUsize::new(0));
        let futs: Vec<_> = (0..100)
            .map(|_| {
                let r = ran.clone();
                rt.submit(move || r.fetch_add(1, Ordering::SeqCst)).unwrap()
            })
            .collect();
        let rt2 = rt.clone();
        let stopper = thread::spawn(move || rt2.shutdown(mode));
        // Late submitters get Shutdown once the shutdown began.
        while rt.submit(|| 0).is_ok() {
            thread::yield_now();
        }
        assert_eq!(rt.submit(|| 0).err(), Some(Error::Shutdown));
        release.wait();
        stopper.join().unwrap().unwrap();
        running.wait().unwrap();
        let results: Vec<_> = futs.into_iter().map(|f| f.wait()).collect();
        match mode {
            ShutdownMode::Drain => assert!(results.iter().all(|r| r.is_ok())),
            ShutdownMode::Cancel => assert!(results.iter().all(|r| *r == Err(Error::Cancelled))),
        }
        let expected = if mode == ShutdownMode::Drain { 100 } else { 0 };
        assert_eq!(ran.load(Ordering::SeqCst), expected);
        let s = rt.stats().unwrap();
        assert_eq!(s.submitted, s.completed + s.cancelled);
        assert_eq!(s.queue_len, 0);
    }
}

#[test]
fn shutdown_from_the_worker_would_deadlock() {
    let rt = Arc::new(Runtime::new().unwrap());
    let rt2 = rt.clone();
    assert_eq!(
        rt.call(move || rt2.shutdown(ShutdownMode::Drain)).unwrap(),
        Err(Error::WouldDeadlock)
    );
}

#[test]
fn dropping_the_runtime_drains_and_futures_outlive_it() {
    let rt = Runtime::new().unwrap();
    let futs: Vec<_> = (0..50).map(|i| rt.submit(move || i).unwrap()).collect();
    drop(rt);
    assert_eq!(
        futs.into_iter().map(|f| f.wait().unwrap()).sum::<i32>(),
        (0..50).sum()
    );
}
