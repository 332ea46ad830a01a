//! A job that blocks for a long time: a thread waiting forever, a blocked
//! qthr_call and pollers with short timeouts all sleep instead of burning a CPU,
//! the timeouts work, and an idle worker sleeps too.

use crate::common::*;
use crate::support::{submit_gated, Gate};

use std::ffi::c_void;
use std::ptr;
use std::thread;
use std::time::{Duration, Instant};

/// The CPU time the worker used: measured on the worker by a job.
unsafe extern "C" fn worker_cpu_ns(_: *mut c_void) -> *mut c_void {
    thread_cpu().as_nanos() as usize as *mut c_void
}

#[test]
fn a_long_job_lets_waiters_sleep_and_timeouts_work() {
    let _d = watchdog("a_long_job_lets_waiters_sleep_and_timeouts_work", 60);
    let rt = Sp(init(None).unwrap());
    let gate = Gate::new();
    let block_ms = 400;
    // SAFETY: live runtime; the gate outlives the job (opened before return).
    let f = unsafe { submit_gated(rt.0, &gate) };
    gate.wait_started();
    let f = Sp(f);
    let t0 = Instant::now();
    thread::scope(|s| {
        // One waiter waits forever, one calls (blocked behind the long job),
        // two poll with short timeouts.
        let forever = s.spawn(move || {
            let f = f;
            let cpu0 = thread_cpu();
            // SAFETY: live future.
            let st = unsafe { qthr_wait(f.0, -1, ptr::null_mut()) };
            (st, thread_cpu() - cpu0)
        });
        let caller = s.spawn(move || {
            let rt = rt;
            let cpu0 = thread_cpu();
            let mut r = ptr::null_mut();
            // SAFETY: live runtime.
            let st = unsafe { qthr_call(rt.0, Some(ident), 77 as *mut c_void, &mut r) };
            assert_eq!(r as usize, 77);
            (st, thread_cpu() - cpu0)
        });
        let pollers: Vec<_> = (0..2)
            .map(|_| {
                s.spawn(move || {
                    let f = f;
                    let cpu0 = thread_cpu();
                    let mut timeouts = 0;
                    loop {
                        // SAFETY: live future.
                        match unsafe { qthr_wait(f.0, 10_000_000, ptr::null_mut()) } {
                            QTHR_TIMEOUT => timeouts += 1,
                            st => return (st, timeouts, thread_cpu() - cpu0),
                        }
                    }
                })
            })
            .collect();
        thread::sleep(Duration::from_millis(block_ms));
        // The worker sleeps inside the job too: nobody should have burnt a CPU.
        gate.open();
        let (st, cpu) = forever.join().unwrap();
        assert_eq!(st, QTHR_OK);
        assert!(
            cpu < Duration::from_millis(block_ms / 4),
            "a waiting thread burnt {cpu:?} of CPU in {block_ms} ms"
        );
        let (st, cpu) = caller.join().unwrap();
        assert_eq!(st, QTHR_OK);
        assert!(
            cpu < Duration::from_millis(block_ms / 4),
            "a blocked qthr_call burnt {cpu:?}"
        );
        for p in pollers {
            let (st, timeouts, cpu) = p.join().unwrap();
            assert_eq!(st, QTHR_OK);
            assert!(
                timeouts >= 5,
                "only {timeouts} timeouts of 10 ms in {block_ms} ms"
            );
            assert!(
                cpu < Duration::from_millis(block_ms / 4),
                "a polling waiter burnt {cpu:?}"
            );
        }
    });
    assert!(t0.elapsed() >= Duration::from_millis(block_ms));
    // The idle worker sleeps too: its own CPU time barely moves while idle.
    // SAFETY: live runtime.
    unsafe {
        let mut a = ptr::null_mut();
        let mut b = ptr::null_mut();
        assert_eq!(
            qthr_call(rt.0, Some(worker_cpu_ns), ptr::null_mut(), &mut a),
            QTHR_OK
        );
        thread::sleep(Duration::from_millis(300));
        assert_eq!(
            qthr_call(rt.0, Some(worker_cpu_ns), ptr::null_mut(), &mut b),
            QTHR_OK
        );
        let idle_cpu = Duration::from_nanos((b as usize - a as usize) as u64);
        assert!(
            idle_cpu < Duration::from_millis(60),
            "an idle worker burnt {idle_cpu:?} in 300 ms"
        );
        qthr_future_free(f.0);
        qthr_free(rt.0);
    }
}
