//! The C ABI (`qthr::ffi`) as a C host sees it, and small helpers over it.

pub use qthr::ffi::qthr_status::{self, *};
pub use qthr::ffi::*;
use std::ffi::c_void;
use std::ptr;

/// A runtime configuration with the defaults, then adjusted.
pub fn config(capacity: usize, nonblocking: bool) -> qthr_config {
    let mut c = std::mem::MaybeUninit::<qthr_config>::uninit();
    // SAFETY: qthr_config_init_sized writes every field.
    let mut c = unsafe {
        qthr_config_init_sized(c.as_mut_ptr(), std::mem::size_of::<qthr_config>());
        c.assume_init()
    };
    c.queue_capacity = capacity;
    c.nonblocking = nonblocking as i32;
    c
}

pub fn init(cfg: Option<&qthr_config>) -> Result<*mut qthr_runtime, qthr_status> {
    let mut rt = ptr::null_mut();
    // SAFETY: cfg is a valid config or NULL; rt is writable.
    let st = unsafe { qthr_init(cfg.map_or(ptr::null(), |c| c as *const _), &mut rt) };
    if st == QTHR_OK {
        assert!(!rt.is_null());
        Ok(rt)
    } else {
        assert!(rt.is_null(), "qthr_init wrote *out on failure");
        Err(st)
    }
}

pub fn stats(rt: *mut qthr_runtime) -> qthr_stats {
    let mut s = qthr_stats {
        size: std::mem::size_of::<qthr_stats>(),
        submitted: 0,
        completed: 0,
        cancelled: 0,
        queue_len: 0,
        queue_high_water: 0,
        expired: 0,
    };
    // SAFETY: live runtime, writable stats.
    let st = unsafe { qthr_get_stats(rt, &mut s) };
    assert_eq!(st, QTHR_OK);
    s
}

/// A raw pointer that may be moved to another thread (tests only).
#[derive(Debug, PartialEq, Eq)]
pub struct Sp<T>(pub *mut T);
impl<T> Clone for Sp<T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for Sp<T> {}
// SAFETY: the tests hand runtimes and futures to other threads on purpose:
// the C ABI allows every call from any thread.
unsafe impl<T> Send for Sp<T> {}
// SAFETY: as above.
unsafe impl<T> Sync for Sp<T> {}

pub const STATUSES: &[qthr_status] = &[
    QTHR_OK,
    QTHR_TIMEOUT,
    QTHR_CANCELLED,
    QTHR_SHUTDOWN,
    QTHR_QUEUE_FULL,
    QTHR_INVALID_ARGUMENT,
    QTHR_START_FAILED,
    QTHR_WOULD_DEADLOCK,
    QTHR_FORKED,
    QTHR_NOT_CANCELLABLE,
    QTHR_PANIC,
];

/// A job returning its argument.
pub unsafe extern "C" fn ident(arg: *mut c_void) -> *mut c_void {
    arg
}
