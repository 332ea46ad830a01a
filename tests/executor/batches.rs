//! Batches through the raw `Executor`: all or nothing, and in order.

use qthr::{Config, Error, Executor, Job, ShutdownMode};
use std::ffi::c_void;

#[test]
fn batches_are_all_or_nothing_and_in_order() {
    let ex = Executor::start(Config {
        queue_capacity: 8,
        nonblocking: true,
        ..Config::default()
    })
    .unwrap();
    unsafe extern "C" fn ident(arg: *mut c_void) -> *mut c_void {
        arg
    }
    // SAFETY (test): `ident` only returns its argument.
    let job = |i: usize| unsafe { Job::new(ident, i as *mut c_void, None) };
    let mut futs = Vec::new();
    ex.submit_batch(8, job, true, |i, f| futs.push((i, f)))
        .unwrap();
    for (i, f) in &futs {
        assert_eq!(f.wait(-1).unwrap() as usize, *i);
    }
    assert_eq!(
        ex.submit_batch(9, job, false, |_, _| {}),
        Err(Error::InvalidArgument)
    );
    ex.submit_batch(0, job, false, |_, _| unreachable!())
        .unwrap();
    ex.shutdown(ShutdownMode::Drain).unwrap();
    assert_eq!(
        ex.submit_batch(2, job, false, |_, _| {}),
        Err(Error::Shutdown)
    );
}
