//! Faults in jobs and hooks, through the C ABI: a job that blocks for a long
//! time (waiters sleep instead of burning a CPU, timeouts work), jobs that call
//! back into their own runtime (qthr_call / qthr_wait / shutdown / submit to a
//! full queue), runtimes whose jobs call each other, on_start failing, and
//! on_stop running exactly once on every path (including qthr_free from a job).

mod common;
use common::*;

use std::ffi::{c_int, c_void};
use std::ptr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::Mutex;
use std::thread;
use std::time::{Duration, Instant};

/// A gate a job blocks on (sleeping, not spinning) until opened.
struct Gate {
    started: AtomicBool,
    open: Mutex<bool>,
    cv: std::sync::Condvar,
}
impl Gate {
    fn new() -> Gate {
        Gate {
            started: AtomicBool::new(false),
            open: Mutex::new(false),
            cv: std::sync::Condvar::new(),
        }
    }
    fn open(&self) {
        *self.open.lock().unwrap() = true;
        self.cv.notify_all();
    }
    fn wait_started(&self) {
        while !self.started.load(SeqCst) {
            thread::sleep(Duration::from_micros(100));
        }
    }
}

unsafe extern "C" fn block_on_gate(arg: *mut c_void) -> *mut c_void {
    // SAFETY (test): arg is a live Gate.
    let g = unsafe { &*(arg as *const Gate) };
    g.started.store(true, SeqCst);
    let mut open = g.open.lock().unwrap();
    while !*open {
        open = g.cv.wait(open).unwrap();
    }
    arg
}

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
    let mut f = ptr::null_mut();
    // SAFETY: live runtime; the gate outlives the job (opened before return).
    unsafe {
        assert_eq!(
            qthr_submit(
                rt.0,
                Some(block_on_gate),
                &gate as *const Gate as *mut c_void,
                &mut f
            ),
            QTHR_OK
        );
    }
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

// ---------------------------------------------------------------------------
// Hooks.

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
        let mut fg = ptr::null_mut();
        assert_eq!(
            qthr_submit(
                rt,
                Some(block_on_gate),
                &g as *const Gate as *mut c_void,
                &mut fg
            ),
            QTHR_OK
        );
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
        let mut fg = ptr::null_mut();
        assert_eq!(
            qthr_submit(
                rt.0,
                Some(block_on_gate),
                &g as *const Gate as *mut c_void,
                &mut fg
            ),
            QTHR_OK
        );
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
        let mut fg = ptr::null_mut();
        assert_eq!(
            qthr_submit(
                rt.0,
                Some(block_on_gate),
                &g as *const Gate as *mut c_void,
                &mut fg
            ),
            QTHR_OK
        );
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
