//! Shared by the stress modules: a record per job, the state of one test, the job
//! that checks where, when and how often it runs, a checking continuation and
//! on_stop hook, and submit / batch / wait helpers.

use crate::common::*;

use std::ffi::c_void;
use std::ptr;
use std::sync::atomic::{AtomicU64, AtomicU8, AtomicUsize, Ordering::*};
use std::sync::Mutex;
use std::thread;
use std::time::Duration;

/// One job's record; the job's argument points to it, and the job returns it.
pub(crate) struct Rec {
    ctx: *const Ctx,
    pub(crate) thread: u32,
    pub(crate) seq: u32,
    /// Which runtime (0/1) it was submitted to.
    pub(crate) rt: u8,
    /// Set by the submitter once the job was accepted.
    pub(crate) accepted: AtomicU8,
    /// The job has a future (else fire-and-forget: it must run, unless a
    /// CANCEL shutdown discards it).
    pub(crate) has_future: AtomicU8,
    pub(crate) ran: AtomicU8,
    /// Set by whoever observed the job's cancellation (cancel OK / CANCELLED).
    pub(crate) cancelled: AtomicU8,
    /// Continuations registered and run.
    pub(crate) thens_expected: AtomicU8,
    pub(crate) thens_run: AtomicU8,
    /// Status a continuation saw (0 OK, 2 CANCELLED).
    then_status: AtomicU8,
}

// SAFETY: the ctx pointer is shared read-only; everything else is atomic.
unsafe impl Sync for Rec {}
// SAFETY: as above.
unsafe impl Send for Rec {}

impl Rec {
    pub(crate) fn new(ctx: *const Ctx, thread: u32, seq: u32, rt: u8) -> Rec {
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
    pub(crate) fn arg(&self) -> *mut c_void {
        self as *const Rec as *mut c_void
    }
}

/// State shared by one test's jobs and threads.
pub(crate) struct Ctx {
    /// Per thread: seq + 1 of the last job of that thread that ran (worker-only
    /// writes; Relaxed atomics keep it simple and sanitizer-clean).
    last: Vec<AtomicU64>,
    /// pthread_self of each runtime's worker, learnt from its first job.
    worker: [AtomicUsize; 2],
    errors: AtomicUsize,
    first_error: Mutex<Option<String>>,
    /// Set by on_stop; a job running after it is an error.
    stopped: [AtomicU8; 2],
    pub(crate) stop_calls: [AtomicUsize; 2],
    /// 1 in `slow_every` jobs sleeps `slow_us` (0: never).
    pub(crate) slow_every: u64,
    pub(crate) slow_us: u64,
    ran_total: AtomicU64,
}

// SAFETY: only atomics and a mutex inside.
unsafe impl Sync for Ctx {}

impl Ctx {
    pub(crate) fn new(threads: usize) -> Ctx {
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
    pub(crate) fn error(&self, msg: String) {
        if self.errors.fetch_add(1, SeqCst) == 0 {
            *self.first_error.lock().unwrap() = Some(msg);
        }
    }
    pub(crate) fn check(&self) {
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
pub(crate) unsafe extern "C" fn job(arg: *mut c_void) -> *mut c_void {
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
pub(crate) unsafe extern "C" fn then_cb(arg: *mut c_void, st: qthr_status, result: *mut c_void) {
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

pub(crate) fn make_runtime(
    ctx: &Ctx,
    idx: usize,
    capacity: usize,
    nonblocking: bool,
) -> Sp<qthr_runtime> {
    let mut c = config(capacity, nonblocking);
    c.on_stop = Some(on_stop);
    c.hook_ctx = (ctx as *const Ctx as usize | idx) as *mut c_void;
    Sp(init(Some(&c)).expect("qthr_init"))
}

/// Checks a finished wait against the record.
pub(crate) fn check_wait(ctx: &Ctx, rec: &Rec, st: qthr_status, result: *mut c_void) {
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

/// Runs `rec`'s job on `rt` with qthr_call, retrying QUEUE_FULL (nonblocking
/// runtime). Returns the final status and the job's result.
///
/// # Safety
/// `rt` is live and `rec` outlives the call.
pub(crate) unsafe fn call(rt: Sp<qthr_runtime>, rec: &Rec) -> (qthr_status, *mut c_void) {
    let mut r = ptr::null_mut();
    loop {
        // SAFETY: the caller's contract; r is a valid out-parameter.
        let st = unsafe { qthr_call(rt.0, Some(job), rec.arg(), &mut r) };
        if st != QTHR_QUEUE_FULL {
            return (st, r);
        }
        thread::yield_now();
    }
}

/// Submits `rec` to `rt`, retrying QUEUE_FULL (nonblocking runtime). Returns the
/// final status.
pub(crate) unsafe fn submit(
    rt: Sp<qthr_runtime>,
    rec: &Rec,
    out: *mut *mut qthr_future,
) -> qthr_status {
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

pub(crate) unsafe fn submit_batch(
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

pub(crate) unsafe fn wait(f: *mut qthr_future, timeout_ns: i64) -> (qthr_status, *mut c_void) {
    let mut r = ptr::null_mut();
    // SAFETY: live future.
    let st = unsafe { qthr_wait(f, timeout_ns, &mut r) };
    (st, r)
}
