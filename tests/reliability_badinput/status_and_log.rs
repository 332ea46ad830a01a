//! Status strings (also of values that are no status) and the version; log
//! callback levels out of range.

use crate::common::*;
use crate::support::{log_lock, shared_lock};

use std::ffi::{c_char, c_void, CStr};
use std::ptr;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};

#[test]
fn status_strings_and_version() {
    let _fork_guard = shared_lock();
    let mut seen = std::collections::HashSet::new();
    for &st in STATUSES {
        let p = qthr_status_str(st as u32);
        assert!(!p.is_null());
        // SAFETY: static NUL-terminated string.
        let s = unsafe { CStr::from_ptr(p) }.to_str().unwrap().to_owned();
        assert!(!s.is_empty());
        assert!(seen.insert(s), "{st:?}: duplicate description");
    }
    for bogus in [11u32, 99, 0x8000_0000, u32::MAX] {
        let p = qthr_status_str(bogus);
        assert!(!p.is_null());
        // SAFETY: static NUL-terminated string.
        assert!(!unsafe { CStr::from_ptr(p) }.to_bytes().is_empty());
    }
    let v = qthr_version();
    assert_eq!(v >> 16, QTHR_VERSION_MAJOR);
    assert_eq!((v >> 8) & 0xff, QTHR_VERSION_MINOR);
    assert_eq!(v & 0xff, QTHR_VERSION_PATCH);
}

unsafe extern "C" fn log_count(ctx: *mut c_void, _level: qthr_log_level, msg: *const c_char) {
    assert!(!msg.is_null());
    // SAFETY: valid during the call.
    let _ = unsafe { CStr::from_ptr(msg) }.to_bytes().len();
    // SAFETY (test): ctx is a live AtomicUsize.
    unsafe { &*(ctx as *const AtomicUsize) }.fetch_add(1, SeqCst);
}

#[test]
fn log_callback_levels_out_of_range() {
    let _fork_guard = shared_lock();
    let _log_guard = log_lock();
    static N: AtomicUsize = AtomicUsize::new(0);
    let ctx = &N as *const AtomicUsize as *mut c_void;
    // SAFETY: a valid callback and context; levels out of range are clamped.
    unsafe {
        for lvl in [0u32, 1, 5, 6, 99, u32::MAX] {
            qthr_set_log_callback(lvl, Some(log_count), ctx);
        }
        qthr_set_log_callback(99, Some(log_count), ctx);
        let rt = init(None).unwrap(); // logs "worker started" at INFO
        qthr_free(rt);
        qthr_set_log_callback(0, None, ptr::null_mut());
    }
    assert!(
        N.load(SeqCst) > 0,
        "no log record arrived at the most verbose level"
    );
}
