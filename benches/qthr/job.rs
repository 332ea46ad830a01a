//! The job every executor runs: add the argument to an "engine" counter that
//! only the executing thread touches, and return it. The counter also proves, in
//! [`crate::measure`], that every op counted really ran its jobs.

use std::ffi::c_void;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The engine's state: touched only by the thread that runs jobs (a relaxed
/// load + store, no RMW: it is single-threaded by construction).
pub(crate) static ENGINE: crossbeam_utils::CachePadded<AtomicUsize> =
    crossbeam_utils::CachePadded::new(AtomicUsize::new(0));

pub(crate) fn engine_job(x: usize) -> usize {
    let v = ENGINE.load(Ordering::Relaxed).wrapping_add(x);
    ENGINE.store(v, Ordering::Relaxed);
    v
}

pub(crate) unsafe extern "C" fn c_job(arg: *mut c_void) -> *mut c_void {
    engine_job(arg as usize) as *mut c_void
}
