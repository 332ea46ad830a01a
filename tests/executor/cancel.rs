//! Cancellation and timeouts: a queued job can be cancelled, a running one cannot;
//! a timed-out wait leaves the future pending.

use crate::support::blocker;

use qthr::{Error, Runtime, ShutdownMode};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[test]
fn cancel_before_start_and_not_after() {
    let rt = Runtime::new().unwrap();
    let (running, _, release) = blocker(&rt);
    let ran = Arc::new(AtomicUsize::new(0));
    let r2 = ran.clone();
    let queued = rt
        .submit(move || r2.fetch_add(1, Ordering::SeqCst))
        .unwrap();
    assert!(!running.cancel(), "a running job is not cancellable");
    assert!(queued.cancel());
    assert!(queued.cancel(), "cancelling twice is fine");
    release.wait();
    running.wait().unwrap();
    assert_eq!(queued.wait().err(), Some(Error::Cancelled));
    rt.shutdown(ShutdownMode::Drain).unwrap();
    assert_eq!(ran.load(Ordering::SeqCst), 0);
    let s = rt.stats().unwrap();
    assert_eq!((s.submitted, s.completed, s.cancelled), (2, 1, 1));
}

#[test]
fn timeouts_leave_the_future_pending() {
    let rt = Runtime::new().unwrap();
    let (f, _, release) = blocker(&rt);
    let t = Instant::now();
    assert_eq!(
        f.wait_timeout(Duration::from_millis(30)),
        Err(Error::Timeout)
    );
    assert!(t.elapsed() >= Duration::from_millis(30));
    assert!(!f.is_done());
    release.wait();
    f.wait().unwrap();
}
