//! The mixed-API stress test: 16 threads, every kind of call, every job
//! accounted for.

use crate::common::*;
use crate::support::*;

use std::ptr;
use std::sync::atomic::Ordering::SeqCst;
use std::thread;

/// One stress thread: `n` jobs (its records), random operations.
fn stress_thread(ctx: &Ctx, rt: Sp<qthr_runtime>, recs: &[Rec], seed: u64) -> [u64; 4] {
    let mut rng = Rng::new(seed);
    let mut i = 0;
    let mut futs: Vec<*mut qthr_future> = Vec::new();
    let (mut timeouts, mut cancels_ok, mut cancels_late, mut thens_now) = (0u64, 0u64, 0u64, 0u64);
    while i < recs.len() {
        let rec = &recs[i];
        let op = rng.below(100);
        // SAFETY (whole block): the runtime lives until every thread joined;
        // futures are freed exactly once, after their last use.
        unsafe {
            match op {
                // qthr_call
                0..=14 => {
                    let (st, r) = call(rt, rec);
                    rec.accepted.store(1, SeqCst);
                    rec.has_future.store(1, SeqCst);
                    check_wait(ctx, rec, st, r);
                    i += 1;
                }
                // submit + wait forever
                15..=29 => {
                    let mut f = ptr::null_mut();
                    assert_eq!(submit(rt, rec, &mut f), QTHR_OK);
                    let (st, r) = wait(f, -1);
                    check_wait(ctx, rec, st, r);
                    let (st2, r2) = wait(f, 0);
                    assert_eq!((st2, r2), (st, r), "a second wait differs");
                    qthr_future_free(f);
                    i += 1;
                }
                // submit + polling / timed waits
                30..=37 => {
                    let mut f = ptr::null_mut();
                    assert_eq!(submit(rt, rec, &mut f), QTHR_OK);
                    loop {
                        let t = [0, 1_000, 20_000, 200_000][rng.below(4) as usize];
                        let (st, r) = wait(f, t);
                        if st == QTHR_TIMEOUT {
                            timeouts += 1;
                            continue;
                        }
                        check_wait(ctx, rec, st, r);
                        break;
                    }
                    qthr_future_free(f);
                    i += 1;
                }
                // submit + cancel at once (usually queued, sometimes running/done)
                38..=49 => {
                    let mut f = ptr::null_mut();
                    assert_eq!(submit(rt, rec, &mut f), QTHR_OK);
                    if rng.chance(3) {
                        thread::yield_now();
                    }
                    match qthr_cancel(f) {
                        QTHR_OK => {
                            rec.cancelled.store(1, SeqCst);
                            cancels_ok += 1;
                            assert_eq!(qthr_cancel(f), QTHR_OK, "cancel is idempotent");
                            let (st, r) = wait(f, -1);
                            assert_eq!(st, QTHR_CANCELLED);
                            check_wait(ctx, rec, st, r);
                        }
                        QTHR_NOT_CANCELLABLE => {
                            cancels_late += 1;
                            let (st, r) = wait(f, -1);
                            assert_eq!(st, QTHR_OK);
                            check_wait(ctx, rec, st, r);
                        }
                        other => ctx.error(format!("cancel returned {other:?}")),
                    }
                    qthr_future_free(f);
                    i += 1;
                }
                // fire and forget
                50..=59 => {
                    assert_eq!(submit(rt, rec, ptr::null_mut()), QTHR_OK);
                    i += 1;
                }
                // batch with futures (some cancelled), waited in random order
                60..=71 => {
                    let k = (1 + rng.below(48) as usize).min(recs.len() - i);
                    let batch = &recs[i..i + k];
                    futs.clear();
                    assert_eq!(submit_batch(rt, batch, Some(&mut futs)), QTHR_OK);
                    for (j, &f) in futs.iter().enumerate() {
                        if rng.chance(4) {
                            match qthr_cancel(f) {
                                QTHR_OK => {
                                    batch[j].cancelled.store(1, SeqCst);
                                    cancels_ok += 1;
                                }
                                QTHR_NOT_CANCELLABLE => cancels_late += 1,
                                other => ctx.error(format!("cancel returned {other:?}")),
                            }
                        }
                    }
                    let start = rng.below(k as u64) as usize;
                    for n in 0..k {
                        let j = (start + n) % k;
                        let (st, r) = wait(futs[j], -1);
                        check_wait(ctx, &batch[j], st, r);
                        qthr_future_free(futs[j]);
                    }
                    i += k;
                }
                // batch, fire and forget
                72..=79 => {
                    let k = (1 + rng.below(64) as usize).min(recs.len() - i);
                    assert_eq!(submit_batch(rt, &recs[i..i + k], None), QTHR_OK);
                    i += k;
                }
                // future_then while pending (maybe cancelled), and after resolution
                80..=91 => {
                    let mut f = ptr::null_mut();
                    assert_eq!(submit(rt, rec, &mut f), QTHR_OK);
                    rec.thens_expected.fetch_add(1, SeqCst);
                    assert_eq!(qthr_future_then(f, Some(then_cb), rec.arg()), QTHR_OK);
                    if rng.chance(3) {
                        match qthr_cancel(f) {
                            QTHR_OK => {
                                rec.cancelled.store(1, SeqCst);
                                cancels_ok += 1;
                                // Resolved by this cancel: its continuation ran here.
                                assert_eq!(rec.thens_run.load(SeqCst), 1);
                            }
                            QTHR_NOT_CANCELLABLE => cancels_late += 1,
                            other => ctx.error(format!("cancel returned {other:?}")),
                        }
                    }
                    let (st, r) = wait(f, -1);
                    check_wait(ctx, rec, st, r);
                    if rng.chance(2) {
                        // Already resolved: runs here, now, before returning.
                        let before = rec.thens_run.load(SeqCst);
                        rec.thens_expected.fetch_add(1, SeqCst);
                        assert_eq!(qthr_future_then(f, Some(then_cb), rec.arg()), QTHR_OK);
                        let after = rec.thens_run.load(SeqCst);
                        // The first continuation may still be running on the
                        // worker (it runs after DONE is published): >= 1 more.
                        assert!(
                            after > before,
                            "then on a resolved future did not run at once"
                        );
                        thens_now += 1;
                    }
                    qthr_future_free(f);
                    i += 1;
                }
                // free the future at once, before the job ran: it still runs
                _ => {
                    let mut f = ptr::null_mut();
                    assert_eq!(submit(rt, rec, &mut f), QTHR_OK);
                    rec.has_future.store(0, SeqCst); // nobody will observe it
                    qthr_future_free(f);
                    i += 1;
                }
            }
        }
    }
    [timeouts, cancels_ok, cancels_late, thens_now]
}

#[test]
fn stress_mixed_api_16_threads() {
    const THREADS: usize = 16;
    let total = scaled(1 << 20);
    let per = total.div_ceil(THREADS);
    let _dog = watchdog("stress_mixed_api_16_threads", 300);
    let t0 = std::time::Instant::now();

    // Boxed (stable address), dropped after the runtimes are freed.
    let ctx_box = Box::new(Ctx::new(THREADS));
    let ctx: &Ctx = &ctx_box;
    let ctxp = ctx as *const Ctx;
    // Runtime 0: blocking, small queue (submitters wait for room).
    // Runtime 1: nonblocking, tiny queue (QUEUE_FULL, retried).
    let rts = [
        make_runtime(ctx, 0, 256, false),
        make_runtime(ctx, 1, 64, true),
    ];
    // Threads 0..12 use runtime 0, 12..16 runtime 1.
    let rt_of = |t: usize| if t < 12 { 0u8 } else { 1u8 };
    let recs: Vec<Vec<Rec>> = (0..THREADS)
        .map(|t| {
            (0..per)
                .map(|s| Rec::new(ctxp, t as u32, s as u32, rt_of(t)))
                .collect()
        })
        .collect();
    let recs = &recs;
    let ctx: &Ctx = ctx;
    let counters = thread::scope(|s| {
        let hs: Vec<_> = (0..THREADS)
            .map(|t| {
                let rt = rts[rt_of(t) as usize];
                s.spawn(move || stress_thread(ctx, rt, &recs[t], 0x5EED + t as u64))
            })
            .collect();
        hs.into_iter()
            .map(|h| h.join().unwrap())
            .fold([0u64; 4], |mut a, c| {
                (0..4).for_each(|k| a[k] += c[k]);
                a
            })
    });
    let mut st = [stats(rts[0].0), stats(rts[1].0)];
    for (k, rt) in rts.iter().enumerate() {
        // SAFETY: live runtime; nobody submits any more.
        assert_eq!(unsafe { qthr_shutdown(rt.0, QTHR_DRAIN) }, QTHR_OK);
        st[k] = stats(rt.0);
        // SAFETY: live runtime, freed once.
        unsafe { qthr_free(rt.0) };
        assert_eq!(
            ctx.stop_calls[k].load(SeqCst),
            1,
            "on_stop runs exactly once"
        );
    }
    ctx.check();

    // Accounting: every job ran xor was cancelled, exactly once.
    let (mut ran, mut cancelled) = ([0u64; 2], [0u64; 2]);
    for r in recs.iter().flatten() {
        let (a, x, c) = (
            r.accepted.load(SeqCst),
            r.ran.load(SeqCst),
            r.cancelled.load(SeqCst),
        );
        assert_eq!(a, 1, "job {}:{} never accepted", r.thread, r.seq);
        assert!(
            x + c == 1,
            "job {}:{}: ran {x} times, cancelled {c}",
            r.thread,
            r.seq
        );
        assert_eq!(
            r.thens_run.load(SeqCst),
            r.thens_expected.load(SeqCst),
            "job {}:{}: continuations run != registered",
            r.thread,
            r.seq
        );
        ran[r.rt as usize] += x as u64;
        cancelled[r.rt as usize] += c as u64;
    }
    for k in 0..2 {
        assert_eq!(st[k].completed, ran[k], "runtime {k}: stats.completed");
        assert_eq!(
            st[k].cancelled, cancelled[k],
            "runtime {k}: stats.cancelled"
        );
        assert_eq!(
            st[k].submitted,
            ran[k] + cancelled[k],
            "runtime {k}: stats.submitted"
        );
        assert_eq!(st[k].queue_len, 0);
    }
    let [timeouts, cancels_ok, cancels_late, thens_now] = counters;
    eprintln!(
        "stress: {} jobs ({} ran, {} cancelled) by {THREADS} threads in {:.2?}; \
         {timeouts} timed-out waits, {cancels_ok} cancels ok, {cancels_late} too late, \
         {thens_now} then-after-resolve; high water {}/{}",
        THREADS * per,
        ran[0] + ran[1],
        cancelled[0] + cancelled[1],
        t0.elapsed(),
        st[0].queue_high_water,
        st[1].queue_high_water,
    );
    assert!(THREADS * per >= total);
}
