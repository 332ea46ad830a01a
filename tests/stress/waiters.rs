//! Many threads waiting on the same futures at once.

use crate::common::*;
use crate::support::*;

use std::ffi::c_void;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering::SeqCst};
use std::sync::Mutex;
use std::thread;

unsafe extern "C" fn count_then(ctx: *mut c_void, _st: qthr_status, _r: *mut c_void) {
    // SAFETY: ctx is a live AtomicU8.
    unsafe { &*(ctx as *const AtomicU8) }.fetch_add(1, SeqCst);
}

/// 8 threads wait on the same 512 futures (random timeouts, random order) while
/// one cancels some and another attaches continuations: every waiter sees the
/// same final status and result for a future, every continuation runs once.
#[test]
fn many_waiters_on_the_same_futures() {
    const N: usize = 512;
    const WAITERS: usize = 8;
    let _dog = watchdog("many_waiters_on_the_same_futures", 120);
    let rounds = scaled(20).max(2);
    for round in 0..rounds {
        let mut ctx = Ctx::new(1);
        ctx.slow_every = 13;
        ctx.slow_us = 20;
        let ctx = Box::new(ctx);
        let rt = make_runtime(&ctx, 0, 64, false);
        let recs: Vec<Rec> = (0..N).map(|s| Rec::new(&*ctx, 0, s as u32, 0)).collect();
        let thens: Vec<AtomicU8> = (0..N).map(|_| AtomicU8::new(0)).collect();
        let mut futs = Vec::new();
        for chunk in recs.chunks(32) {
            // SAFETY: live runtime; records outlive the jobs.
            assert_eq!(unsafe { submit_batch(rt, chunk, Some(&mut futs)) }, QTHR_OK);
        }
        let futs: Vec<Sp<qthr_future>> = futs.into_iter().map(Sp).collect();
        let seen: Vec<Mutex<Option<(qthr_status, usize)>>> =
            (0..N).map(|_| Mutex::new(None)).collect();
        let cancelled = AtomicUsize::new(0);
        // The canceller's own marks: a waiter that sees CANCELLED marks the
        // record too, possibly before the canceller does.
        let counted: Vec<AtomicU8> = (0..N).map(|_| AtomicU8::new(0)).collect();
        thread::scope(|s| {
            for w in 0..WAITERS {
                let (futs, seen, recs, ctx) = (&futs, &seen, &recs, &*ctx);
                s.spawn(move || {
                    let mut rng = Rng::new((round * 100 + w) as u64);
                    let mut left: Vec<usize> = (0..N).collect();
                    while !left.is_empty() {
                        let k = rng.below(left.len() as u64) as usize;
                        let i = left[k];
                        let t = [0i64, 1_000, 50_000, -1][rng.below(4) as usize];
                        // SAFETY: futures are freed after the scope.
                        let (st, r) = unsafe { wait(futs[i].0, t) };
                        if st == QTHR_TIMEOUT {
                            continue;
                        }
                        check_wait(ctx, &recs[i], st, r);
                        let mut g = seen[i].lock().unwrap();
                        match *g {
                            None => *g = Some((st, r as usize)),
                            Some(prev) => {
                                assert_eq!(prev, (st, r as usize), "waiters disagree on future {i}")
                            }
                        }
                        left.swap_remove(k);
                    }
                });
            }
            let (futs, recs, cancelled, counted) = (&futs, &recs, &cancelled, &counted);
            s.spawn(move || {
                let mut rng = Rng::new(round as u64 + 999);
                for _ in 0..N / 4 {
                    let i = rng.below(N as u64) as usize;
                    // SAFETY: live future.
                    match unsafe { qthr_cancel(futs[i].0) } {
                        QTHR_OK => {
                            // OK again for an already cancelled one: count once.
                            recs[i].cancelled.store(1, SeqCst);
                            if counted[i].swap(1, SeqCst) == 0 {
                                cancelled.fetch_add(1, SeqCst);
                            }
                        }
                        QTHR_NOT_CANCELLABLE => {}
                        other => panic!("cancel: {other:?}"),
                    }
                }
            });
            let thens = &thens;
            s.spawn(move || {
                for i in (0..N).step_by(3) {
                    let c = &thens[i] as *const AtomicU8 as *mut c_void;
                    // SAFETY: live future; the counter outlives the runtime.
                    assert_eq!(
                        unsafe { qthr_future_then(futs[i].0, Some(count_then), c) },
                        QTHR_OK
                    );
                }
            });
        });
        // SAFETY: live runtime and futures, freed once.
        unsafe {
            assert_eq!(qthr_shutdown(rt.0, QTHR_DRAIN), QTHR_OK);
            for f in &futs {
                qthr_future_free(f.0);
            }
            qthr_free(rt.0);
        }
        ctx.check();
        for (i, t) in thens.iter().enumerate() {
            assert_eq!(
                t.load(SeqCst),
                (i % 3 == 0) as u8,
                "continuation of future {i}"
            );
        }
        let c = seen
            .iter()
            .filter(|s| s.lock().unwrap().unwrap().0 == QTHR_CANCELLED)
            .count();
        assert_eq!(c, cancelled.load(SeqCst), "cancels seen by waiters");
    }
}
