//! A full queue: a nonblocking one refuses, a blocking one makes the submitter
//! wait for room (backpressure), and the worker never waits for room in its own.

use crate::support::blocker;

use qthr::{Error, Runtime};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

#[test]
fn nonblocking_full_queue_refuses_and_blocking_waits_for_room() {
    let rt = Arc::new(
        Runtime::builder()
            .queue_capacity(2)
            .nonblocking(true)
            .build()
            .unwrap(),
    );
    let (f, _, release) = blocker(&rt);
    let a = rt.submit(|| 1).unwrap();
    let b = rt.submit(|| 2).unwrap();
    assert_eq!(rt.submit(|| 3).err(), Some(Error::QueueFull));
    release.wait();
    f.wait().unwrap();
    assert_eq!((a.wait().unwrap(), b.wait().unwrap()), (1, 2));
    assert_eq!(rt.stats().unwrap().queue_high_water, 2);

    let rt = Arc::new(Runtime::builder().queue_capacity(1).build().unwrap());
    let (f, _, release) = blocker(&rt);
    let _queued = rt.submit(|| ()).unwrap();
    let rt2 = rt.clone();
    let waiter = thread::spawn(move || rt2.submit(|| 9).unwrap().wait().unwrap());
    thread::sleep(Duration::from_millis(30));
    assert!(!waiter.is_finished(), "a blocking submit waits for room");
    release.wait();
    f.wait().unwrap();
    assert_eq!(waiter.join().unwrap(), 9);
}

#[test]
fn the_worker_never_waits_for_room_in_its_own_queue() {
    let rt = Arc::new(Runtime::builder().queue_capacity(1).build().unwrap());
    let rt2 = rt.clone();
    let r = rt
        .call(move || {
            let first = rt2.submit(|| ()).map(drop);
            let second = rt2.submit(|| ()).map(drop);
            (first, second)
        })
        .unwrap();
    assert_eq!(r, (Ok(()), Err(Error::QueueFull)));
}
