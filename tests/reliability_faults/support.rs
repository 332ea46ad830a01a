//! Shared by several modules: a gate a job blocks on until the test opens it.

use crate::common::*;

use std::ffi::c_void;
use std::ptr;
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::Mutex;
use std::thread;
use std::time::Duration;

/// A gate a job blocks on (sleeping, not spinning) until opened.
pub(crate) struct Gate {
    started: AtomicBool,
    open: Mutex<bool>,
    cv: std::sync::Condvar,
}
impl Gate {
    pub(crate) fn new() -> Gate {
        Gate {
            started: AtomicBool::new(false),
            open: Mutex::new(false),
            cv: std::sync::Condvar::new(),
        }
    }
    pub(crate) fn open(&self) {
        *self.open.lock().unwrap() = true;
        self.cv.notify_all();
    }
    pub(crate) fn wait_started(&self) {
        while !self.started.load(SeqCst) {
            thread::sleep(Duration::from_micros(100));
        }
    }
}

unsafe extern "C" fn block_on_gate(arg: *mut c_void) -> *mut c_void {
    // SAFETY (test): arg is a live Gate.
    let g = unsafe { &*(arg as *const Gate) };
    g.started.store(true, SeqCst);
    let mut open = g.open.lock().unwrap();
    while !*open {
        open = g.cv.wait(open).unwrap();
    }
    arg
}

/// Submits a job that blocks on `g` until it is opened, and returns its future.
///
/// # Safety
/// `rt` is a live runtime, and `g` outlives the job (it is opened before the
/// test returns).
pub(crate) unsafe fn submit_gated(rt: *mut qthr_runtime, g: &Gate) -> *mut qthr_future {
    let mut f = ptr::null_mut();
    // SAFETY: the caller's contract; f is a valid out-parameter.
    let st = unsafe {
        qthr_submit(
            rt,
            Some(block_on_gate),
            g as *const Gate as *mut c_void,
            &mut f,
        )
    };
    assert_eq!(st, QTHR_OK);
    f
}
