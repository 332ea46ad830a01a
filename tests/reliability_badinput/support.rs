//! Shared by several modules: the locks that keep forks and log-callback changes
//! apart from other tests, small jobs and callbacks, and a bogus runtime pointer.

use crate::common::*;

use std::ffi::c_void;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::time::Duration;

/// Tests that fork take this exclusively, every other test shares it: a fork
/// while another test's threads are inside malloc or a parking-lot bucket lock
/// would leave that lock held in the child (a hazard of fork() in any
/// multithreaded program, not of qthr). `fork_during_load` forks under load on
/// purpose, but its child only touches inherited runtimes.
static FORK_LOCK: std::sync::RwLock<()> = std::sync::RwLock::new(());
pub(crate) fn shared_lock() -> std::sync::RwLockReadGuard<'static, ()> {
    FORK_LOCK.read().unwrap_or_else(|e| e.into_inner())
}
pub(crate) fn fork_lock() -> std::sync::RwLockWriteGuard<'static, ()> {
    FORK_LOCK.write().unwrap_or_else(|e| e.into_inner())
}

/// Held by the tests that set the process-wide log callback, so that one's
/// "off" cannot land between another's set and the record it waits for.
static LOG_LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
pub(crate) fn log_lock() -> std::sync::MutexGuard<'static, ()> {
    LOG_LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

pub(crate) unsafe extern "C" fn sleep_ms(arg: *mut c_void) -> *mut c_void {
    std::thread::sleep(Duration::from_millis(arg as u64));
    arg
}

pub(crate) unsafe extern "C" fn count_then(ctx: *mut c_void, _st: qthr_status, _r: *mut c_void) {
    // SAFETY (test): ctx is a live AtomicUsize.
    unsafe { &*(ctx as *const AtomicUsize) }.fetch_add(1, SeqCst);
}

pub(crate) unsafe extern "C" fn count_stop(ctx: *mut c_void) {
    // SAFETY (test): ctx is a live AtomicUsize.
    unsafe { &*(ctx as *const AtomicUsize) }.fetch_add(1, SeqCst);
}

pub(crate) const BOGUS_RT: *mut qthr_runtime = 0x1 as *mut qthr_runtime;
