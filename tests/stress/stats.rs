//! Stats under load.

use crate::common::*;

use std::ffi::c_void;
use std::ptr;
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::thread;

unsafe extern "C" fn nop(arg: *mut c_void) -> *mut c_void {
    arg
}

/// Snapshots taken while jobs flow may lag, but never show more jobs resolved
/// than submitted (a binding computing `submitted - completed - cancelled` in
/// u64 would underflow).
#[test]
fn stats_under_load_never_resolve_more_than_submitted() {
    let _dog = watchdog("stats_under_load_never_resolve_more_than_submitted", 120);
    let rt = Sp(init(None).unwrap());
    let stop = AtomicBool::new(false);
    let bad = thread::scope(|s| {
        for _ in 0..2 {
            let stop = &stop;
            s.spawn(move || {
                let rt = rt;
                while !stop.load(SeqCst) {
                    // SAFETY: live runtime.
                    let st =
                        unsafe { qthr_submit(rt.0, Some(nop), ptr::null_mut(), ptr::null_mut()) };
                    assert_eq!(st, QTHR_OK);
                }
            });
        }
        let mut bad = Vec::new();
        for _ in 0..scaled(3_000_000) {
            let s = stats(rt.0);
            if s.completed + s.cancelled > s.submitted {
                bad.push((s.submitted, s.completed, s.cancelled));
            }
        }
        stop.store(true, SeqCst);
        bad
    });
    // SAFETY: freed once.
    unsafe { qthr_free(rt.0) };
    assert!(
        bad.is_empty(),
        "{} snapshots resolved more than submitted, e.g. {:?}",
        bad.len(),
        bad[0]
    );
}
