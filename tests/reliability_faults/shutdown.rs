//! Shutdown from and under jobs: QTHR_CANCEL while a job is blocked, a worker
//! shutting down another runtime whose running job calls back into it, cross-runtime
//! shutdown under load, workers shutting each other's runtimes down.

use crate::common::*;
use crate::support::{submit_gated, Gate};

use std::ffi::c_void;
use std::ptr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::Mutex;
use std::thread;
use std::time::Duration;

/// shutdown(CANCEL) while a job is blocked: the running job finishes (shutdown
/// waits for it), queued ones are cancelled, continuations run once each.
unsafe extern "C" fn count_cb(ctx: *mut c_void, st: qthr_status, _r: *mut c_void) {
    // SAFETY (test): ctx is a live [AtomicUsize; 2].
    let c = unsafe { &*(ctx as *const [AtomicUsize; 2]) };
    c[(st == QTHR_CANCELLED) as usize].fetch_add(1, SeqCst);
}

#[test]
fn cancel_shutdown_waits_for_the_running_job() {
    let _d = watchdog("cancel_shutdown_waits_for_the_running_job", 60);
    let rt = Sp(init(Some(&config(128, false))).unwrap());
    let g = Gate::new();
    let counts = [AtomicUsize::new(0), AtomicUsize::new(0)];
    let mut futs = Vec::new();
    // SAFETY: live runtime; gate and counts outlive the jobs.
    unsafe {
        let fg = submit_gated(rt.0, &g);
        qthr_future_then(fg, Some(count_cb), &counts as *const _ as *mut c_void);
        g.wait_started();
        for _ in 0..100 {
            let mut f = ptr::null_mut();
            assert_eq!(
                qthr_submit(rt.0, Some(ident), ptr::null_mut(), &mut f),
                QTHR_OK
            );
            assert_eq!(
                qthr_future_then(f, Some(count_cb), &counts as *const _ as *mut c_void),
                QTHR_OK
            );
            futs.push(f);
        }
        let returned = &AtomicBool::new(false);
        thread::scope(|s| {
            let h = s.spawn(move || {
                let rt = rt;
                let st = qthr_shutdown(rt.0, QTHR_CANCEL);
                returned.store(true, SeqCst);
                st
            });
            thread::sleep(Duration::from_millis(100));
            assert!(
                !returned.load(SeqCst),
                "shutdown returned while a job was still running"
            );
            // New submits are refused while the running job holds the worker.
            assert_eq!(
                qthr_submit(rt.0, Some(ident), ptr::null_mut(), ptr::null_mut()),
                QTHR_SHUTDOWN
            );
            g.open();
            assert_eq!(h.join().unwrap(), QTHR_OK);
        });
        assert_eq!(qthr_wait(fg, 0, ptr::null_mut()), QTHR_OK);
        for f in futs {
            assert_eq!(qthr_wait(f, 0, ptr::null_mut()), QTHR_CANCELLED);
            qthr_future_free(f);
        }
        qthr_future_free(fg);
        qthr_free(rt.0);
    }
    assert_eq!(counts[0].load(SeqCst), 1);
    assert_eq!(counts[1].load(SeqCst), 100);
}

// ---------------------------------------------------------------------------
// A worker shutting down another runtime whose running job calls back into it.

struct Cross {
    a: Sp<qthr_runtime>,
    b: Sp<qthr_runtime>,
    b_started: AtomicBool,
    log: Mutex<Vec<(&'static str, qthr_status)>>,
}

unsafe extern "C" fn b_calls_a(arg: *mut c_void) -> *mut c_void {
    // SAFETY (test): arg is a live Cross.
    let x = unsafe { &*(arg as *const Cross) };
    x.b_started.store(true, SeqCst);
    thread::sleep(Duration::from_millis(20)); // A's job is in qthr_shutdown(B) by now
                                              // SAFETY: A is alive.
    let st = unsafe { qthr_call(x.a.0, Some(ident), ptr::null_mut(), ptr::null_mut()) };
    x.log.lock().unwrap().push(("B's job calls A", st));
    arg
}

unsafe extern "C" fn a_shuts_b_down(arg: *mut c_void) -> *mut c_void {
    // SAFETY (test): arg is a live Cross.
    let x = unsafe { &*(arg as *const Cross) };
    while !x.b_started.load(SeqCst) {
        thread::sleep(Duration::from_micros(100));
    }
    // SAFETY: B is alive.
    let st = unsafe { qthr_shutdown(x.b.0, QTHR_DRAIN) };
    x.log.lock().unwrap().push(("A's job shuts B down", st));
    arg
}

/// qthr_shutdown(B) from A's worker, while B's running job calls into A: B's
/// job can only finish if A's worker serves its queue while it waits for B's
/// worker to stop. Documented: shutdown is "safe from any thread but the
/// worker" (B's own worker); re-entrancy "never deadlocks".
#[test]
fn a_worker_shutting_down_a_runtime_that_calls_back() {
    let _d = watchdog("a_worker_shutting_down_a_runtime_that_calls_back", 10);
    let x = Cross {
        a: Sp(init(None).unwrap()),
        b: Sp(init(None).unwrap()),
        b_started: AtomicBool::new(false),
        log: Mutex::new(Vec::new()),
    };
    let arg = &x as *const Cross as *mut c_void;
    let (mut fb, mut fa) = (ptr::null_mut(), ptr::null_mut());
    // SAFETY: live runtimes; x outlives the jobs (waited below).
    unsafe {
        assert_eq!(qthr_submit(x.b.0, Some(b_calls_a), arg, &mut fb), QTHR_OK);
        assert_eq!(
            qthr_submit(x.a.0, Some(a_shuts_b_down), arg, &mut fa),
            QTHR_OK
        );
        assert_eq!(qthr_wait(fa, -1, ptr::null_mut()), QTHR_OK);
        assert_eq!(qthr_wait(fb, -1, ptr::null_mut()), QTHR_OK);
        qthr_future_free(fa);
        qthr_future_free(fb);
        qthr_free(x.b.0);
        qthr_free(x.a.0);
    }
    let log = x.log.lock().unwrap().clone();
    assert_eq!(
        log,
        vec![
            ("B's job calls A", QTHR_OK),
            ("A's job shuts B down", QTHR_OK)
        ]
    );
}

// ---------------------------------------------------------------------------
// Cross-runtime shutdown under load.

struct XLoad {
    a: Sp<qthr_runtime>,
    b: Sp<qthr_runtime>,
    mode: u32,
    b_calls_ok: AtomicUsize,
    b_calls_refused: AtomicUsize,
    shut_status: Mutex<Option<qthr_status>>,
}

/// On B: calls into A (A stays alive during the whole round).
unsafe extern "C" fn b_job_calls_a(arg: *mut c_void) -> *mut c_void {
    // SAFETY (test): arg is a live XLoad.
    let x = unsafe { &*(arg as *const XLoad) };
    let mut r = ptr::null_mut();
    // SAFETY: A is alive until the round ends.
    let st = unsafe { qthr_call(x.a.0, Some(ident), 3 as *mut c_void, &mut r) };
    match st {
        QTHR_OK => {
            assert_eq!(r as usize, 3);
            x.b_calls_ok.fetch_add(1, SeqCst);
        }
        // A's queue is full (A's worker waits for B, so it never waits for
        // room in its own queue... but B's worker is not A's): not expected.
        other => panic!("B's job calling A: {other:?}"),
    }
    arg
}

/// On A: shuts B down (DRAIN or CANCEL) while B's queue is full of jobs that
/// call A.
unsafe extern "C" fn a_job_shuts_b(arg: *mut c_void) -> *mut c_void {
    // SAFETY (test): arg is a live XLoad.
    let x = unsafe { &*(arg as *const XLoad) };
    // SAFETY: B is alive (freed by the main thread after the round).
    let st = unsafe { qthr_shutdown(x.b.0, x.mode) };
    *x.shut_status.lock().unwrap() = Some(st);
    arg
}

/// A's job shuts B down while B's queue holds jobs that call A, and other
/// threads keep submitting to B (they must get QTHR_SHUTDOWN) and calling A:
/// no hang, every B future resolves, every B job that ran got its call into A
/// answered.
#[test]
fn cross_runtime_shutdown_under_load() {
    let _d = watchdog("cross_runtime_shutdown_under_load", 120);
    for round in 0..scaled(40).max(4) {
        let mode = (round % 2) as u32;
        let x = XLoad {
            a: Sp(init(Some(&config(16, false))).unwrap()),
            b: Sp(init(Some(&config(64, round % 4 >= 2))).unwrap()),
            mode,
            b_calls_ok: AtomicUsize::new(0),
            b_calls_refused: AtomicUsize::new(0),
            shut_status: Mutex::new(None),
        };
        let arg = &x as *const XLoad as *mut c_void;
        let stop = AtomicBool::new(false);
        let futs = Mutex::new(Vec::new());
        thread::scope(|s| {
            for t in 0..3 {
                let (x, stop, futs) = (&x, &stop, &futs);
                s.spawn(move || {
                    let arg = x as *const XLoad as *mut c_void;
                    let mut n = 0;
                    while !stop.load(SeqCst) {
                        let mut f = ptr::null_mut();
                        // SAFETY: B alive until the scope ends.
                        match unsafe { qthr_submit(x.b.0, Some(b_job_calls_a), arg, &mut f) } {
                            QTHR_OK => futs.lock().unwrap().push(Sp(f)),
                            QTHR_QUEUE_FULL => thread::yield_now(),
                            QTHR_SHUTDOWN => {
                                x.b_calls_refused.fetch_add(1, SeqCst);
                                break;
                            }
                            other => panic!("submit to B: {other:?}"),
                        }
                        // Some load on A too.
                        if t == 0 && n % 4 == 0 {
                            // SAFETY: A alive.
                            let st = unsafe {
                                qthr_call(x.a.0, Some(ident), ptr::null_mut(), ptr::null_mut())
                            };
                            assert_eq!(st, QTHR_OK);
                        }
                        n += 1;
                    }
                });
            }
            thread::sleep(Duration::from_millis(2 + round as u64 % 7));
            let mut fa = ptr::null_mut();
            // SAFETY: A alive; x outlives the job.
            unsafe {
                assert_eq!(
                    qthr_submit(x.a.0, Some(a_job_shuts_b), arg, &mut fa),
                    QTHR_OK
                );
                assert_eq!(qthr_wait(fa, -1, ptr::null_mut()), QTHR_OK);
                qthr_future_free(fa);
            }
            assert_eq!(
                *x.shut_status.lock().unwrap(),
                Some(QTHR_OK),
                "shutdown(B) from A's worker"
            );
            stop.store(true, SeqCst);
        });
        let futs = futs.into_inner().unwrap();
        let (mut ok, mut cancelled) = (0, 0);
        for f in &futs {
            // SAFETY: live futures; B is shut down: every one is resolved.
            match unsafe { qthr_wait(f.0, 0, ptr::null_mut()) } {
                QTHR_OK => ok += 1,
                QTHR_CANCELLED => cancelled += 1,
                other => panic!("a B future after shutdown: {other:?}"),
            }
            // SAFETY: freed once.
            unsafe { qthr_future_free(f.0) };
        }
        assert_eq!(
            ok,
            x.b_calls_ok.load(SeqCst),
            "every B job that ran got A's answer"
        );
        if mode == QTHR_DRAIN {
            assert_eq!(cancelled, 0);
        }
        // SAFETY: both alive, freed once.
        unsafe {
            qthr_free(x.b.0);
            qthr_free(x.a.0);
        }
    }
}

// ---------------------------------------------------------------------------
// Workers shutting each other's runtimes down (item 10).

struct Ring {
    rts: Vec<Sp<qthr_runtime>>,
    arrived: AtomicUsize,
    statuses: Mutex<Vec<qthr_status>>,
}

struct RingArg {
    ring: *const Ring,
    next: usize,
}

/// On runtime i: once every job of the ring runs, shuts down runtime i+1.
unsafe extern "C" fn shuts_next_down(arg: *mut c_void) -> *mut c_void {
    // SAFETY (test): arg is a live RingArg whose ring outlives the jobs.
    let a = unsafe { &*(arg as *const RingArg) };
    // SAFETY: as above.
    let ring = unsafe { &*a.ring };
    ring.arrived.fetch_add(1, SeqCst);
    while ring.arrived.load(SeqCst) < ring.rts.len() {
        thread::sleep(Duration::from_micros(100));
    }
    // SAFETY: every runtime of the ring is alive until the main thread frees it.
    let st = unsafe { qthr_shutdown(ring.rts[a.next].0, QTHR_DRAIN) };
    ring.statuses.lock().unwrap().push(st);
    ptr::null_mut()
}

/// Jobs on 2 (then 3) runtimes shut the next runtime of the ring down at the
/// same moment: each would wait for a worker that waits for it. Exactly one
/// call sees the cycle and returns QTHR_WOULD_DEADLOCK without waiting (the
/// queue it was asked to close is closed all the same); the others return
/// QTHR_OK; every worker stops; nothing hangs.
#[test]
fn workers_shutting_each_other_down() {
    let _d = watchdog("workers_shutting_each_other_down", 20);
    for n in [2, 3] {
        let ring = Ring {
            rts: (0..n).map(|_| Sp(init(None).unwrap())).collect(),
            arrived: AtomicUsize::new(0),
            statuses: Mutex::new(Vec::new()),
        };
        let args: Vec<RingArg> = (0..n)
            .map(|i| RingArg {
                ring: &ring,
                next: (i + 1) % n,
            })
            .collect();
        let mut futs = vec![ptr::null_mut(); n];
        for i in 0..n {
            let arg = &args[i] as *const RingArg as *mut c_void;
            // SAFETY: live runtime; args and ring outlive the jobs (waited).
            let st =
                unsafe { qthr_submit(ring.rts[i].0, Some(shuts_next_down), arg, &mut futs[i]) };
            assert_eq!(st, QTHR_OK);
        }
        for (i, f) in futs.into_iter().enumerate() {
            // SAFETY: a live future, waited then freed once.
            unsafe {
                assert_eq!(qthr_wait(f, -1, ptr::null_mut()), QTHR_OK);
                qthr_future_free(f);
            }
            // The ring's runtimes are all closed now.
            // SAFETY: live runtime.
            let st = unsafe {
                qthr_submit(ring.rts[i].0, Some(ident), ptr::null_mut(), ptr::null_mut())
            };
            assert_eq!(st, QTHR_SHUTDOWN);
        }
        let mut st = ring.statuses.lock().unwrap().clone();
        st.sort_by_key(|s| *s as u32);
        let mut want = vec![QTHR_OK; n - 1];
        want.push(QTHR_WOULD_DEADLOCK);
        assert_eq!(st, want, "ring of {n}");
        for rt in &ring.rts {
            // SAFETY: each freed once; their workers stop (nothing is queued).
            unsafe { qthr_free(rt.0) };
        }
    }
}
