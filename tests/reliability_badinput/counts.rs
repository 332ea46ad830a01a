//! Bad counts and modes: batch counts beyond the capacity (also ones no array can
//! back), shutdown modes, stats sizes and absurd timeouts.

use crate::common::*;
use crate::support::{shared_lock, sleep_ms};

use std::ffi::c_void;
use std::ptr;

#[test]
fn bad_counts_and_modes() {
    let _fork_guard = shared_lock();
    let _d = watchdog("bad_counts_and_modes", 60);
    let c = config(4, true);
    let rt = init(Some(&c)).unwrap();
    // SAFETY: live runtime; arrays as long as n says.
    unsafe {
        let fns: [qthr_fn; 5] = [Some(ident); 5];
        assert_eq!(
            qthr_submit_batch(rt, 5, fns.as_ptr(), ptr::null(), ptr::null_mut()),
            QTHR_INVALID_ARGUMENT,
            "n > capacity"
        );
        assert_eq!(stats(rt).submitted, 0);
        for mode in [2u32, 3, 0x8000_0000, u32::MAX] {
            assert_eq!(
                qthr_shutdown(rt, mode),
                QTHR_INVALID_ARGUMENT,
                "mode {mode}"
            );
        }
        // Still running after the rejected shutdowns.
        assert_eq!(
            qthr_call(rt, Some(ident), ptr::null_mut(), ptr::null_mut()),
            QTHR_OK
        );
        let mut s = std::mem::zeroed::<qthr_stats>();
        for size in [
            0,
            8,
            std::mem::size_of::<qthr_stats>() - 1,
            std::mem::size_of::<qthr_stats>() + 8,
            usize::MAX,
        ] {
            s.size = size;
            assert_eq!(
                qthr_get_stats(rt, &mut s),
                QTHR_INVALID_ARGUMENT,
                "stats size {size}"
            );
        }
        // Timeouts: absurd values saturate, negative ones wait forever.
        let mut f = ptr::null_mut();
        assert_eq!(
            qthr_submit(rt, Some(sleep_ms), 30 as *mut c_void, &mut f),
            QTHR_OK
        );
        assert_eq!(qthr_wait(f, 1, ptr::null_mut()), QTHR_TIMEOUT);
        assert_eq!(qthr_wait(f, i64::MIN, ptr::null_mut()), QTHR_OK);
        assert_eq!(qthr_wait(f, i64::MAX, ptr::null_mut()), QTHR_OK);
        qthr_future_free(f);
        assert_eq!(
            qthr_submit(rt, Some(sleep_ms), 20 as *mut c_void, &mut f),
            QTHR_OK
        );
        assert_eq!(
            qthr_wait(f, i64::MAX, ptr::null_mut()),
            QTHR_OK,
            "i64::MAX ns must not overflow"
        );
        qthr_future_free(f);
        qthr_free(rt);
    }
}

/// qthr_submit_batch(n) on a capacity-4 runtime with one-entry arrays placed
/// right before an inaccessible page. Ok(0) if rejected as INVALID_ARGUMENT.
fn batch_with_guard_page(n: usize) -> Result<i32, String> {
    let c = config(4, false);
    let rt = init(Some(&c)).unwrap();
    // One-entry arrays at the very end of a page followed by an
    // inaccessible page: reading a second entry faults at once.
    // SAFETY: plain mmap/mprotect of fresh anonymous memory.
    let (fns, args) = unsafe {
        let pg = 4096usize;
        let m = libc::mmap(
            ptr::null_mut(),
            3 * pg,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        ) as *mut u8;
        assert!(m as isize != -1);
        assert_eq!(
            libc::mprotect(m.add(pg) as *mut c_void, pg, libc::PROT_NONE),
            0
        );
        let fns = m.add(pg - 8) as *mut qthr_fn;
        fns.write(Some(ident));
        let args = m.add(3 * pg - 8) as *mut *mut c_void;
        args.write(ptr::null_mut());
        (fns as *const qthr_fn, args as *const *mut c_void)
    };
    // SAFETY: deliberately lying about n: the library must reject it
    // (n > capacity) without reading past the arrays.
    let st = unsafe { qthr_submit_batch(rt, n, fns, args, ptr::null_mut()) };
    // SAFETY: live runtime.
    unsafe { qthr_free(rt) };
    // SAFETY: the mapping made above, no longer used.
    unsafe { libc::munmap((fns as *mut u8).sub(4096 - 8) as *mut c_void, 3 * 4096) };
    if st == QTHR_INVALID_ARGUMENT {
        Ok(0)
    } else {
        Ok(10 + st as i32)
    }
}

/// Counts beyond the capacity that no array can back: the count must be checked
/// against the capacity before the arrays are read (else it reads out of bounds
/// and faults on the guard page: the test process crashes, which fails it).
#[test]
fn absurd_batch_counts_do_not_crash() {
    let _fork_guard = shared_lock();
    let _d = watchdog("absurd_batch_counts_do_not_crash", 60);
    for n in [usize::MAX, usize::MAX / 8 + 1, 1 << 40, 5] {
        let r = batch_with_guard_page(n);
        assert_eq!(
            r,
            Ok(0),
            "qthr_submit_batch(n = {n:#x}) with a 1-entry array"
        );
    }
}
