//! Re-entrancy: a call on the worker runs inline, a job waiting for a job queued
//! behind it runs it inline, a job waiting for its own future gets WouldDeadlock,
//! and runtimes calling each other do not deadlock.

use crate::common::{self, watchdog};

use qthr::{Config, Error, Executor, Job, Runtime};
use std::ffi::c_void;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

#[test]
fn call_on_the_worker_runs_inline() {
    let rt = Arc::new(Runtime::new().unwrap());
    let rt2 = rt.clone();
    let v = rt
        .call(move || {
            assert!(rt2.on_worker());
            rt2.call(|| 5).unwrap() + 1
        })
        .unwrap();
    assert_eq!(v, 6);
    assert!(!rt.on_worker());
}

#[test]
fn a_job_waiting_for_a_job_queued_behind_it_runs_it_inline() {
    let rt = Arc::new(Runtime::new().unwrap());
    let rt2 = rt.clone();
    let got = rt
        .call(move || {
            let later = rt2.submit(|| 7).unwrap();
            later.wait().unwrap()
        })
        .unwrap();
    assert_eq!(got, 7);
}

struct SelfWait {
    me: std::sync::atomic::AtomicPtr<c_void>,
    results: Mutex<Vec<Result<*mut c_void, Error>>>,
}

unsafe extern "C" fn wait_for_myself(arg: *mut c_void) -> *mut c_void {
    // SAFETY (test): arg is a live SelfWait.
    let sw = unsafe { &*(arg as *const SelfWait) };
    let me = loop {
        let p = sw.me.load(Ordering::SeqCst);
        if !p.is_null() {
            break p;
        }
        std::hint::spin_loop();
    };
    // SAFETY (test): the submitter keeps its reference alive until we return.
    let f = std::mem::ManuallyDrop::new(unsafe { qthr::FutureRef::from_raw(me) });
    let mut r = sw.results.lock().unwrap();
    r.push(f.wait(-1));
    r.push(f.wait(0));
    r.push(f.wait(1_000_000));
    std::ptr::null_mut()
}

#[test]
fn a_job_waiting_for_its_own_future_gets_would_deadlock() {
    let _w = watchdog("a_job_waiting_for_its_own_future_gets_would_deadlock", 30);
    let ex = Executor::start(Config::default()).unwrap();
    let sw = SelfWait {
        me: Default::default(),
        results: Mutex::new(Vec::new()),
    };
    // SAFETY (test): `sw` outlives the job.
    let job = unsafe { Job::new(wait_for_myself, &sw as *const SelfWait as *mut c_void, None) };
    let f = ex.submit(job, true).unwrap().unwrap();
    let raw = f.into_raw();
    sw.me.store(raw as *mut c_void, Ordering::SeqCst);
    // SAFETY: from into_raw above.
    let f = unsafe { qthr::FutureRef::from_raw(raw) };
    assert!(f.wait(-1).is_ok());
    let r = sw.results.lock().unwrap().clone();
    assert_eq!(
        r,
        vec![
            Err(Error::WouldDeadlock),
            Err(Error::Timeout),
            Err(Error::WouldDeadlock)
        ]
    );
}

#[test]
fn runtimes_calling_each_other_do_not_deadlock() {
    let _w = watchdog("runtimes_calling_each_other_do_not_deadlock", 30);
    let a = Arc::new(Runtime::builder().thread_name("a").build().unwrap());
    let b = Arc::new(Runtime::builder().thread_name("b").build().unwrap());
    let (a2, b2) = (a.clone(), b.clone());
    let v = a
        .call(move || {
            let a3 = a2.clone();
            // A's worker waits for B, whose job calls back into A.
            b2.call(move || a3.call(|| common::os_thread_name().unwrap()).unwrap())
                .unwrap()
        })
        .unwrap();
    assert_eq!(v, "a");
    // Same through futures.
    let (a2, b2) = (a.clone(), b.clone());
    let v = a
        .submit(move || {
            let a3 = a2.clone();
            b2.submit(move || a3.submit(|| 11).unwrap().wait().unwrap() + 1)
                .unwrap()
                .wait()
                .unwrap()
        })
        .unwrap()
        .wait()
        .unwrap();
    assert_eq!(v, 12);
}
