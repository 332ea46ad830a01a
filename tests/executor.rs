//! Behaviour of the executor through the safe Rust API and the raw `Executor`.

mod common;
use common::watchdog;

use qthr::{Config, Continuation, Error, Executor, Job, Outcome, Runtime, ShutdownMode};
use std::ffi::c_void;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, Mutex};
use std::thread;
use std::time::{Duration, Instant};

#[test]
fn every_job_runs_on_the_one_worker_and_none_is_lost() {
    let _w = watchdog("every_job_runs_on_the_one_worker_and_none_is_lost", 60);
    let rt = Arc::new(Runtime::builder().thread_name("engine").build().unwrap());
    let worker = rt.call(|| thread::current().id()).unwrap();
    assert_eq!(
        rt.call(common::os_thread_name).unwrap().as_deref(),
        Some("engine")
    );
    // An unsynchronised engine: a plain counter only the worker may touch.
    struct Engine(std::cell::UnsafeCell<u64>);
    // SAFETY (test): only the worker touches the cell; each access asserts it.
    unsafe impl Sync for Engine {}
    let engine = Arc::new(Engine(std::cell::UnsafeCell::new(0)));
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let (rt, engine) = (rt.clone(), engine.clone());
            thread::spawn(move || {
                for i in 0..5_000u64 {
                    let e = engine.clone();
                    let got = rt
                        .call(move || {
                            assert_eq!(thread::current().id(), worker);
                            // SAFETY: on the worker (asserted).
                            unsafe { *e.0.get() += 1 };
                            i * 2
                        })
                        .unwrap();
                    assert_eq!(got, i * 2);
                }
            })
        })
        .collect();
    threads.into_iter().for_each(|t| t.join().unwrap());
    let e = engine.clone();
    // SAFETY: on the worker.
    assert_eq!(rt.call(move || unsafe { *e.0.get() }).unwrap(), 40_000);
}

/// `seen` holds (thread, i) pairs: each of `threads` threads must appear with
/// 0..n in order.
fn assert_each_thread_in_order(seen: &[(usize, usize)], threads: usize, n: usize) {
    for t in 0..threads {
        let mine: Vec<_> = seen
            .iter()
            .filter(|(x, _)| *x == t)
            .map(|(_, i)| *i)
            .collect();
        assert_eq!(mine, (0..n).collect::<Vec<_>>(), "thread {t}");
    }
}

#[test]
fn jobs_run_in_submission_order_per_thread() {
    let rt = Arc::new(Runtime::new().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let (rt, seen) = (rt.clone(), seen.clone());
            thread::spawn(move || {
                let futs: Vec<_> = (0..2000)
                    .map(|i| {
                        let seen = seen.clone();
                        rt.submit(move || seen.lock().unwrap().push((t, i)))
                            .unwrap()
                    })
                    .collect();
                futs.into_iter().for_each(|f| f.wait().unwrap());
            })
        })
        .collect();
    threads.into_iter().for_each(|t| t.join().unwrap());
    assert_each_thread_in_order(&seen.lock().unwrap(), 4, 2000);
}

#[test]
fn hooks_run_on_the_worker_around_all_jobs() {
    let log = Arc::new(Mutex::new(Vec::new()));
    let (l1, l2) = (log.clone(), log.clone());
    let rt = Runtime::builder()
        .on_start(move || {
            l1.lock()
                .unwrap()
                .push(format!("start {:?}", common::os_thread_name()));
            Ok::<(), String>(())
        })
        .on_stop(move || l2.lock().unwrap().push("stop".into()))
        .build()
        .unwrap();
    let l3 = log.clone();
    rt.spawn(move || l3.lock().unwrap().push("job".into()))
        .unwrap();
    rt.shutdown(ShutdownMode::Drain).unwrap();
    rt.shutdown(ShutdownMode::Drain).unwrap(); // idempotent
    drop(rt);
    assert_eq!(
        *log.lock().unwrap(),
        vec!["start Some(\"qthr\")", "job", "stop"]
    );
}

#[test]
fn failing_on_start_fails_the_build() {
    let stopped = Arc::new(AtomicUsize::new(0));
    let s = stopped.clone();
    let r = Runtime::builder()
        .on_start(|| Err("no engine"))
        .on_stop(move || {
            s.fetch_add(1, Ordering::SeqCst);
        })
        .build();
    assert_eq!(r.err(), Some(Error::StartFailed));
    assert_eq!(stopped.load(Ordering::SeqCst), 0);
    let r = Runtime::builder()
        .on_start(|| -> Result<(), String> { panic!("boom") })
        .build();
    assert_eq!(r.err(), Some(Error::StartFailed));
}

#[test]
fn bad_configs_are_rejected() {
    assert_eq!(
        Runtime::builder().queue_capacity(0).build().err(),
        Some(Error::InvalidArgument)
    );
    assert_eq!(
        Runtime::builder().queue_capacity(usize::MAX).build().err(),
        Some(Error::InvalidArgument)
    );
    assert_eq!(
        Runtime::builder().cpu(1 << 20).build().err(),
        Some(Error::InvalidArgument)
    );
}

#[test]
fn long_thread_names_are_truncated() {
    let rt = Runtime::builder()
        .thread_name("a-very-long-engine-name")
        .build()
        .unwrap();
    let name = rt.call(|| common::os_thread_name().unwrap()).unwrap();
    assert_eq!(name, "a-very-long-eng");
}

#[test]
fn call_on_the_worker_runs_inline() {
    let rt = Arc::new(Runtime::new().unwrap());
    let rt2 = rt.clone();
    let v = rt
        .call(move || {
            assert!(rt2.on_worker());
            rt2.call(|| 5).unwrap() + 1
        })
        .unwrap();
    assert_eq!(v, 6);
    assert!(!rt.on_worker());
}

#[test]
fn a_job_waiting_for_a_job_queued_behind_it_runs_it_inline() {
    let rt = Arc::new(Runtime::new().unwrap());
    let rt2 = rt.clone();
    let got = rt
        .call(move || {
            let later = rt2.submit(|| 7).unwrap();
            later.wait().unwrap()
        })
        .unwrap();
    assert_eq!(got, 7);
}

struct SelfWait {
    me: std::sync::atomic::AtomicPtr<c_void>,
    results: Mutex<Vec<Result<*mut c_void, Error>>>,
}

unsafe extern "C" fn wait_for_myself(arg: *mut c_void) -> *mut c_void {
    // SAFETY (test): arg is a live SelfWait.
    let sw = unsafe { &*(arg as *const SelfWait) };
    let me = loop {
        let p = sw.me.load(Ordering::SeqCst);
        if !p.is_null() {
            break p;
        }
        std::hint::spin_loop();
    };
    // SAFETY (test): the submitter keeps its reference alive until we return.
    let f = std::mem::ManuallyDrop::new(unsafe { qthr::FutureRef::from_raw(me) });
    let mut r = sw.results.lock().unwrap();
    r.push(f.wait(-1));
    r.push(f.wait(0));
    r.push(f.wait(1_000_000));
    std::ptr::null_mut()
}

#[test]
fn a_job_waiting_for_its_own_future_gets_would_deadlock() {
    let _w = watchdog("a_job_waiting_for_its_own_future_gets_would_deadlock", 30);
    let ex = Executor::start(Config::default()).unwrap();
    let sw = SelfWait {
        me: Default::default(),
        results: Mutex::new(Vec::new()),
    };
    // SAFETY (test): `sw` outlives the job.
    let job = unsafe { Job::new(wait_for_myself, &sw as *const SelfWait as *mut c_void, None) };
    let f = ex.submit(job, true).unwrap().unwrap();
    let raw = f.into_raw();
    sw.me.store(raw as *mut c_void, Ordering::SeqCst);
    // SAFETY: from into_raw above.
    let f = unsafe { qthr::FutureRef::from_raw(raw) };
    assert!(f.wait(-1).is_ok());
    let r = sw.results.lock().unwrap().clone();
    assert_eq!(
        r,
        vec![
            Err(Error::WouldDeadlock),
            Err(Error::Timeout),
            Err(Error::WouldDeadlock)
        ]
    );
}

#[test]
fn runtimes_calling_each_other_do_not_deadlock() {
    let _w = watchdog("runtimes_calling_each_other_do_not_deadlock", 30);
    let a = Arc::new(Runtime::builder().thread_name("a").build().unwrap());
    let b = Arc::new(Runtime::builder().thread_name("b").build().unwrap());
    let (a2, b2) = (a.clone(), b.clone());
    let v = a
        .call(move || {
            let a3 = a2.clone();
            // A's worker waits for B, whose job calls back into A.
            b2.call(move || a3.call(|| common::os_thread_name().unwrap()).unwrap())
                .unwrap()
        })
        .unwrap();
    assert_eq!(v, "a");
    // Same through futures.
    let (a2, b2) = (a.clone(), b.clone());
    let v = a
        .submit(move || {
            let a3 = a2.clone();
            b2.submit(move || a3.submit(|| 11).unwrap().wait().unwrap() + 1)
                .unwrap()
                .wait()
                .unwrap()
        })
        .unwrap()
        .wait()
        .unwrap();
    assert_eq!(v, 12);
}

#[test]
fn panics_in_jobs_come_back_to_the_caller_and_the_worker_survives() {
    let rt = Runtime::new().unwrap();
    let f = rt.submit(|| -> i32 { panic!("job failed") }).unwrap();
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f.wait()));
    let msg = caught.unwrap_err();
    assert_eq!(msg.downcast_ref::<&str>(), Some(&"job failed"));
    let caught =
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| rt.call(|| panic!("again"))));
    assert!(caught.is_err());
    rt.spawn(|| panic!("detached")).unwrap();
    assert_eq!(rt.call(|| 3).unwrap(), 3);
}

fn blocker(rt: &Runtime) -> (qthr::Future<()>, Arc<Barrier>, Arc<Barrier>) {
    let started = Arc::new(Barrier::new(2));
    let release = Arc::new(Barrier::new(2));
    let (s, r) = (started.clone(), release.clone());
    let f = rt
        .submit(move || {
            s.wait();
            r.wait();
        })
        .unwrap();
    started.wait();
    (f, started, release)
}

#[test]
fn cancel_before_start_and_not_after() {
    let rt = Runtime::new().unwrap();
    let (running, _, release) = blocker(&rt);
    let ran = Arc::new(AtomicUsize::new(0));
    let r2 = ran.clone();
    let queued = rt
        .submit(move || r2.fetch_add(1, Ordering::SeqCst))
        .unwrap();
    assert!(!running.cancel(), "a running job is not cancellable");
    assert!(queued.cancel());
    assert!(queued.cancel(), "cancelling twice is fine");
    release.wait();
    running.wait().unwrap();
    assert_eq!(queued.wait().err(), Some(Error::Cancelled));
    rt.shutdown(ShutdownMode::Drain).unwrap();
    assert_eq!(ran.load(Ordering::SeqCst), 0);
    let s = rt.stats().unwrap();
    assert_eq!((s.submitted, s.completed, s.cancelled), (2, 1, 1));
}

#[test]
fn timeouts_leave_the_future_pending() {
    let rt = Runtime::new().unwrap();
    let (f, _, release) = blocker(&rt);
    let t = Instant::now();
    assert_eq!(
        f.wait_timeout(Duration::from_millis(30)),
        Err(Error::Timeout)
    );
    assert!(t.elapsed() >= Duration::from_millis(30));
    assert!(!f.is_done());
    release.wait();
    f.wait().unwrap();
}

#[test]
fn nonblocking_full_queue_refuses_and_blocking_waits_for_room() {
    let rt = Arc::new(
        Runtime::builder()
            .queue_capacity(2)
            .nonblocking(true)
            .build()
            .unwrap(),
    );
    let (f, _, release) = blocker(&rt);
    let a = rt.submit(|| 1).unwrap();
    let b = rt.submit(|| 2).unwrap();
    assert_eq!(rt.submit(|| 3).err(), Some(Error::QueueFull));
    release.wait();
    f.wait().unwrap();
    assert_eq!((a.wait().unwrap(), b.wait().unwrap()), (1, 2));
    assert_eq!(rt.stats().unwrap().queue_high_water, 2);

    let rt = Arc::new(Runtime::builder().queue_capacity(1).build().unwrap());
    let (f, _, release) = blocker(&rt);
    let _queued = rt.submit(|| ()).unwrap();
    let rt2 = rt.clone();
    let waiter = thread::spawn(move || rt2.submit(|| 9).unwrap().wait().unwrap());
    thread::sleep(Duration::from_millis(30));
    assert!(!waiter.is_finished(), "a blocking submit waits for room");
    release.wait();
    f.wait().unwrap();
    assert_eq!(waiter.join().unwrap(), 9);
}

#[test]
fn the_worker_never_waits_for_room_in_its_own_queue() {
    let rt = Arc::new(Runtime::builder().queue_capacity(1).build().unwrap());
    let rt2 = rt.clone();
    let r = rt
        .call(move || {
            let first = rt2.submit(|| ()).map(drop);
            let second = rt2.submit(|| ()).map(drop);
            (first, second)
        })
        .unwrap();
    assert_eq!(r, (Ok(()), Err(Error::QueueFull)));
}

#[test]
fn shutdown_drain_runs_everything_and_cancel_runs_nothing_queued() {
    let _w = watchdog(
        "shutdown_drain_runs_everything_and_cancel_runs_nothing_queued",
        60,
    );
    for mode in [ShutdownMode::Drain, ShutdownMode::Cancel] {
        let rt = Arc::new(Runtime::new().unwrap());
        let (running, _, release) = blocker(&rt);
        let ran = Arc::new(AtomicUsize::new(0));
        let futs: Vec<_> = (0..100)
            .map(|_| {
                let r = ran.clone();
                rt.submit(move || r.fetch_add(1, Ordering::SeqCst)).unwrap()
            })
            .collect();
        let rt2 = rt.clone();
        let stopper = thread::spawn(move || rt2.shutdown(mode));
        // Late submitters get Shutdown once the shutdown began.
        while rt.submit(|| 0).is_ok() {
            thread::yield_now();
        }
        assert_eq!(rt.submit(|| 0).err(), Some(Error::Shutdown));
        release.wait();
        stopper.join().unwrap().unwrap();
        running.wait().unwrap();
        let results: Vec<_> = futs.into_iter().map(|f| f.wait()).collect();
        match mode {
            ShutdownMode::Drain => assert!(results.iter().all(|r| r.is_ok())),
            ShutdownMode::Cancel => assert!(results.iter().all(|r| *r == Err(Error::Cancelled))),
        }
        let expected = if mode == ShutdownMode::Drain { 100 } else { 0 };
        assert_eq!(ran.load(Ordering::SeqCst), expected);
        let s = rt.stats().unwrap();
        assert_eq!(s.submitted, s.completed + s.cancelled);
        assert_eq!(s.queue_len, 0);
    }
}

#[test]
fn shutdown_from_the_worker_would_deadlock() {
    let rt = Arc::new(Runtime::new().unwrap());
    let rt2 = rt.clone();
    assert_eq!(
        rt.call(move || rt2.shutdown(ShutdownMode::Drain)).unwrap(),
        Err(Error::WouldDeadlock)
    );
}

#[test]
fn dropping_the_runtime_drains_and_futures_outlive_it() {
    let rt = Runtime::new().unwrap();
    let futs: Vec<_> = (0..50).map(|i| rt.submit(move || i).unwrap()).collect();
    drop(rt);
    assert_eq!(
        futs.into_iter().map(|f| f.wait().unwrap()).sum::<i32>(),
        (0..50).sum()
    );
}

unsafe fn record(data: [*mut c_void; 2], outcome: Outcome) {
    // SAFETY (test): data[0] is a live Mutex<Vec<..>>.
    let log = unsafe { &*(data[0] as *const Mutex<Vec<(Outcome, Option<String>)>>) };
    log.lock()
        .unwrap()
        .push((outcome, common::os_thread_name()));
}

#[test]
fn continuations_run_exactly_once_on_the_right_thread() {
    let log: Mutex<Vec<(Outcome, Option<String>)>> = Mutex::new(Vec::new());
    // SAFETY (test): `log` outlives every continuation.
    let cont = unsafe {
        Continuation::new(
            record,
            [&log as *const _ as *mut c_void, std::ptr::null_mut()],
        )
    };
    let ex = Executor::start(Config {
        thread_name: "w".into(),
        ..Config::default()
    })
    .unwrap();
    unsafe extern "C" fn seven(_: *mut c_void) -> *mut c_void {
        7 as *mut c_void
    }
    // SAFETY (test): `seven` ignores its argument.
    let job = unsafe { Job::new(seven, std::ptr::null_mut(), None) };
    // Already resolved: runs at once on this thread.
    let f = ex.submit(job, true).unwrap().unwrap();
    f.wait(-1).unwrap();
    f.then(cont).unwrap();
    f.then(cont).unwrap();
    {
        let l = log.lock().unwrap();
        assert_eq!(l.len(), 2);
        assert_eq!(
            l[0],
            (Outcome::Done(7 as *mut c_void), common::os_thread_name())
        );
    }
    log.lock().unwrap().clear();
    // Attached while pending: runs on the worker after the job.
    let block = Arc::new(Barrier::new(2));
    let b2 = block.clone();
    let rt_blocker = ex.submit(
        {
            unsafe extern "C" fn wait_barrier(arg: *mut c_void) -> *mut c_void {
                // SAFETY (test): arg is a live Barrier.
                unsafe { &*(arg as *const Barrier) }.wait();
                std::ptr::null_mut()
            }
            // SAFETY (test): the barrier outlives the job.
            unsafe { Job::new(wait_barrier, Arc::as_ptr(&b2) as *mut c_void, None) }
        },
        true,
    );
    let f = ex.submit(job, true).unwrap().unwrap();
    let g = ex.submit(job, true).unwrap().unwrap();
    f.then(cont).unwrap();
    g.then(cont).unwrap();
    g.cancel().unwrap(); // resolved by cancel: runs here, now
    assert_eq!(log.lock().unwrap().len(), 1);
    block.wait();
    f.wait(-1).unwrap();
    ex.shutdown(ShutdownMode::Drain).unwrap();
    let l = log.lock().unwrap();
    assert_eq!(l.len(), 2);
    assert_eq!(l[0].0, Outcome::Cancelled);
    assert_eq!(
        l[1],
        (Outcome::Done(7 as *mut c_void), Some("w".to_owned()))
    );
    drop(rt_blocker);
}

#[test]
fn batches_are_all_or_nothing_and_in_order() {
    let ex = Executor::start(Config {
        queue_capacity: 8,
        nonblocking: true,
        ..Config::default()
    })
    .unwrap();
    unsafe extern "C" fn ident(arg: *mut c_void) -> *mut c_void {
        arg
    }
    // SAFETY (test): `ident` only returns its argument.
    let job = |i: usize| unsafe { Job::new(ident, i as *mut c_void, None) };
    let mut futs = Vec::new();
    ex.submit_batch(8, job, true, |i, f| futs.push((i, f)))
        .unwrap();
    for (i, f) in &futs {
        assert_eq!(f.wait(-1).unwrap() as usize, *i);
    }
    assert_eq!(
        ex.submit_batch(9, job, false, |_, _| {}),
        Err(Error::InvalidArgument)
    );
    ex.submit_batch(0, job, false, |_, _| unreachable!())
        .unwrap();
    ex.shutdown(ShutdownMode::Drain).unwrap();
    assert_eq!(
        ex.submit_batch(2, job, false, |_, _| {}),
        Err(Error::Shutdown)
    );
}

/// Synchronous calls take a fast path (the mailbox) only when nothing is
/// queued; mixed with submits from the same thread they still run in order.
#[test]
fn calls_and_submits_from_one_thread_stay_in_order() {
    let _w = watchdog("calls_and_submits_from_one_thread_stay_in_order", 60);
    let rt = Arc::new(Runtime::new().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let (rt, seen) = (rt.clone(), seen.clone());
            thread::spawn(move || {
                for i in 0..3000 {
                    let seen = seen.clone();
                    let push = move || seen.lock().unwrap().push((t, i));
                    if i % 3 == 0 {
                        rt.call(push).unwrap();
                    } else {
                        rt.spawn(push).unwrap();
                    }
                }
                rt.call(|| ()).unwrap();
            })
        })
        .collect();
    threads.into_iter().for_each(|t| t.join().unwrap());
    assert_each_thread_in_order(&seen.lock().unwrap(), 4, 3000);
}

/// A call waiting behind a running job counts as submitted and queued; once
/// the worker runs it, it is counted once (submitted, not queued).
#[test]
fn a_waiting_call_counts_as_queued_and_once_while_it_runs() {
    let _w = watchdog("a_waiting_call_counts_as_queued_and_once_while_it_runs", 60);
    let rt = Arc::new(Runtime::new().unwrap());
    let (blocked, _started, release) = blocker(&rt);
    let inside = Arc::new(Barrier::new(2));
    let leave = Arc::new(Barrier::new(2));
    let caller = {
        let (rt, inside, leave) = (rt.clone(), inside.clone(), leave.clone());
        thread::spawn(move || {
            rt.call(move || {
                inside.wait();
                leave.wait();
                7
            })
        })
    };
    let wait_for = |want: (u64, u64)| loop {
        let s = rt.stats().unwrap();
        if (s.submitted, s.queue_len) == want {
            return s;
        }
        assert!(s.submitted <= want.0, "{s:?}");
        thread::sleep(Duration::from_millis(1));
    };
    let s = wait_for((2, 1));
    assert_eq!((s.completed, s.cancelled), (0, 0));
    assert!(s.queue_high_water >= 1);
    release.wait();
    blocked.wait().unwrap();
    inside.wait();
    let s = rt.stats().unwrap();
    assert_eq!((s.submitted, s.queue_len, s.completed), (2, 0, 1), "{s:?}");
    leave.wait();
    assert_eq!(caller.join().unwrap().unwrap(), 7);
    let s = rt.stats().unwrap();
    assert_eq!((s.submitted, s.queue_len, s.completed), (2, 0, 2), "{s:?}");
}

/// Calls from several threads while the worker is busy (spread over the
/// runtime's mailboxes and the queue) are all counted as queued, and each
/// caller gets its own result.
#[test]
fn calls_from_many_threads_behind_a_busy_worker() {
    let _w = watchdog("calls_from_many_threads_behind_a_busy_worker", 60);
    let rt = Arc::new(Runtime::new().unwrap());
    let (blocked, _started, release) = blocker(&rt);
    let callers: Vec<_> = (0..6usize)
        .map(|i| {
            let rt = rt.clone();
            thread::spawn(move || rt.call(move || i * 10))
        })
        .collect();
    loop {
        let s = rt.stats().unwrap();
        assert!(s.submitted <= 7, "{s:?}");
        if (s.submitted, s.queue_len) == (7, 6) {
            break;
        }
        thread::sleep(Duration::from_millis(1));
    }
    release.wait();
    blocked.wait().unwrap();
    for (i, c) in callers.into_iter().enumerate() {
        assert_eq!(c.join().unwrap().unwrap(), i * 10);
    }
    let s = rt.stats().unwrap();
    assert_eq!((s.submitted, s.queue_len, s.completed), (7, 0, 7), "{s:?}");
}
