//! Hooks: on_start failing (QTHR_START_FAILED, on_stop never runs) or slow
//! (qthr_init returns after it, on the worker); on_stop running exactly once, on
//! the worker, on every path (including qthr_free from a job).

use crate::common::*;
use crate::support::{submit_gated, Gate};

use std::ffi::{c_int, c_void};
use std::ptr;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::thread;
use std::time::{Duration, Instant};

struct Hooks {
    starts: AtomicUsize,
    stops: AtomicUsize,
    worker: AtomicUsize,
    stop_thread: AtomicUsize,
    start_rc: c_int,
    start_sleep_ms: u64,
}
impl Hooks {
    fn new(start_rc: c_int, start_sleep_ms: u64) -> Box<Hooks> {
        Box::new(Hooks {
            starts: AtomicUsize::new(0),
            stops: AtomicUsize::new(0),
            worker: AtomicUsize::new(0),
            stop_thread: AtomicUsize::new(0),
            start_rc,
            start_sleep_ms,
        })
    }
}
unsafe extern "C" fn on_start(ctx: *mut c_void) -> c_int {
    // SAFETY (test): ctx is a leaked Hooks.
    let h = unsafe { &*(ctx as *const Hooks) };
    thread::sleep(Duration::from_millis(h.start_sleep_ms));
    // SAFETY: plain call.
    h.worker
        .store(unsafe { libc::pthread_self() } as usize, SeqCst);
    h.starts.fetch_add(1, SeqCst);
    h.start_rc
}
unsafe extern "C" fn on_stop(ctx: *mut c_void) {
    // SAFETY (test): ctx is a leaked Hooks.
    let h = unsafe { &*(ctx as *const Hooks) };
    // SAFETY: plain call.
    h.stop_thread
        .store(unsafe { libc::pthread_self() } as usize, SeqCst);
    h.stops.fetch_add(1, SeqCst);
}
unsafe extern "C" fn whoami(_: *mut c_void) -> *mut c_void {
    // SAFETY: plain call.
    unsafe { libc::pthread_self() as usize as *mut c_void }
}
fn hooked(h: &Hooks, cap: usize) -> qthr_config {
    let mut c = config(cap, false);
    c.on_start = Some(on_start);
    c.on_stop = Some(on_stop);
    c.hook_ctx = h as *const Hooks as *mut c_void;
    c
}

#[test]
fn on_start_failing_and_slow() {
    let _d = watchdog("on_start_failing_and_slow", 60);
    for rc in [1, -1, i32::MIN] {
        let h = Hooks::new(rc, 0);
        assert_eq!(
            init(Some(&hooked(&h, 8))),
            Err(QTHR_START_FAILED),
            "on_start returned {rc}"
        );
        assert_eq!(h.starts.load(SeqCst), 1);
        assert_eq!(
            h.stops.load(SeqCst),
            0,
            "on_stop must not run after a failed start"
        );
    }
    // qthr_init returns only after on_start finished (and on the worker).
    let h = Hooks::new(0, 100);
    let t = Instant::now();
    let rt = init(Some(&hooked(&h, 8))).unwrap();
    assert!(t.elapsed() >= Duration::from_millis(100));
    assert_eq!(h.starts.load(SeqCst), 1);
    let mut w = ptr::null_mut();
    // SAFETY: live runtime.
    unsafe {
        assert_eq!(
            qthr_call(rt, Some(whoami), ptr::null_mut(), &mut w),
            QTHR_OK
        );
        assert_eq!(
            w as usize,
            h.worker.load(SeqCst),
            "on_start ran on the worker"
        );
        qthr_free(rt);
    }
    assert_eq!(h.stops.load(SeqCst), 1);
    assert_eq!(
        h.stop_thread.load(SeqCst),
        h.worker.load(SeqCst),
        "on_stop ran on the worker"
    );
}

unsafe extern "C" fn free_own_runtime(arg: *mut c_void) -> *mut c_void {
    // SAFETY (test): the runtime is alive; nobody uses it after this job.
    unsafe { qthr_free(arg as *mut qthr_runtime) };
    ptr::null_mut()
}

#[test]
fn on_stop_runs_exactly_once_on_every_path() {
    let _d = watchdog("on_stop_runs_exactly_once_on_every_path", 60);
    type Path = fn(*mut qthr_runtime);
    let paths: Vec<(&str, Path)> = vec![
        // SAFETY (all): live runtimes, freed once.
        ("free", |rt| unsafe { qthr_free(rt) }),
        ("drain + free", |rt| unsafe {
            assert_eq!(qthr_shutdown(rt, QTHR_DRAIN), QTHR_OK);
            qthr_free(rt)
        }),
        ("cancel + free", |rt| unsafe {
            assert_eq!(qthr_shutdown(rt, QTHR_CANCEL), QTHR_OK);
            qthr_free(rt)
        }),
        ("drain, drain, cancel + free", |rt| unsafe {
            assert_eq!(qthr_shutdown(rt, QTHR_DRAIN), QTHR_OK);
            assert_eq!(qthr_shutdown(rt, QTHR_DRAIN), QTHR_OK);
            assert_eq!(qthr_shutdown(rt, QTHR_CANCEL), QTHR_OK);
            qthr_free(rt)
        }),
        ("4 threads shut down at once + free", |rt| {
            let rt = Sp(rt);
            thread::scope(|s| {
                for k in 0..4u32 {
                    s.spawn(move || {
                        let rt = rt;
                        // SAFETY: live runtime.
                        assert_eq!(unsafe { qthr_shutdown(rt.0, k % 2) }, QTHR_OK)
                    });
                }
            });
            // SAFETY: live runtime.
            unsafe { qthr_free(rt.0) }
        }),
    ];
    for (name, path) in paths {
        let h = Hooks::new(0, 0);
        let rt = init(Some(&hooked(&h, 64))).unwrap();
        // Some queued work, so the stop happens with jobs around.
        // SAFETY: live runtime.
        unsafe {
            for _ in 0..20 {
                assert_eq!(
                    qthr_submit(rt, Some(ident), ptr::null_mut(), ptr::null_mut()),
                    QTHR_OK
                );
            }
        }
        path(rt);
        assert_eq!(
            h.stops.load(SeqCst),
            1,
            "{name}: on_stop must run exactly once"
        );
        assert_eq!(
            h.stop_thread.load(SeqCst),
            h.worker.load(SeqCst),
            "{name}: on the worker"
        );
    }
    // qthr_free from inside a job: the worker drains, runs on_stop and exits
    // by itself; jobs queued behind still run.
    let h = Hooks::new(0, 0);
    let rt = init(Some(&hooked(&h, 64))).unwrap();
    let mut futs = Vec::new();
    // SAFETY: live runtime until the job frees it; nobody touches it after.
    unsafe {
        let g = Gate::new();
        let fg = submit_gated(rt, &g);
        assert_eq!(
            qthr_submit(
                rt,
                Some(free_own_runtime),
                rt as *mut c_void,
                ptr::null_mut()
            ),
            QTHR_OK
        );
        for i in 0..10usize {
            let mut f = ptr::null_mut();
            assert_eq!(
                qthr_submit(rt, Some(ident), i as *mut c_void, &mut f),
                QTHR_OK
            );
            futs.push(f);
        }
        g.open();
        for (i, f) in futs.into_iter().enumerate() {
            let mut r = ptr::null_mut();
            assert_eq!(
                qthr_wait(f, -1, &mut r),
                QTHR_OK,
                "jobs queued behind qthr_free still run"
            );
            assert_eq!(r as usize, i);
            qthr_future_free(f);
        }
        assert_eq!(qthr_wait(fg, -1, ptr::null_mut()), QTHR_OK);
        qthr_future_free(fg);
    }
    let t = Instant::now();
    while h.stops.load(SeqCst) == 0 {
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "on_stop never ran after qthr_free from a job"
        );
        thread::sleep(Duration::from_millis(1));
    }
    thread::sleep(Duration::from_millis(20));
    assert_eq!(h.stops.load(SeqCst), 1);
}
