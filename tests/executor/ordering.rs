//! Ordering: every job runs on the one worker and none is lost; jobs, and calls
//! mixed with submits, run in submission order per submitting thread.

use crate::common::{self, watchdog};

use qthr::Runtime;
use std::sync::{Arc, Mutex};
use std::thread;

#[test]
fn every_job_runs_on_the_one_worker_and_none_is_lost() {
    let _w = watchdog("every_job_runs_on_the_one_worker_and_none_is_lost", 60);
    let rt = Arc::new(Runtime::builder().thread_name("engine").build().unwrap());
    let worker = rt.call(|| thread::current().id()).unwrap();
    assert_eq!(
        rt.call(common::os_thread_name).unwrap().as_deref(),
        Some("engine")
    );
    // An unsynchronised engine: a plain counter only the worker may touch.
    struct Engine(std::cell::UnsafeCell<u64>);
    // SAFETY (test): only the worker touches the cell; each access asserts it.
    unsafe impl Sync for Engine {}
    let engine = Arc::new(Engine(std::cell::UnsafeCell::new(0)));
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let (rt, engine) = (rt.clone(), engine.clone());
            thread::spawn(move || {
                for i in 0..5_000u64 {
                    let e = engine.clone();
                    let got = rt
                        .call(move || {
                            assert_eq!(thread::current().id(), worker);
                            // SAFETY: on the worker (asserted).
                            unsafe { *e.0.get() += 1 };
                            i * 2
                        })
                        .unwrap();
                    assert_eq!(got, i * 2);
                }
            })
        })
        .collect();
    threads.into_iter().for_each(|t| t.join().unwrap());
    let e = engine.clone();
    // SAFETY: on the worker.
    assert_eq!(rt.call(move || unsafe { *e.0.get() }).unwrap(), 40_000);
}

/// `seen` holds (thread, i) pairs: each of `threads` threads must appear with
/// 0..n in order.
fn assert_each_thread_in_order(seen: &[(usize, usize)], threads: usize, n: usize) {
    for t in 0..threads {
        let mine: Vec<_> = seen
            .iter()
            .filter(|(x, _)| *x == t)
            .map(|(_, i)| *i)
            .collect();
        assert_eq!(mine, (0..n).collect::<Vec<_>>(), "thread {t}");
    }
}

#[test]
fn jobs_run_in_submission_order_per_thread() {
    let rt = Arc::new(Runtime::new().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let (rt, seen) = (rt.clone(), seen.clone());
            thread::spawn(move || {
                let futs: Vec<_> = (0..2000)
                    .map(|i| {
                        let seen = seen.clone();
                        rt.submit(move || seen.lock().unwrap().push((t, i)))
                            .unwrap()
                    })
                    .collect();
                futs.into_iter().for_each(|f| f.wait().unwrap());
            })
        })
        .collect();
    threads.into_iter().for_each(|t| t.join().unwrap());
    assert_each_thread_in_order(&seen.lock().unwrap(), 4, 2000);
}

/// Synchronous calls take a fast path (the mailbox) only when nothing is
/// queued; mixed with submits from the same thread they still run in order.
#[test]
fn calls_and_submits_from_one_thread_stay_in_order() {
    let _w = watchdog("calls_and_submits_from_one_thread_stay_in_order", 60);
    let rt = Arc::new(Runtime::new().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let (rt, seen) = (rt.clone(), seen.clone());
            thread::spawn(move || {
                for i in 0..3000 {
                    let seen = seen.clone();
                    let push = move || seen.lock().unwrap().push((t, i));
                    if i % 3 == 0 {
                        rt.call(push).unwrap();
                    } else {
                        rt.spawn(push).unwrap();
                    }
                }
                rt.call(|| ()).unwrap();
            })
        })
        .collect();
    threads.into_iter().for_each(|t| t.join().unwrap());
    assert_each_thread_in_order(&seen.lock().unwrap(), 4, 3000);
}
