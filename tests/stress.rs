//! Stress and shutdown-under-load tests through the C ABI.
//!
//! - `stress_mixed_api_16_threads`: 16 threads push >= 1 M jobs (2^20 by default)
//!   through two runtimes (a blocking one with a small queue, a nonblocking one),
//!   mixing qthr_call, submit + wait, submit + polling/timed waits, cancel,
//!   fire-and-forget, batches (with and without futures), future_then (before
//!   and after resolution) and early future_free. Every job is accounted for
//!   exactly once (ran xor cancelled), every result is the job's own, per-thread
//!   FIFO order holds on the worker, every continuation runs exactly once, and
//!   the runtimes' stats agree with the accounting.
//! - `shutdown_under_load_{drain,cancel}`: submitters keep submitting (blocking
//!   and nonblocking queues, calls, batches) while waiters wait with random
//!   timeouts and two threads shut the runtime down at once: every future
//!   resolves, late submitters get QTHR_SHUTDOWN, on_stop runs once after the
//!   last job, nothing hangs (watchdog).
//!
//! QTHR_STRESS_SCALE (e.g. 0.05) scales the work down for sanitizers/valgrind.

mod common;
use common::*;

use std::collections::VecDeque;
use std::ffi::c_void;
use std::ptr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, AtomicUsize, Ordering::*};
use std::sync::Mutex;
use std::thread;
use std::time::Duration;

/// One job's record; the job's argument points to it, and the job returns it.
struct Rec {
    ctx: *const Ctx,
    thread: u32,
    seq: u32,
    /// Which runtime (0/1) it was submitted to.
    rt: u8,
    /// Set by the submitter once the job was accepted.
    accepted: AtomicU8,
    /// The job has a future (else fire-and-forget: it must run, unless a
    /// CANCEL shutdown discards it).
    has_future: AtomicU8,
    ran: AtomicU8,
    /// Set by whoever observed the job's cancellation (cancel OK / CANCELLED).
    cancelled: AtomicU8,
    /// Continuations registered and run.
    thens_expected: AtomicU8,
    thens_run: AtomicU8,
    /// Status a continuation saw (0 OK, 2 CANCELLED).
    then_status: AtomicU8,
}

// SAFETY: the ctx pointer is shared read-only; everything else is atomic.
unsafe impl Sync for Rec {}
// SAFETY: as above.
unsafe impl Send for Rec {}

impl Rec {
    fn new(ctx: *const Ctx, thread: u32, seq: u32, rt: u8) -> Rec {
        Rec {
            ctx,
            thread,
            seq,
            rt,
            accepted: AtomicU8::new(0),
            has_future: AtomicU8::new(0),
            ran: AtomicU8::new(0),
            cancelled: AtomicU8::new(0),
            thens_expected: AtomicU8::new(0),
            thens_run: AtomicU8::new(0),
            then_status: AtomicU8::new(0xff),
        }
    }
    fn arg(&self) -> *mut c_void {
        self as *const Rec as *mut c_void
    }
}

/// State shared by one test's jobs and threads.
struct Ctx {
    /// Per thread: seq + 1 of the last job of that thread that ran (worker-only
    /// writes; Relaxed atomics keep it simple and sanitizer-clean).
    last: Vec<AtomicU64>,
    /// pthread_self of each runtime's worker, learnt from its first job.
    worker: [AtomicUsize; 2],
    errors: AtomicUsize,
    first_error: Mutex<Option<String>>,
    /// Set by on_stop; a job running after it is an error.
    stopped: [AtomicU8; 2],
    stop_calls: [AtomicUsize; 2],
    /// 1 in `slow_every` jobs sleeps `slow_us` (0: never).
    slow_every: u64,
    slow_us: u64,
    ran_total: AtomicU64,
}

// SAFETY: only atomics and a mutex inside.
unsafe impl Sync for Ctx {}

impl Ctx {
    fn new(threads: usize) -> Ctx {
        Ctx {
            last: (0..threads).map(|_| AtomicU64::new(0)).collect(),
            worker: [AtomicUsize::new(0), AtomicUsize::new(0)],
            errors: AtomicUsize::new(0),
            first_error: Mutex::new(None),
            stopped: [AtomicU8::new(0), AtomicU8::new(0)],
            stop_calls: [AtomicUsize::new(0), AtomicUsize::new(0)],
            slow_every: 0,
            slow_us: 0,
            ran_total: AtomicU64::new(0),
        }
    }
    fn error(&self, msg: String) {
        if self.errors.fetch_add(1, SeqCst) == 0 {
            *self.first_error.lock().unwrap() = Some(msg);
        }
    }
    fn check(&self) {
        let n = self.errors.load(SeqCst);
        assert_eq!(
            n,
            0,
            "{n} errors; first: {:?}",
            self.first_error.lock().unwrap()
        );
    }
}

/// The job: checks it runs on its runtime's one worker, in per-thread FIFO
/// order, exactly once, before on_stop; returns its own record.
unsafe extern "C" fn job(arg: *mut c_void) -> *mut c_void {
    // SAFETY: arg is a live Rec whose ctx outlives the runtime.
    let rec = unsafe { &*(arg as *const Rec) };
    // SAFETY: as above.
    let ctx = unsafe { &*rec.ctx };
    let me = unsafe { libc::pthread_self() } as usize;
    let w = &ctx.worker[rec.rt as usize];
    match w.compare_exchange(0, me, Relaxed, Relaxed) {
        Ok(_) => {}
        Err(prev) if prev == me => {}
        Err(prev) => ctx.error(format!("job ran on thread {me:x}, worker is {prev:x}")),
    }
    if ctx.stopped[rec.rt as usize].load(SeqCst) != 0 {
        ctx.error(format!("job {}:{} ran after on_stop", rec.thread, rec.seq));
    }
    let last = &ctx.last[rec.thread as usize];
    let prev = last.load(Relaxed);
    if (rec.seq as u64) < prev {
        ctx.error(format!(
            "FIFO broken: thread {} job {} ran after job {}",
            rec.thread,
            rec.seq,
            prev - 1
        ));
    }
    last.store(rec.seq as u64 + 1, Relaxed);
    if rec.ran.fetch_add(1, SeqCst) != 0 {
        ctx.error(format!("job {}:{} ran twice", rec.thread, rec.seq));
    }
    if rec.cancelled.load(SeqCst) != 0 {
        ctx.error(format!(
            "job {}:{} ran after a successful cancel",
            rec.thread, rec.seq
        ));
    }
    ctx.ran_total.fetch_add(1, Relaxed);
    if ctx.slow_every != 0 && (rec.seq as u64 * 7 + rec.thread as u64) % ctx.slow_every == 0 {
        thread::sleep(Duration::from_micros(ctx.slow_us));
    }
    arg
}

/// A continuation: counts itself on the record, checks status and result.
unsafe extern "C" fn then_cb(arg: *mut c_void, st: qthr_status, result: *mut c_void) {
    // SAFETY: arg is a live Rec.
    let rec = unsafe { &*(arg as *const Rec) };
    // SAFETY: as above.
    let ctx = unsafe { &*rec.ctx };
    match st {
        QTHR_OK if result == arg => {
            if rec.ran.load(SeqCst) != 1 {
                ctx.error(format!(
                    "then(OK) but job {}:{} did not run",
                    rec.thread, rec.seq
                ));
            }
        }
        QTHR_CANCELLED if result.is_null() => {
            if rec.ran.load(SeqCst) != 0 {
                ctx.error(format!(
                    "then(CANCELLED) but job {}:{} ran",
                    rec.thread, rec.seq
                ));
            }
        }
        _ => ctx.error(format!("then got {st:?} / {result:?} for {arg:?}")),
    }
    rec.then_status.store(st as u8, SeqCst);
    rec.thens_run.fetch_add(1, SeqCst);
}

unsafe extern "C" fn on_stop(hook_ctx: *mut c_void) {
    // hook_ctx: ctx pointer with the runtime index in the low bit.
    let rt = hook_ctx as usize & 1;
    // SAFETY: the ctx outlives the runtime.
    let ctx = unsafe { &*((hook_ctx as usize & !1) as *const Ctx) };
    ctx.stopped[rt].store(1, SeqCst);
    ctx.stop_calls[rt].fetch_add(1, SeqCst);
}

fn make_runtime(ctx: &Ctx, idx: usize, capacity: usize, nonblocking: bool) -> Sp<qthr_runtime> {
    let mut c = config(capacity, nonblocking);
    c.on_stop = Some(on_stop);
    c.hook_ctx = (ctx as *const Ctx as usize | idx) as *mut c_void;
    Sp(init(Some(&c)).expect("qthr_init"))
}

/// Checks a finished wait against the record.
fn check_wait(ctx: &Ctx, rec: &Rec, st: qthr_status, result: *mut c_void) {
    match st {
        QTHR_OK => {
            if result != rec.arg() {
                ctx.error(format!(
                    "job {}:{}: result {result:?} is not its own",
                    rec.thread, rec.seq
                ));
            }
            if rec.ran.load(SeqCst) != 1 {
                ctx.error(format!(
                    "wait OK but job {}:{} ran {} times",
                    rec.thread,
                    rec.seq,
                    rec.ran.load(SeqCst)
                ));
            }
        }
        QTHR_CANCELLED => {
            rec.cancelled.store(1, SeqCst);
            if rec.ran.load(SeqCst) != 0 {
                ctx.error(format!(
                    "wait CANCELLED but job {}:{} ran",
                    rec.thread, rec.seq
                ));
            }
        }
        other => ctx.error(format!(
            "wait on job {}:{} returned {other:?}",
            rec.thread, rec.seq
        )),
    }
}

/// Submits `rec` to `rt`, retrying QUEUE_FULL (nonblocking runtime). Returns the
/// final status.
unsafe fn submit(rt: Sp<qthr_runtime>, rec: &Rec, out: *mut *mut qthr_future) -> qthr_status {
    loop {
        // SAFETY: live runtime; rec outlives the job.
        let st = unsafe { qthr_submit(rt.0, Some(job), rec.arg(), out) };
        if st != QTHR_QUEUE_FULL {
            if st == QTHR_OK {
                rec.accepted.store(1, SeqCst);
                rec.has_future.store(!out.is_null() as u8, SeqCst);
            }
            return st;
        }
        thread::yield_now();
    }
}

unsafe fn submit_batch(
    rt: Sp<qthr_runtime>,
    recs: &[Rec],
    outs: Option<&mut Vec<*mut qthr_future>>,
) -> qthr_status {
    let fns: Vec<qthr_fn> = recs.iter().map(|_| Some(job as _)).collect();
    let args: Vec<*mut c_void> = recs.iter().map(Rec::arg).collect();
    let want = outs.is_some();
    let mut buf = vec![ptr::null_mut(); recs.len()];
    let outp = if want {
        buf.as_mut_ptr()
    } else {
        ptr::null_mut()
    };
    loop {
        // SAFETY: n entries in each array; live runtime.
        let st = unsafe { qthr_submit_batch(rt.0, recs.len(), fns.as_ptr(), args.as_ptr(), outp) };
        if st == QTHR_QUEUE_FULL {
            thread::yield_now();
            continue;
        }
        if st == QTHR_OK {
            for r in recs {
                r.accepted.store(1, SeqCst);
                r.has_future.store(want as u8, SeqCst);
            }
            if let Some(o) = outs {
                assert!(buf.iter().all(|f| !f.is_null()));
                o.extend_from_slice(&buf);
            }
        } else {
            assert!(
                buf.iter().all(|f| f.is_null()),
                "batch wrote outs on failure"
            );
        }
        return st;
    }
}

unsafe fn wait(f: *mut qthr_future, timeout_ns: i64) -> (qthr_status, *mut c_void) {
    let mut r = ptr::null_mut();
    // SAFETY: live future.
    let st = unsafe { qthr_wait(f, timeout_ns, &mut r) };
    (st, r)
}

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
                    let mut r = ptr::null_mut();
                    let st = loop {
                        let st = qthr_call(rt.0, Some(job), rec.arg(), &mut r);
                        if st != QTHR_QUEUE_FULL {
                            break st;
                        }
                        thread::yield_now();
                    };
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

// ---------------------------------------------------------------------------
// Shutdown under load.

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
                                let mut r = ptr::null_mut();
                                let st = loop {
                                    let st = qthr_call(rt.0, Some(job), rec.arg(), &mut r);
                                    if st != QTHR_QUEUE_FULL {
                                        break st;
                                    }
                                    thread::yield_now();
                                };
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

// ---------------------------------------------------------------------------
// Many threads waiting on the same futures at once.

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

// ---------------------------------------------------------------------------
// Stats under load.

unsafe extern "C" fn nop(arg: *mut c_void) -> *mut c_void {
    arg
}

/// Snapshots taken while jobs flow may lag, but never show more jobs resolved
/// than submitted (a binding computing `submitted - completed - cancelled` in
/// u64 would underflow).
#[test]
fn stats_under_load_never_resolve_more_than_submitted() {
    let _dog = watchdog("stats_under_load_never_resolve_more_than_submitted", 120);
    let rt = Sp(init(None).unwrap());
    let stop = AtomicBool::new(false);
    let bad = thread::scope(|s| {
        for _ in 0..2 {
            let stop = &stop;
            s.spawn(move || {
                let rt = rt;
                while !stop.load(SeqCst) {
                    // SAFETY: live runtime.
                    let st =
                        unsafe { qthr_submit(rt.0, Some(nop), ptr::null_mut(), ptr::null_mut()) };
                    assert_eq!(st, QTHR_OK);
                }
            });
        }
        let mut bad = Vec::new();
        for _ in 0..scaled(3_000_000) {
            let s = stats(rt.0);
            if s.completed + s.cancelled > s.submitted {
                bad.push((s.submitted, s.completed, s.cancelled));
            }
        }
        stop.store(true, SeqCst);
        bad
    });
    // SAFETY: freed once.
    unsafe { qthr_free(rt.0) };
    assert!(
        bad.is_empty(),
        "{} snapshots resolved more than submitted, e.g. {:?}",
        bad.len(),
        bad[0]
    );
}
