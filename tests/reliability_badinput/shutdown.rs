//! Use after shutdown, double shutdown, shutdown from the worker, and futures that
//! outlive their runtime.

use crate::common::*;
use crate::support::{count_stop, count_then, shared_lock, BOGUS_RT};

use std::ffi::c_void;
use std::ptr;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::time::Duration;

static STARTED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Sets STARTED, then sleeps `arg` ms.
unsafe extern "C" fn mark_then_sleep_ms(arg: *mut c_void) -> *mut c_void {
    STARTED.store(true, SeqCst);
    std::thread::sleep(Duration::from_millis(arg as u64));
    arg
}

#[test]
fn use_after_shutdown_and_double_shutdown() {
    let _fork_guard = shared_lock();
    let _d = watchdog("use_after_shutdown_and_double_shutdown", 60);
    for (first, second) in [
        (QTHR_DRAIN, QTHR_DRAIN),
        (QTHR_DRAIN, QTHR_CANCEL),
        (QTHR_CANCEL, QTHR_DRAIN),
        (QTHR_CANCEL, QTHR_CANCEL),
    ] {
        let stops = &AtomicUsize::new(0);
        let mut c = config(8, false);
        c.on_stop = Some(count_stop);
        c.hook_ctx = stops as *const AtomicUsize as *mut c_void;
        let rt = init(Some(&c)).unwrap();
        // SAFETY: live runtime until qthr_free; futures freed once.
        unsafe {
            let mut done = ptr::null_mut();
            assert_eq!(
                qthr_submit(rt, Some(ident), 9 as *mut c_void, &mut done),
                QTHR_OK
            );
            assert_eq!(qthr_wait(done, -1, ptr::null_mut()), QTHR_OK);
            assert_eq!(qthr_shutdown(rt, first), QTHR_OK);
            assert_eq!(qthr_shutdown(rt, second), QTHR_OK);
            assert_eq!(qthr_shutdown(rt, first), QTHR_OK);
            assert_eq!(stops.load(SeqCst), 1);
            let mut f = BOGUS_RT as *mut qthr_future;
            assert_eq!(
                qthr_submit(rt, Some(ident), ptr::null_mut(), &mut f),
                QTHR_SHUTDOWN
            );
            assert_eq!(f, BOGUS_RT as *mut qthr_future);
            assert_eq!(
                qthr_submit(rt, Some(ident), ptr::null_mut(), ptr::null_mut()),
                QTHR_SHUTDOWN
            );
            let fns: [qthr_fn; 2] = [Some(ident); 2];
            assert_eq!(
                qthr_submit_batch(rt, 2, fns.as_ptr(), ptr::null(), ptr::null_mut()),
                QTHR_SHUTDOWN
            );
            assert_eq!(
                qthr_call(rt, Some(ident), ptr::null_mut(), ptr::null_mut()),
                QTHR_SHUTDOWN
            );
            // Bad arguments still win over the shutdown state.
            assert_eq!(
                qthr_submit(rt, None, ptr::null_mut(), ptr::null_mut()),
                QTHR_INVALID_ARGUMENT
            );
            assert_eq!(qthr_on_worker(rt), 0);
            let s = stats(rt);
            assert_eq!((s.submitted, s.completed, s.queue_len), (1, 1, 0));
            // The resolved future keeps working.
            let mut r = ptr::null_mut();
            assert_eq!(qthr_wait(done, -1, &mut r), QTHR_OK);
            assert_eq!(r as usize, 9);
            assert_eq!(qthr_cancel(done), QTHR_NOT_CANCELLABLE);
            let n = AtomicUsize::new(0);
            assert_eq!(
                qthr_future_then(done, Some(count_then), &n as *const _ as *mut c_void),
                QTHR_OK
            );
            assert_eq!(n.load(SeqCst), 1, "then on a resolved future runs at once");
            qthr_free(rt);
            assert_eq!(stops.load(SeqCst), 1, "on_stop once, also across free");
            // ... and after its runtime is freed.
            assert_eq!(qthr_wait(done, 0, &mut r), QTHR_OK);
            assert_eq!(qthr_cancel(done), QTHR_NOT_CANCELLABLE);
            assert_eq!(
                qthr_future_then(done, Some(count_then), &n as *const _ as *mut c_void),
                QTHR_OK
            );
            assert_eq!(n.load(SeqCst), 2);
            qthr_future_free(done);
        }
    }
}

unsafe extern "C" fn shutdown_own(arg: *mut c_void) -> *mut c_void {
    let rt = arg as *mut qthr_runtime;
    // SAFETY: the runtime is alive while its job runs.
    let st = unsafe {
        [
            qthr_shutdown(rt, QTHR_DRAIN),
            qthr_shutdown(rt, QTHR_CANCEL),
        ]
    };
    (st[0] as usize * 100 + st[1] as usize) as *mut c_void
}

#[test]
fn shutdown_from_the_worker_would_deadlock() {
    let _fork_guard = shared_lock();
    let rt = init(None).unwrap();
    let mut r = ptr::null_mut();
    // SAFETY: live runtime.
    unsafe {
        assert_eq!(
            qthr_call(rt, Some(shutdown_own), rt as *mut c_void, &mut r),
            QTHR_OK
        );
        let w = QTHR_WOULD_DEADLOCK as usize;
        assert_eq!(r as usize, w * 100 + w);
        // Still running.
        assert_eq!(
            qthr_call(rt, Some(ident), ptr::null_mut(), ptr::null_mut()),
            QTHR_OK
        );
        qthr_free(rt);
    }
}

/// Futures outlive their runtime: waited, cancelled, continued, freed after
/// qthr_free, in both shutdown modes.
#[test]
fn futures_outlive_their_runtime() {
    let _fork_guard = shared_lock();
    let _d = watchdog("futures_outlive_their_runtime", 60);
    for mode in [QTHR_DRAIN, QTHR_CANCEL] {
        let rt = init(Some(&config(64, false))).unwrap();
        let mut futs = Vec::new();
        // SAFETY: live runtime until freed; futures freed once, afterwards.
        unsafe {
            let mut blocker = ptr::null_mut();
            STARTED.store(false, SeqCst);
            assert_eq!(
                qthr_submit(
                    rt,
                    Some(mark_then_sleep_ms),
                    30 as *mut c_void,
                    &mut blocker
                ),
                QTHR_OK
            );
            while !STARTED.load(SeqCst) {
                std::thread::yield_now();
            }
            for i in 0..32usize {
                let mut f = ptr::null_mut();
                assert_eq!(
                    qthr_submit(rt, Some(ident), i as *mut c_void, &mut f),
                    QTHR_OK
                );
                futs.push(f);
            }
            assert_eq!(qthr_shutdown(rt, mode), QTHR_OK);
            qthr_free(rt);
            assert_eq!(
                qthr_wait(blocker, 0, ptr::null_mut()),
                QTHR_OK,
                "a running job always finishes"
            );
            qthr_future_free(blocker);
            for (i, &f) in futs.iter().enumerate() {
                let mut r = ptr::null_mut();
                let st = qthr_wait(f, 0, &mut r);
                match mode {
                    QTHR_DRAIN => assert_eq!((st, r as usize), (QTHR_OK, i)),
                    _ => assert_eq!(st, QTHR_CANCELLED),
                }
                assert_eq!(qthr_wait(f, -1, ptr::null_mut()), st);
                qthr_future_free(f);
            }
        }
    }
}
