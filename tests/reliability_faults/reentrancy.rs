//! Calling back into one's own runtime: a job doing everything it may do to its
//! own runtime (qthr_call inline, waiting on a job queued behind it, waiting on,
//! cancelling and continuing itself, shutdown, submits to its own full queue), and
//! continuations that call in, cancel other futures and attach more continuations.

use crate::common::*;
use crate::support::{submit_gated, Gate};

use std::ffi::c_void;
use std::ptr;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Mutex;

/// Everything a job may do to its own runtime.
struct Reentry {
    rt: Sp<qthr_runtime>,
    me: std::sync::atomic::AtomicPtr<qthr_future>,
    log: Mutex<Vec<(&'static str, qthr_status, usize)>>,
    then_runs: AtomicUsize,
}

unsafe extern "C" fn plus_one(arg: *mut c_void) -> *mut c_void {
    (arg as usize + 1) as *mut c_void
}

unsafe extern "C" fn reentry_then(ctx: *mut c_void, st: qthr_status, r: *mut c_void) {
    // SAFETY (test): ctx is a live Reentry.
    let re = unsafe { &*(ctx as *const Reentry) };
    assert_eq!(st, QTHR_OK);
    assert_eq!(r as usize, 1234);
    re.then_runs.fetch_add(1, SeqCst);
}

unsafe extern "C" fn reentrant_job(arg: *mut c_void) -> *mut c_void {
    // SAFETY (test): arg is a live Reentry; its runtime is alive while we run.
    let re = unsafe { &*(arg as *const Reentry) };
    let rt = re.rt.0;
    let mut log = re.log.lock().unwrap();
    // SAFETY: live runtime and futures.
    unsafe {
        log.push(("on_worker", QTHR_OK, qthr_on_worker(rt) as usize));
        // qthr_call on the worker runs inline.
        let mut r = ptr::null_mut();
        let st = qthr_call(rt, Some(plus_one), 41 as *mut c_void, &mut r);
        log.push(("call inline", st, r as usize));
        // Nested: a call inside a call inside the job.
        // Waiting for a job queued behind us runs it inline.
        let mut f = ptr::null_mut();
        let st = qthr_submit(rt, Some(plus_one), 9 as *mut c_void, &mut f);
        log.push(("submit own", st, 0));
        let st = qthr_wait(f, -1, &mut r);
        log.push(("wait queued own", st, r as usize));
        qthr_future_free(f);
        // Waiting for ourselves: would deadlock; a poll times out.
        let me = loop {
            let p = re.me.load(SeqCst);
            if !p.is_null() {
                break p;
            }
            std::hint::spin_loop();
        };
        log.push(("wait self", qthr_wait(me, -1, ptr::null_mut()), 0));
        log.push((
            "wait self timed",
            qthr_wait(me, 5_000_000, ptr::null_mut()),
            0,
        ));
        log.push(("poll self", qthr_wait(me, 0, ptr::null_mut()), 0));
        log.push(("cancel self", qthr_cancel(me), 0));
        // A continuation on ourselves runs after we finish.
        log.push((
            "then self",
            qthr_future_then(me, Some(reentry_then), arg),
            0,
        ));
        log.push(("shutdown own", qthr_shutdown(rt, QTHR_DRAIN), 0));
        log.push(("shutdown own cancel", qthr_shutdown(rt, QTHR_CANCEL), 0));
        // Fill our own queue (capacity 2): the worker never waits for room.
        let a = qthr_submit(rt, Some(plus_one), ptr::null_mut(), ptr::null_mut());
        let b = qthr_submit(rt, Some(plus_one), ptr::null_mut(), ptr::null_mut());
        let c = qthr_submit(rt, Some(plus_one), ptr::null_mut(), ptr::null_mut());
        log.push(("fill own 1", a, 0));
        log.push(("fill own 2", b, 0));
        log.push(("own queue full", c, 0));
        let fns: [qthr_fn; 1] = [Some(plus_one)];
        log.push((
            "batch own full",
            qthr_submit_batch(rt, 1, fns.as_ptr(), ptr::null(), ptr::null_mut()),
            0,
        ));
        // A call on the worker still runs inline with a full queue.
        let st = qthr_call(rt, Some(plus_one), 1 as *mut c_void, &mut r);
        log.push(("call inline, queue full", st, r as usize));
    }
    1234 as *mut c_void
}

#[test]
fn a_job_calling_back_into_its_own_runtime() {
    let _d = watchdog("a_job_calling_back_into_its_own_runtime", 60);
    let rt = Sp(init(Some(&config(2, false))).unwrap());
    let re = Reentry {
        rt,
        me: Default::default(),
        log: Mutex::new(Vec::new()),
        then_runs: AtomicUsize::new(0),
    };
    let mut f = ptr::null_mut();
    // SAFETY: live runtime; `re` outlives the job.
    unsafe {
        assert_eq!(
            qthr_submit(
                rt.0,
                Some(reentrant_job),
                &re as *const Reentry as *mut c_void,
                &mut f
            ),
            QTHR_OK
        );
        re.me.store(f, SeqCst);
        let mut r = ptr::null_mut();
        assert_eq!(qthr_wait(f, -1, &mut r), QTHR_OK);
        assert_eq!(r as usize, 1234);
        assert_eq!(qthr_shutdown(rt.0, QTHR_DRAIN), QTHR_OK);
        qthr_future_free(f);
        qthr_free(rt.0);
    }
    let log = re.log.lock().unwrap().clone();
    let want: Vec<(&str, qthr_status, usize)> = vec![
        ("on_worker", QTHR_OK, 1),
        ("call inline", QTHR_OK, 42),
        ("submit own", QTHR_OK, 0),
        ("wait queued own", QTHR_OK, 10),
        ("wait self", QTHR_WOULD_DEADLOCK, 0),
        ("wait self timed", QTHR_WOULD_DEADLOCK, 0),
        ("poll self", QTHR_TIMEOUT, 0),
        ("cancel self", QTHR_NOT_CANCELLABLE, 0),
        ("then self", QTHR_OK, 0),
        ("shutdown own", QTHR_WOULD_DEADLOCK, 0),
        ("shutdown own cancel", QTHR_WOULD_DEADLOCK, 0),
        ("fill own 1", QTHR_OK, 0),
        ("fill own 2", QTHR_OK, 0),
        ("own queue full", QTHR_QUEUE_FULL, 0),
        ("batch own full", QTHR_QUEUE_FULL, 0),
        ("call inline, queue full", QTHR_OK, 2),
    ];
    assert_eq!(log, want);
    assert_eq!(
        re.then_runs.load(SeqCst),
        1,
        "the continuation ran exactly once"
    );
}

/// Continuations doing odd things: freeing their own future, attaching more
/// continuations, cancelling another future, calling into the runtime.
struct Odd {
    rt: Sp<qthr_runtime>,
    other: Sp<qthr_future>,
    runs: AtomicUsize,
    nested: AtomicUsize,
}
unsafe extern "C" fn nested_cb(ctx: *mut c_void, _st: qthr_status, _r: *mut c_void) {
    // SAFETY (test): ctx is a live Odd.
    unsafe { &*(ctx as *const Odd) }.nested.fetch_add(1, SeqCst);
}
unsafe extern "C" fn odd_cb(ctx: *mut c_void, st: qthr_status, _r: *mut c_void) {
    // SAFETY (test): ctx is a live Odd, whose runtime and other future are alive.
    let o = unsafe { &*(ctx as *const Odd) };
    o.runs.fetch_add(1, SeqCst);
    assert_eq!(st, QTHR_OK);
    // SAFETY: as above.
    unsafe {
        // On the worker: a call runs inline.
        assert_eq!(
            qthr_call(o.rt.0, Some(ident), ptr::null_mut(), ptr::null_mut()),
            QTHR_OK
        );
        let c = qthr_cancel(o.other.0);
        assert!(c == QTHR_OK || c == QTHR_NOT_CANCELLABLE);
        assert_eq!(qthr_future_then(o.other.0, Some(nested_cb), ctx), QTHR_OK);
    }
}

#[test]
fn continuations_that_call_back_in() {
    let _d = watchdog("continuations_that_call_back_in", 60);
    let rt = Sp(init(None).unwrap());
    let g = Gate::new();
    // SAFETY: live runtime; everything outlives the jobs.
    unsafe {
        let fg = submit_gated(rt.0, &g);
        let (mut a, mut b) = (ptr::null_mut(), ptr::null_mut());
        assert_eq!(
            qthr_submit(rt.0, Some(ident), ptr::null_mut(), &mut a),
            QTHR_OK
        );
        assert_eq!(
            qthr_submit(rt.0, Some(ident), ptr::null_mut(), &mut b),
            QTHR_OK
        );
        let o = Odd {
            rt,
            other: Sp(b),
            runs: AtomicUsize::new(0),
            nested: AtomicUsize::new(0),
        };
        assert_eq!(
            qthr_future_then(a, Some(odd_cb), &o as *const Odd as *mut c_void),
            QTHR_OK
        );
        // Free `a` while pending: the continuation still runs (it is not the
        // handle that keeps it).
        qthr_future_free(a);
        g.open();
        assert_eq!(qthr_wait(fg, -1, ptr::null_mut()), QTHR_OK);
        let st = qthr_wait(b, -1, ptr::null_mut());
        assert!(st == QTHR_OK || st == QTHR_CANCELLED);
        assert_eq!(qthr_shutdown(rt.0, QTHR_DRAIN), QTHR_OK);
        assert_eq!(o.runs.load(SeqCst), 1);
        assert_eq!(o.nested.load(SeqCst), 1);
        qthr_future_free(b);
        qthr_future_free(fg);
        qthr_free(rt.0);
    }
}
