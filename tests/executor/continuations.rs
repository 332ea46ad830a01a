//! Continuations through the raw `Executor`: each runs exactly once, on the
//! right thread (at once if the future is resolved, else on the worker or on the
//! cancelling thread).

use crate::common;

use qthr::{Config, Continuation, Executor, Job, Outcome, ShutdownMode};
use std::ffi::c_void;
use std::sync::{Arc, Barrier, Mutex};

unsafe fn record(data: [*mut c_void; 2], outcome: Outcome) {
    // SAFETY (test): data[0] is a live Mutex<Vec<..>>.
    let log = unsafe { &*(data[0] as *const Mutex<Vec<(Outcome, Option<String>)>>) };
    log.lock()
        .unwrap()
        .push((outcome, common::os_thread_name()));
}

#[test]
fn continuations_run_exactly_once_on_the_right_thread() {
    let log: Mutex<Vec<(Outcome, Option<String>)>> = Mutex::new(Vec::new());
    // SAFETY (test): `log` outlives every continuation.
    let cont = unsafe {
        Continuation::new(
            record,
            [&log as *const _ as *mut c_void, std::ptr::null_mut()],
        )
    };
    let ex = Executor::start(Config {
        thread_name: "w".into(),
        ..Config::default()
    })
    .unwrap();
    unsafe extern "C" fn seven(_: *mut c_void) -> *mut c_void {
        7 as *mut c_void
    }
    // SAFETY (test): `seven` ignores its argument.
    let job = unsafe { Job::new(seven, std::ptr::null_mut(), None) };
    // Already resolved: runs at once on this thread.
    let f = ex.submit(job, true).unwrap().unwrap();
    f.wait(-1).unwrap();
    f.then(cont).unwrap();
    f.then(cont).unwrap();
    {
        let l = log.lock().unwrap();
        assert_eq!(l.len(), 2);
        assert_eq!(
            l[0],
            (Outcome::Done(7 as *mut c_void), common::os_thread_name())
        );
    }
    log.lock().unwrap().clear();
    // Attached while pending: runs on the worker after the job.
    let block = Arc::new(Barrier::new(2));
    let b2 = block.clone();
    let rt_blocker = ex.submit(
        {
            unsafe extern "C" fn wait_barrier(arg: *mut c_void) -> *mut c_void {
                // SAFETY (test): arg is a live Barrier.
                unsafe { &*(arg as *const Barrier) }.wait();
                std::ptr::null_mut()
            }
            // SAFETY (test): the barrier outlives the job.
            unsafe { Job::new(wait_barrier, Arc::as_ptr(&b2) as *mut c_void, None) }
        },
        true,
    );
    let f = ex.submit(job, true).unwrap().unwrap();
    let g = ex.submit(job, true).unwrap().unwrap();
    f.then(cont).unwrap();
    g.then(cont).unwrap();
    g.cancel().unwrap(); // resolved by cancel: runs here, now
    assert_eq!(log.lock().unwrap().len(), 1);
    block.wait();
    f.wait(-1).unwrap();
    ex.shutdown(ShutdownMode::Drain).unwrap();
    let l = log.lock().unwrap();
    assert_eq!(l.len(), 2);
    assert_eq!(l[0].0, Outcome::Cancelled);
    assert_eq!(
        l[1],
        (Outcome::Done(7 as *mut c_void), Some("w".to_owned()))
    );
    drop(rt_blocker);
}
