//! NULL for every pointer of every call, with and without a live runtime.

use crate::common::*;
use crate::support::{count_then, log_lock, shared_lock, BOGUS_RT};

use std::ffi::c_void;
use std::ptr;

#[test]
fn null_pointers_everywhere() {
    let _fork_guard = shared_lock();
    let _d = watchdog("null_pointers_everywhere", 60);
    // SAFETY: every call below is given NULL (or valid) pointers only.
    unsafe {
        qthr_config_init(ptr::null_mut()); // no-op
        assert_eq!(
            qthr_init(ptr::null(), ptr::null_mut()),
            QTHR_INVALID_ARGUMENT
        );
        let c = config(16, false);
        assert_eq!(qthr_init(&c, ptr::null_mut()), QTHR_INVALID_ARGUMENT);

        let mut f: *mut qthr_future = BOGUS_RT as *mut qthr_future;
        assert_eq!(
            qthr_submit(ptr::null_mut(), Some(ident), ptr::null_mut(), &mut f),
            QTHR_INVALID_ARGUMENT
        );
        assert_eq!(f, BOGUS_RT as *mut qthr_future, "out untouched on failure");
        let fns = [Some(
            ident as unsafe extern "C" fn(*mut c_void) -> *mut c_void,
        )];
        assert_eq!(
            qthr_submit_batch(
                ptr::null_mut(),
                1,
                fns.as_ptr(),
                ptr::null(),
                ptr::null_mut()
            ),
            QTHR_INVALID_ARGUMENT
        );
        assert_eq!(
            qthr_wait(ptr::null_mut(), 0, ptr::null_mut()),
            QTHR_INVALID_ARGUMENT
        );
        assert_eq!(
            qthr_wait(ptr::null_mut(), -1, ptr::null_mut()),
            QTHR_INVALID_ARGUMENT
        );
        assert_eq!(qthr_cancel(ptr::null_mut()), QTHR_INVALID_ARGUMENT);
        assert_eq!(
            qthr_future_then(ptr::null_mut(), Some(count_then), ptr::null_mut()),
            QTHR_INVALID_ARGUMENT
        );
        qthr_future_free(ptr::null_mut()); // no-op
        assert_eq!(
            qthr_call(
                ptr::null_mut(),
                Some(ident),
                ptr::null_mut(),
                ptr::null_mut()
            ),
            QTHR_INVALID_ARGUMENT
        );
        assert_eq!(qthr_on_worker(ptr::null()), 0);
        assert_eq!(
            qthr_shutdown(ptr::null_mut(), QTHR_DRAIN),
            QTHR_INVALID_ARGUMENT
        );
        qthr_free(ptr::null_mut()); // no-op
        let mut s = std::mem::zeroed::<qthr_stats>();
        s.size = std::mem::size_of::<qthr_stats>();
        assert_eq!(qthr_get_stats(ptr::null(), &mut s), QTHR_INVALID_ARGUMENT);
        let log_guard = log_lock();
        qthr_set_log_callback(5, None, ptr::null_mut()); // off
        drop(log_guard);

        // A live runtime, NULL everything else.
        let rt = init(None).unwrap();
        assert_eq!(
            qthr_submit(rt, None, ptr::null_mut(), ptr::null_mut()),
            QTHR_INVALID_ARGUMENT
        );
        let mut f = ptr::null_mut();
        assert_eq!(
            qthr_submit(rt, None, ptr::null_mut(), &mut f),
            QTHR_INVALID_ARGUMENT
        );
        assert!(f.is_null());
        assert_eq!(
            qthr_call(rt, None, ptr::null_mut(), ptr::null_mut()),
            QTHR_INVALID_ARGUMENT
        );
        assert_eq!(qthr_get_stats(rt, ptr::null_mut()), QTHR_INVALID_ARGUMENT);
        // Batches: n == 0 is a no-op (even with NULL arrays); NULL fns; a NULL
        // entry rejects the whole batch and queues nothing.
        assert_eq!(
            qthr_submit_batch(rt, 0, ptr::null(), ptr::null(), ptr::null_mut()),
            QTHR_OK
        );
        assert_eq!(
            qthr_submit_batch(rt, 3, ptr::null(), ptr::null(), ptr::null_mut()),
            QTHR_INVALID_ARGUMENT
        );
        let before = stats(rt).submitted;
        let fns3: [qthr_fn; 3] = [Some(ident), None, Some(ident)];
        let mut outs = [BOGUS_RT as *mut qthr_future; 3];
        assert_eq!(
            qthr_submit_batch(rt, 3, fns3.as_ptr(), ptr::null(), outs.as_mut_ptr()),
            QTHR_INVALID_ARGUMENT
        );
        assert!(
            outs.iter().all(|&o| o == BOGUS_RT as *mut qthr_future),
            "outs untouched"
        );
        assert_eq!(stats(rt).submitted, before, "nothing queued");
        // args NULL means every arg is NULL; result NULL is allowed.
        let fns2: [qthr_fn; 2] = [Some(ident), Some(ident)];
        let mut outs = [ptr::null_mut(); 2];
        assert_eq!(
            qthr_submit_batch(rt, 2, fns2.as_ptr(), ptr::null(), outs.as_mut_ptr()),
            QTHR_OK
        );
        for o in outs {
            let mut r = BOGUS_RT as *mut c_void;
            assert_eq!(qthr_wait(o, -1, &mut r), QTHR_OK);
            assert!(r.is_null());
            assert_eq!(qthr_wait(o, -1, ptr::null_mut()), QTHR_OK);
            assert_eq!(
                qthr_future_then(o, None, ptr::null_mut()),
                QTHR_INVALID_ARGUMENT
            );
            qthr_future_free(o);
        }
        assert_eq!(
            qthr_call(rt, Some(ident), 7 as *mut c_void, ptr::null_mut()),
            QTHR_OK
        );
        qthr_free(rt);
    }
}
