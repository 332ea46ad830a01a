//! Runtimes whose jobs call each other: deeply, through qthr_call and submit + wait,
//! from many threads; workers submitting to each other's full queues; workers
//! calling another loaded runtime, or waiting for room in it, without running their
//! own queue nested without bound; callbacks between two loaded runtimes.

use crate::common::*;

use std::ffi::c_void;
use std::ptr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::thread;
use std::time::Duration;

/// Two runtimes whose jobs call each other, `depth` levels deep, through
/// qthr_call and through submit + wait, from several threads at once.
struct PingPong {
    rts: [Sp<qthr_runtime>; 2],
}

/// arg encodes (pp pointer | side bit | depth << 1) in a small heap record.
struct Hop {
    pp: *const PingPong,
    side: usize,
    depth: usize,
    via_future: bool,
}

unsafe extern "C" fn hop(arg: *mut c_void) -> *mut c_void {
    // SAFETY (test): arg is a live Hop.
    let h = unsafe { &*(arg as *const Hop) };
    // SAFETY: as above.
    let pp = unsafe { &*h.pp };
    // SAFETY: the runtime is alive while its jobs run.
    assert_eq!(
        unsafe { qthr_on_worker(pp.rts[h.side].0) },
        1,
        "hop on the wrong worker"
    );
    if h.depth == 0 {
        return 1 as *mut c_void;
    }
    let next = Hop {
        pp: h.pp,
        side: 1 - h.side,
        depth: h.depth - 1,
        via_future: !h.via_future,
    };
    let target = pp.rts[next.side].0;
    let arg = &next as *const Hop as *mut c_void;
    let mut r = ptr::null_mut();
    // SAFETY: live runtimes; `next` outlives the nested job (we wait for it).
    let st = unsafe {
        if h.via_future {
            let mut f = ptr::null_mut();
            let st = qthr_submit(target, Some(hop), arg, &mut f);
            assert_eq!(st, QTHR_OK);
            let st = qthr_wait(f, -1, &mut r);
            qthr_future_free(f);
            st
        } else {
            qthr_call(target, Some(hop), arg, &mut r)
        }
    };
    assert_eq!(st, QTHR_OK);
    (r as usize + 1) as *mut c_void
}

#[test]
fn runtimes_calling_each_other_deeply_from_many_threads() {
    let _d = watchdog("runtimes_calling_each_other_deeply_from_many_threads", 120);
    let pp = PingPong {
        rts: [
            Sp(init(Some(&config(64, false))).unwrap()),
            Sp(init(Some(&config(64, false))).unwrap()),
        ],
    };
    let iters = scaled(300);
    thread::scope(|s| {
        for t in 0..6 {
            let pp = &pp;
            s.spawn(move || {
                for i in 0..iters {
                    let depth = 1 + (i + t) % 6;
                    let h = Hop {
                        pp,
                        side: t % 2,
                        depth,
                        via_future: i % 2 == 0,
                    };
                    let mut r = ptr::null_mut();
                    // SAFETY: live runtime; h outlives the call.
                    let st = unsafe {
                        qthr_call(
                            pp.rts[t % 2].0,
                            Some(hop),
                            &h as *const Hop as *mut c_void,
                            &mut r,
                        )
                    };
                    assert_eq!(st, QTHR_OK);
                    assert_eq!(r as usize, depth + 1);
                }
            });
        }
    });
    // SAFETY: live runtimes, freed once.
    unsafe {
        qthr_free(pp.rts[0].0);
        qthr_free(pp.rts[1].0);
    }
}

/// A job on A submits (blocking, fire-and-forget) to B while B's job submits to
/// A, both queues tiny and full. Neither worker waits for room in its *own*
/// queue, but each waits for room in the other's: a deadlock unless a worker
/// waiting for room elsewhere keeps running its own queue.
struct Mutual {
    rts: [Sp<qthr_runtime>; 2],
    ran: AtomicUsize,
}
struct Side {
    m: *const Mutual,
    side: usize,
    fanout: usize,
    /// What the jobs this one submits to the other runtime get (fanout 0).
    forward: *const Side,
}

unsafe extern "C" fn mutual_job(arg: *mut c_void) -> *mut c_void {
    // SAFETY (test): arg is a live Side.
    let sd = unsafe { &*(arg as *const Side) };
    // SAFETY: as above.
    let m = unsafe { &*sd.m };
    m.ran.fetch_add(1, SeqCst);
    for _ in 0..sd.fanout {
        // SAFETY: live runtime; the forwarded Side outlives the runtimes.
        let st = unsafe {
            qthr_submit(
                m.rts[1 - sd.side].0,
                Some(mutual_job),
                sd.forward as *mut c_void,
                ptr::null_mut(),
            )
        };
        assert_eq!(st, QTHR_OK, "submit to the other runtime");
    }
    ptr::null_mut()
}

#[test]
fn workers_submitting_to_each_others_full_queues() {
    let _d = watchdog("workers_submitting_to_each_others_full_queues", 30);
    let m = Mutual {
        rts: [
            Sp(init(Some(&config(1, false))).unwrap()),
            Sp(init(Some(&config(1, false))).unwrap()),
        ],
        ran: AtomicUsize::new(0),
    };
    let leaves = [
        Side {
            m: &m,
            side: 0,
            fanout: 0,
            forward: ptr::null(),
        },
        Side {
            m: &m,
            side: 1,
            fanout: 0,
            forward: ptr::null(),
        },
    ];
    // A's starter sends 3 jobs to B, B's starter 3 to A: both queues hold one.
    let starters = [
        Side {
            m: &m,
            side: 0,
            fanout: 3,
            forward: &leaves[1],
        },
        Side {
            m: &m,
            side: 1,
            fanout: 3,
            forward: &leaves[0],
        },
    ];
    let mut fs = [ptr::null_mut(); 2];
    // SAFETY: live runtimes; the sides outlive the jobs (drained by qthr_free).
    unsafe {
        for k in 0..2 {
            assert_eq!(
                qthr_submit(
                    m.rts[k].0,
                    Some(mutual_job),
                    &starters[k] as *const Side as *mut c_void,
                    &mut fs[k]
                ),
                QTHR_OK
            );
        }
        for f in fs {
            assert_eq!(qthr_wait(f, -1, ptr::null_mut()), QTHR_OK);
            qthr_future_free(f);
        }
        qthr_free(m.rts[0].0);
        qthr_free(m.rts[1].0);
    }
    assert_eq!(m.ran.load(SeqCst), 2 + 6);
}

/// `qthr_call(rt, ident)`, from a job; `rt` must be alive.
fn call_ident(rt: *mut c_void) -> qthr_status {
    // SAFETY (test): the callers pass a live runtime.
    unsafe {
        qthr_call(
            rt as *mut qthr_runtime,
            Some(ident),
            ptr::null_mut(),
            ptr::null_mut(),
        )
    }
}

/// On B: a call into A (arg).
unsafe extern "C" fn calls_a(arg: *mut c_void) -> *mut c_void {
    assert_eq!(call_ident(arg), QTHR_OK);
    ptr::null_mut()
}

/// Three threads keep submitting to B jobs that call A. B's worker must not run
/// its queue nested inside those waits without bound (a stack overflow kills
/// the process).
#[test]
fn a_worker_calling_another_runtime_under_load_keeps_its_stack() {
    let _d = watchdog(
        "a_worker_calling_another_runtime_under_load_keeps_its_stack",
        60,
    );
    let a = Sp(init(None).unwrap());
    let b = Sp(init(None).unwrap());
    let stop = AtomicBool::new(false);
    let submitted = AtomicUsize::new(0);
    thread::scope(|s| {
        for _ in 0..3 {
            let (stop, submitted) = (&stop, &submitted);
            s.spawn(move || {
                let (a, b) = (a, b);
                while !stop.load(SeqCst) {
                    // SAFETY: both runtimes outlive the scope.
                    let st = unsafe {
                        qthr_submit(b.0, Some(calls_a), a.0 as *mut c_void, ptr::null_mut())
                    };
                    assert_eq!(st, QTHR_OK);
                    submitted.fetch_add(1, SeqCst);
                }
            });
        }
        thread::sleep(Duration::from_millis(scaled(2000) as u64));
        stop.store(true, SeqCst);
    });
    // SAFETY: freed once; B drains (its jobs call A, still alive).
    unsafe {
        qthr_free(b.0);
        qthr_free(a.0);
    }
    assert!(submitted.load(SeqCst) > 0);
}

/// On A: a blocking fire-and-forget submit to B (capacity 1, slow jobs).
unsafe extern "C" fn submits_to_b(arg: *mut c_void) -> *mut c_void {
    unsafe extern "C" fn slow(_: *mut c_void) -> *mut c_void {
        thread::sleep(Duration::from_micros(50));
        ptr::null_mut()
    }
    // SAFETY (test): arg is the live runtime B.
    let st = unsafe {
        qthr_submit(
            arg as *mut qthr_runtime,
            Some(slow),
            ptr::null_mut(),
            ptr::null_mut(),
        )
    };
    assert_eq!(st, QTHR_OK);
    ptr::null_mut()
}

/// Three threads keep submitting to A jobs that submit to a full B: A's worker,
/// waiting for room in B, must not run its own queue nested without bound.
#[test]
fn a_worker_waiting_for_room_under_load_keeps_its_stack() {
    let _d = watchdog("a_worker_waiting_for_room_under_load_keeps_its_stack", 60);
    let a = Sp(init(None).unwrap());
    let b = Sp(init(Some(&config(1, false))).unwrap());
    let stop = AtomicBool::new(false);
    thread::scope(|s| {
        for _ in 0..3 {
            let stop = &stop;
            s.spawn(move || {
                let (a, b) = (a, b);
                while !stop.load(SeqCst) {
                    // SAFETY: both runtimes outlive the scope.
                    let st = unsafe {
                        qthr_submit(a.0, Some(submits_to_b), b.0 as *mut c_void, ptr::null_mut())
                    };
                    assert_eq!(st, QTHR_OK);
                }
            });
        }
        thread::sleep(Duration::from_millis(scaled(2000) as u64));
        stop.store(true, SeqCst);
    });
    // SAFETY: freed once; A drains first (its jobs submit to B, still alive).
    unsafe {
        qthr_free(a.0);
        qthr_free(b.0);
    }
}

/// On A: calls back into B (arg). B refuses it once it is shutting down (its
/// queued jobs still run and call A, whose callback is then a late submit).
unsafe extern "C" fn calls_back(arg: *mut c_void) -> *mut c_void {
    let st = call_ident(arg);
    assert!(st == QTHR_OK || st == QTHR_SHUTDOWN, "{st:?}");
    ptr::null_mut()
}

/// On B: calls A with a job that calls back into B.
unsafe extern "C" fn calls_a_which_calls_back(arg: *mut c_void) -> *mut c_void {
    // SAFETY (test): arg is a live Pair.
    let pair = unsafe { &*(arg as *const Pair) };
    // SAFETY: both alive.
    let st = unsafe {
        qthr_call(
            pair.rts[0].0,
            Some(calls_back),
            pair.rts[1].0 as *mut c_void,
            ptr::null_mut(),
        )
    };
    assert_eq!(st, QTHR_OK);
    pair.done.fetch_add(1, SeqCst);
    ptr::null_mut()
}

struct Pair {
    rts: [Sp<qthr_runtime>; 2],
    done: AtomicUsize,
}

/// Threads keep submitting (fire-and-forget) to B jobs that call A, whose jobs
/// call back into B. Each wait needs the other worker to serve a callback
/// queued behind ordinary jobs: with a nesting bound both workers end up at the
/// bound, each waiting for the other (seen: both at depth 64, nothing completes).
#[test]
fn callbacks_between_two_loaded_runtimes() {
    let _d = watchdog("callbacks_between_two_loaded_runtimes", 30);
    let pair = Pair {
        rts: [Sp(init(None).unwrap()), Sp(init(None).unwrap())],
        done: AtomicUsize::new(0),
    };
    let stop = AtomicBool::new(false);
    thread::scope(|s| {
        for _ in 0..3 {
            let (stop, pair) = (&stop, &pair);
            s.spawn(move || {
                let arg = pair as *const Pair as *mut c_void;
                while !stop.load(SeqCst) {
                    // SAFETY: both runtimes and the pair outlive the scope.
                    let st = unsafe {
                        qthr_submit(
                            pair.rts[1].0,
                            Some(calls_a_which_calls_back),
                            arg,
                            ptr::null_mut(),
                        )
                    };
                    assert_eq!(st, QTHR_OK);
                }
            });
        }
        thread::sleep(Duration::from_millis(scaled(1000) as u64));
        stop.store(true, SeqCst);
    });
    // SAFETY: freed once; B drains first (its jobs call A).
    unsafe {
        qthr_free(pair.rts[1].0);
        qthr_free(pair.rts[0].0);
    }
    assert!(pair.done.load(SeqCst) > 0);
}
