//! Bad config sizes and values (size, capacity, nonblocking, cpu, thread_name, a
//! failing on_start), and the largest valid queue capacity.

use crate::common::*;
use crate::support::{count_stop, shared_lock};

use std::ffi::{c_char, c_int, c_void};
use std::ptr;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};

unsafe extern "C" fn fail_start(_ctx: *mut c_void) -> c_int {
    -1
}

#[test]
fn bad_configs() {
    let _fork_guard = shared_lock();
    let _d = watchdog("bad_configs", 60);

    let sz = std::mem::size_of::<qthr_config>();
    type Case = (&'static str, Box<dyn Fn(&mut qthr_config)>, qthr_status);
    let cases: Vec<Case> = vec![
        ("size 0", Box::new(|c| c.size = 0), QTHR_INVALID_ARGUMENT),
        (
            "size too small",
            Box::new(move |c| c.size = sz - 1),
            QTHR_INVALID_ARGUMENT,
        ),
        ("size 8", Box::new(|c| c.size = 8), QTHR_INVALID_ARGUMENT),
        (
            "size too large",
            Box::new(move |c| c.size = sz + 8),
            QTHR_INVALID_ARGUMENT,
        ),
        (
            "size SIZE_MAX",
            Box::new(|c| c.size = usize::MAX),
            QTHR_INVALID_ARGUMENT,
        ),
        (
            "capacity 0",
            Box::new(|c| c.queue_capacity = 0),
            QTHR_INVALID_ARGUMENT,
        ),
        (
            "capacity 2^24+1",
            Box::new(|c| c.queue_capacity = (1 << 24) + 1),
            QTHR_INVALID_ARGUMENT,
        ),
        (
            "capacity SIZE_MAX",
            Box::new(|c| c.queue_capacity = usize::MAX),
            QTHR_INVALID_ARGUMENT,
        ),
        ("capacity 1", Box::new(|c| c.queue_capacity = 1), QTHR_OK),
        (
            "nonblocking 2",
            Box::new(|c| c.nonblocking = 2),
            QTHR_INVALID_ARGUMENT,
        ),
        (
            "nonblocking -1",
            Box::new(|c| c.nonblocking = -1),
            QTHR_INVALID_ARGUMENT,
        ),
        (
            "nonblocking INT_MIN",
            Box::new(|c| c.nonblocking = i32::MIN),
            QTHR_INVALID_ARGUMENT,
        ),
        ("cpu -5", Box::new(|c| c.cpu = -5), QTHR_INVALID_ARGUMENT),
        ("cpu -2", Box::new(|c| c.cpu = -2), QTHR_INVALID_ARGUMENT),
        (
            "cpu INT_MIN",
            Box::new(|c| c.cpu = i32::MIN),
            QTHR_INVALID_ARGUMENT,
        ),
        (
            "cpu INT_MAX",
            Box::new(|c| c.cpu = i32::MAX),
            QTHR_INVALID_ARGUMENT,
        ),
        (
            "cpu 1023 (absent)",
            Box::new(|c| c.cpu = 1023),
            QTHR_START_FAILED,
        ),
        ("cpu 0", Box::new(|c| c.cpu = 0), QTHR_OK),
        ("cpu -1", Box::new(|c| c.cpu = -1), QTHR_OK),
        (
            "thread_name NULL",
            Box::new(|c| c.thread_name = ptr::null()),
            QTHR_OK,
        ),
        (
            "thread_name empty",
            Box::new(|c| c.thread_name = c"".as_ptr()),
            QTHR_OK,
        ),
        (
            "thread_name 300 bytes",
            Box::new(|c| c.thread_name = LONG_NAME.as_ptr() as *const c_char),
            QTHR_OK,
        ),
        (
            "thread_name invalid UTF-8",
            Box::new(|c| c.thread_name = c"\xff\xfeengine\xc3".as_ptr()),
            QTHR_OK,
        ),
        (
            "on_start fails",
            Box::new(|c| c.on_start = Some(fail_start)),
            QTHR_START_FAILED,
        ),
    ];
    for (name, tweak, want) in cases {
        let mut c = config(16, false);
        tweak(&mut c);
        let stops = &AtomicUsize::new(0);
        c.on_stop = Some(count_stop);
        c.hook_ctx = stops as *const AtomicUsize as *mut c_void;
        let got = init(Some(&c));
        match got {
            Ok(rt) => {
                assert_eq!(want, QTHR_OK, "{name}: expected {want:?}, got OK");
                let mut r = ptr::null_mut();
                // SAFETY: live runtime.
                unsafe {
                    assert_eq!(
                        qthr_call(rt, Some(ident), 5 as *mut c_void, &mut r),
                        QTHR_OK,
                        "{name}"
                    );
                    qthr_free(rt);
                }
                assert_eq!(r as usize, 5);
                assert_eq!(stops.load(SeqCst), 1, "{name}: on_stop once");
            }
            Err(st) => {
                assert_eq!(st, want, "{name}");
                assert_eq!(
                    stops.load(SeqCst),
                    0,
                    "{name}: on_stop must not run after a failed start"
                );
            }
        }
    }
}

static LONG_NAME: [u8; 301] = {
    let mut a = [b'x'; 301];
    a[300] = 0;
    a
};

#[test]
fn the_largest_queue_capacity_works() {
    let _fork_guard = shared_lock();
    if std::env::var_os("QTHR_SKIP_HUGE").is_some() {
        return; // valgrind / sanitizers: a 2^24-slot ring is too slow to set up there
    }
    let c = config(1 << 24, true);
    let rt = init(Some(&c)).expect("capacity 2^24 is valid");
    // SAFETY: live runtime.
    unsafe {
        assert_eq!(
            qthr_call(rt, Some(ident), ptr::null_mut(), ptr::null_mut()),
            QTHR_OK
        );
        qthr_free(rt);
    }
}
