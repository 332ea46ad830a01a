//! Shutdown under load.

use crate::common::*;
use crate::support::*;

use std::collections::VecDeque;
use std::ptr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::Mutex;
use std::thread;
use std::time::Duration;

/// A future handed from submitters to waiters.
struct Pending {
    f: Sp<qthr_future>,
    rec: *const Rec,
}
// SAFETY: the future and record are used from one thread at a time.
unsafe impl Send for Pending {}

#[allow(clippy::needless_range_loop)] // t is also the submitter's identity
/// One round: `mode` races a second shutdown with the same mode (even rounds)
/// or the other one (odd rounds: a CANCEL upgrades a DRAIN in progress).
fn shutdown_round(mode: qthr_shutdown_mode, round: u64, capacity: usize, nonblocking: bool) {
    let pure_drain = mode == QTHR_DRAIN && round % 2 == 0;
    const SUBMITTERS: usize = 6;
    const WAITERS: usize = 3;
    let per = scaled(40_000).max(100);
    let mut ctx = Ctx::new(SUBMITTERS);
    ctx.slow_every = 97;
    ctx.slow_us = 150;
    let ctx_box = Box::new(ctx);
    let ctx: &Ctx = &ctx_box;
    let ctxp = ctx as *const Ctx;
    let rt = make_runtime(ctx, 0, capacity, nonblocking);
    let recs: Vec<Vec<Rec>> = (0..SUBMITTERS)
        .map(|t| {
            (0..per)
                .map(|s| Rec::new(ctxp, t as u32, s as u32, 0))
                .collect()
        })
        .collect();
    let recs = &recs;
    let ctx: &Ctx = ctx;
    let pending: Mutex<VecDeque<Pending>> = Mutex::new(VecDeque::new());
    let pending = &pending;
    let shut_done = AtomicBool::new(false);
    let shut_done = &shut_done;
    let late_shutdown = AtomicUsize::new(0);
    let late_shutdown = &late_shutdown;

    thread::scope(|s| {
        for t in 0..SUBMITTERS {
            s.spawn(move || {
                let rt = rt;
                let mut rng = Rng::new(round * 1000 + t as u64);
                let mine = &recs[t];
                let mut i = 0;
                // Submit until the runtime refuses (or records run out).
                let refused = loop {
                    if i >= mine.len() {
                        break None;
                    }
                    let rec = &mine[i];
                    // SAFETY: the runtime is freed only after this scope.
                    let st = unsafe {
                        match rng.below(10) {
                            0..=4 => {
                                let mut f = ptr::null_mut();
                                let st = submit(rt, rec, &mut f);
                                if st == QTHR_OK {
                                    if rng.chance(8) {
                                        rec.thens_expected.fetch_add(1, SeqCst);
                                        assert_eq!(
                                            qthr_future_then(f, Some(then_cb), rec.arg()),
                                            QTHR_OK
                                        );
                                    }
                                    pending.lock().unwrap().push_back(Pending { f: Sp(f), rec });
                                }
                                i += 1;
                                st
                            }
                            5 => {
                                let st = submit(rt, rec, ptr::null_mut());
                                i += 1;
                                st
                            }
                            6 | 7 => {
                                let (st, r) = call(rt, rec);
                                if st == QTHR_OK || st == QTHR_CANCELLED {
                                    rec.accepted.store(1, SeqCst);
                                    rec.has_future.store(1, SeqCst);
                                    check_wait(ctx, rec, st, r);
                                }
                                i += 1;
                                st
                            }
                            _ => {
                                let k = (1 + rng.below(capacity.min(16) as u64) as usize)
                                    .min(mine.len() - i);
                                let mut outs = Vec::new();
                                let with = rng.chance(2);
                                let st =
                                    submit_batch(rt, &mine[i..i + k], with.then_some(&mut outs));
                                for (j, f) in outs.into_iter().enumerate() {
                                    pending.lock().unwrap().push_back(Pending {
                                        f: Sp(f),
                                        rec: &mine[i + j],
                                    });
                                }
                                i += k;
                                st
                            }
                        }
                    };
                    match st {
                        QTHR_OK => {}
                        QTHR_CANCELLED => {} // a call discarded by a CANCEL shutdown
                        QTHR_SHUTDOWN => break Some(()),
                        other => {
                            ctx.error(format!("submitter got {other:?}"));
                            break None;
                        }
                    }
                };
                if refused.is_none() {
                    // Out of records: wait for the shutdown to begin.
                    while !shut_done.load(SeqCst) {
                        thread::sleep(Duration::from_millis(1));
                    }
                }
                // Late submitters: refused at once, every kind of submit.
                // SAFETY: runtime alive; a refused submit queues nothing.
                unsafe {
                    let dummy = &mine[mine.len() - 1];
                    let mut f = ptr::null_mut();
                    let st = [
                        qthr_submit(rt.0, Some(job), dummy.arg(), &mut f),
                        qthr_submit(rt.0, Some(job), dummy.arg(), ptr::null_mut()),
                        qthr_call(rt.0, Some(job), dummy.arg(), ptr::null_mut()),
                        qthr_submit_batch(
                            rt.0,
                            1,
                            [Some(job as _)].as_ptr(),
                            [dummy.arg()].as_ptr(),
                            &mut f,
                        ),
                    ];
                    if refused.is_some() || shut_done.load(SeqCst) {
                        for s in st {
                            if s != QTHR_SHUTDOWN {
                                ctx.error(format!("late submit got {s:?}"));
                            }
                        }
                        assert!(f.is_null());
                        late_shutdown.fetch_add(1, SeqCst);
                    }
                }
            });
        }
        for w in 0..WAITERS {
            s.spawn(move || {
                let mut rng = Rng::new(round * 7777 + w as u64);
                loop {
                    let next = pending.lock().unwrap().pop_front();
                    let Some(p) = next else {
                        if shut_done.load(SeqCst) && pending.lock().unwrap().is_empty() {
                            break;
                        }
                        thread::yield_now();
                        continue;
                    };
                    // SAFETY: records outlive the scope.
                    let rec = unsafe { &*p.rec };
                    // SAFETY: each future is owned by exactly one waiter at a time.
                    unsafe {
                        if rng.chance(10) {
                            match qthr_cancel(p.f.0) {
                                QTHR_OK => rec.cancelled.store(1, SeqCst),
                                QTHR_NOT_CANCELLABLE => {}
                                other => ctx.error(format!("cancel got {other:?}")),
                            }
                        }
                        let t = [0i64, 10_000, 300_000, 2_000_000][rng.below(4) as usize];
                        let (st, r) = wait(p.f.0, t);
                        if st == QTHR_TIMEOUT {
                            pending.lock().unwrap().push_back(p);
                            continue;
                        }
                        check_wait(ctx, rec, st, r);
                        qthr_future_free(p.f.0);
                    }
                }
            });
        }
        // Let the load build up, then two threads shut down at once.
        thread::sleep(Duration::from_millis(20 + (round * 13) % 50));
        let stoppers: Vec<_> = [
            mode,
            if round % 2 == 0 {
                mode
            } else {
                QTHR_CANCEL - mode
            },
        ]
        .into_iter()
        .map(|m| {
            s.spawn(move || {
                let rt = rt;
                // SAFETY: live runtime.
                unsafe { qthr_shutdown(rt.0, m) }
            })
        })
        .collect();
        for h in stoppers {
            assert_eq!(h.join().unwrap(), QTHR_OK);
        }
        // The worker is joined: on_stop ran, nothing is pending any more.
        assert_eq!(ctx.stop_calls[0].load(SeqCst), 1);
        for p in pending.lock().unwrap().iter() {
            // SAFETY: live futures (waiters hold the lock to take them).
            let (st, _) = unsafe { wait(p.f.0, 0) };
            if st != QTHR_OK && st != QTHR_CANCELLED {
                ctx.error(format!("after shutdown a future is {st:?}"));
            }
        }
        shut_done.store(true, SeqCst);
    });

    let s = stats(rt.0);
    // SAFETY: shut down; freed once.
    unsafe { qthr_free(rt.0) };
    assert_eq!(
        ctx.stop_calls[0].load(SeqCst),
        1,
        "on_stop runs exactly once"
    );
    ctx.check();
    let (mut ran, mut cancelled_seen, mut accepted) = (0u64, 0u64, 0u64);
    for r in recs.iter().flatten() {
        let (a, x, c) = (
            r.accepted.load(SeqCst),
            r.ran.load(SeqCst),
            r.cancelled.load(SeqCst),
        );
        assert!(
            x <= 1 && x + c <= 1,
            "job {}:{} ran {x} times, cancelled {c}",
            r.thread,
            r.seq
        );
        if a == 0 {
            assert_eq!(x, 0, "a refused job ran");
            continue;
        }
        accepted += 1;
        ran += x as u64;
        cancelled_seen += c as u64;
        if r.has_future.load(SeqCst) == 1 {
            assert_eq!(
                x + c,
                1,
                "job {}:{} with a future: neither ran nor cancelled",
                r.thread,
                r.seq
            );
        } else if pure_drain {
            assert_eq!(x, 1, "fire-and-forget job lost in a pure DRAIN shutdown");
        }
        assert_eq!(
            r.thens_run.load(SeqCst),
            r.thens_expected.load(SeqCst),
            "continuations"
        );
    }
    eprintln!(
        "shutdown round {round} (mode {mode}, capacity {capacity}, nonblocking {nonblocking}): \
         {accepted} accepted, {ran} ran, {} cancelled ({cancelled_seen} seen by waiters)",
        s.cancelled
    );
    assert_eq!(s.completed, ran, "stats.completed");
    assert_eq!(s.submitted, accepted, "stats.submitted");
    assert_eq!(s.submitted, s.completed + s.cancelled);
    assert!(s.cancelled >= cancelled_seen);
    assert_eq!(
        late_shutdown.load(SeqCst),
        SUBMITTERS,
        "every submitter was refused at the end"
    );
    if pure_drain {
        // Pure drain: only explicit cancels.
        assert_eq!(s.cancelled, cancelled_seen);
    }
}

fn shutdown_rounds(mode: qthr_shutdown_mode) {
    let _dog = watchdog("shutdown_under_load", 240);
    let rounds = scaled(8).max(2) as u64;
    for round in 0..rounds {
        let (cap, nb) = [(1, false), (8, false), (256, false), (4, true)][round as usize % 4];
        shutdown_round(mode, round, cap, nb);
    }
}

#[test]
fn shutdown_under_load_drain() {
    shutdown_rounds(QTHR_DRAIN);
}

#[test]
fn shutdown_under_load_cancel() {
    shutdown_rounds(QTHR_CANCEL);
}
