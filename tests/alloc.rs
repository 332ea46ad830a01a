//! Behaviour: the call path allocates nothing once warm, and submit + wait
//! allocates nothing amortised (completion slots are pooled). Alone in its own
//! binary because it counts every allocation of the process.

mod common;

use qthr::ffi::*;
use std::ffi::c_void;

#[global_allocator]
static GLOBAL: common::Counting = common::Counting;

unsafe extern "C" fn inc(arg: *mut c_void) -> *mut c_void {
    (arg as usize + 1) as *mut c_void
}

unsafe extern "C" fn sleep_2ms(_: *mut c_void) -> *mut c_void {
    std::thread::sleep(std::time::Duration::from_millis(2));
    std::ptr::null_mut()
}

/// The first time a thread parks, parking_lot_core registers its thread data
/// (one allocation per thread, not per call): make both threads park once.
fn warm_up_parking(rt: *mut qthr_runtime) {
    // SAFETY: live runtime, valid job. The caller parks while the job sleeps;
    // the worker parks while idle during our sleep.
    assert_eq!(
        unsafe {
            qthr_call(
                rt,
                Some(sleep_2ms),
                std::ptr::null_mut(),
                std::ptr::null_mut(),
            )
        },
        qthr_status::QTHR_OK
    );
    std::thread::sleep(std::time::Duration::from_millis(5));
}

#[test]
fn calls_and_pooled_futures_do_not_allocate() {
    let mut rt: *mut qthr_runtime = std::ptr::null_mut();
    // SAFETY: valid out-pointer; defaults.
    assert_eq!(
        unsafe { qthr_init(std::ptr::null(), &mut rt) },
        qthr_status::QTHR_OK
    );
    let mut r: *mut c_void = std::ptr::null_mut();
    let run = |n: usize, r: &mut *mut c_void| {
        for i in 0..n {
            // SAFETY: live runtime, valid job.
            assert_eq!(
                unsafe { qthr_call(rt, Some(inc), i as *mut c_void, r) },
                qthr_status::QTHR_OK
            );
            assert_eq!(*r as usize, i + 1);
        }
    };
    run(1000, &mut r); // warm up the thread's slot cache
    warm_up_parking(rt);
    let before = common::allocations();
    run(100_000, &mut r);
    let per_call = common::allocations() - before;
    assert_eq!(
        per_call, 0,
        "qthr_call allocated {per_call} times in 100k calls"
    );

    let submit_wait = |n: usize| {
        for i in 0..n {
            let mut f: *mut qthr_future = std::ptr::null_mut();
            let mut r: *mut c_void = std::ptr::null_mut();
            // SAFETY: live runtime, valid job and out-pointers.
            unsafe {
                assert_eq!(
                    qthr_submit(rt, Some(inc), i as *mut c_void, &mut f),
                    qthr_status::QTHR_OK
                );
                assert_eq!(qthr_wait(f, -1, &mut r), qthr_status::QTHR_OK);
                qthr_future_free(f);
            }
            assert_eq!(r as usize, i + 1);
        }
    };
    submit_wait(1000);
    warm_up_parking(rt);
    let before = common::allocations();
    submit_wait(100_000);
    let n = common::allocations() - before;
    assert!(
        n <= 100,
        "submit+wait allocated {n} times in 100k round trips"
    );
    // SAFETY: live runtime, freed once.
    unsafe { qthr_free(rt) };
}
