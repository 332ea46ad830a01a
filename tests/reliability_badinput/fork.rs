//! fork(): what a child may do with the runtimes and futures it inherits, forks
//! under load, and forks while parent threads exit.

use crate::common::*;
use crate::support::{count_then, fork_lock, sleep_ms, BOGUS_RT};

use std::ffi::c_void;
use std::ptr;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::time::{Duration, Instant};

/// Runs `f` in a forked child with a deadline. Returns the child's exit code,
/// or Err(description) if it crashed or hung.
fn in_child(secs: u64, f: impl FnOnce() -> i32) -> Result<i32, String> {
    // SAFETY: the child only runs `f` and _exit()s; it never returns into the
    // test harness.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        let code = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).unwrap_or(101);
        // SAFETY: leaving the child without running the parent's atexit/TLS.
        unsafe { libc::_exit(code) };
    }
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let mut status = 0;
        // SAFETY: our own child.
        let r = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
        if r == pid {
            if libc::WIFEXITED(status) {
                return Ok(libc::WEXITSTATUS(status));
            }
            return Err(format!("child killed by signal {}", libc::WTERMSIG(status)));
        }
        if Instant::now() > deadline {
            // SAFETY: our own child.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
                libc::waitpid(pid, &mut status, 0);
            }
            return Err(format!("child hung for {secs} s"));
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// After fork(), in the child: every call on a runtime made before the fork
/// returns QTHR_FORKED at once (or the resolved result), qthr_free only
/// releases memory, a new runtime works; the parent is unaffected.
#[test]
fn fork_child_gets_forked() {
    let _fork_guard = fork_lock();
    let _d = watchdog("fork_child_gets_forked", 120);
    let rt = Sp(init(Some(&config(64, false))).unwrap());
    let (mut done, mut pending, mut queued) = (ptr::null_mut(), ptr::null_mut(), ptr::null_mut());
    // SAFETY: live runtime; futures used by one thread at a time.
    unsafe {
        assert_eq!(
            qthr_submit(rt.0, Some(ident), 3 as *mut c_void, &mut done),
            QTHR_OK
        );
        assert_eq!(qthr_wait(done, -1, ptr::null_mut()), QTHR_OK);
        assert_eq!(
            qthr_submit(rt.0, Some(sleep_ms), 300 as *mut c_void, &mut pending),
            QTHR_OK
        );
        assert_eq!(
            qthr_submit(rt.0, Some(ident), 4 as *mut c_void, &mut queued),
            QTHR_OK
        );
    }
    let (done, pending, queued) = (Sp(done), Sp(pending), Sp(queued));
    std::thread::sleep(Duration::from_millis(20)); // the sleeper is running
    let r = in_child(20, move || {
        let mut fails = 0;
        let mut expect = |what: &str, got: qthr_status, want: qthr_status| {
            if got != want {
                eprintln!("fork child: {what}: got {got:?}, want {want:?}");
                fails += 1;
            }
        };
        // SAFETY: the runtime and futures were made before the fork.
        unsafe {
            let rt = rt.0;
            let mut f = BOGUS_RT as *mut qthr_future;
            expect(
                "submit",
                qthr_submit(rt, Some(ident), ptr::null_mut(), &mut f),
                QTHR_FORKED,
            );
            expect(
                "submit untouched out",
                if f == BOGUS_RT as *mut _ {
                    QTHR_OK
                } else {
                    QTHR_PANIC
                },
                QTHR_OK,
            );
            expect(
                "fire and forget",
                qthr_submit(rt, Some(ident), ptr::null_mut(), ptr::null_mut()),
                QTHR_FORKED,
            );
            let fns: [qthr_fn; 1] = [Some(ident)];
            expect(
                "batch",
                qthr_submit_batch(rt, 1, fns.as_ptr(), ptr::null(), ptr::null_mut()),
                QTHR_FORKED,
            );
            expect(
                "call",
                qthr_call(rt, Some(ident), ptr::null_mut(), ptr::null_mut()),
                QTHR_FORKED,
            );
            expect("shutdown", qthr_shutdown(rt, QTHR_DRAIN), QTHR_FORKED);
            expect(
                "shutdown cancel",
                qthr_shutdown(rt, QTHR_CANCEL),
                QTHR_FORKED,
            );
            let mut s = std::mem::zeroed::<qthr_stats>();
            s.size = std::mem::size_of::<qthr_stats>();
            expect("stats", qthr_get_stats(rt, &mut s), QTHR_FORKED);
            expect(
                "on_worker",
                if qthr_on_worker(rt) == 0 {
                    QTHR_OK
                } else {
                    QTHR_PANIC
                },
                QTHR_OK,
            );
            let t = Instant::now();
            expect(
                "wait pending",
                qthr_wait(pending.0, -1, ptr::null_mut()),
                QTHR_FORKED,
            );
            expect(
                "wait queued",
                qthr_wait(queued.0, 1_000_000_000, ptr::null_mut()),
                QTHR_FORKED,
            );
            expect("cancel queued", qthr_cancel(queued.0), QTHR_FORKED);
            let n = AtomicUsize::new(0);
            expect(
                "then queued",
                qthr_future_then(queued.0, Some(count_then), &n as *const _ as *mut c_void),
                QTHR_FORKED,
            );
            expect(
                "... at once",
                if t.elapsed() < Duration::from_millis(500) {
                    QTHR_OK
                } else {
                    QTHR_TIMEOUT
                },
                QTHR_OK,
            );
            let mut r = ptr::null_mut();
            expect("wait resolved", qthr_wait(done.0, -1, &mut r), QTHR_OK);
            expect(
                "resolved result",
                if r as usize == 3 { QTHR_OK } else { QTHR_PANIC },
                QTHR_OK,
            );
            expect(
                "then resolved",
                qthr_future_then(done.0, Some(count_then), &n as *const _ as *mut c_void),
                QTHR_OK,
            );
            expect(
                "then ran",
                if n.load(SeqCst) == 1 {
                    QTHR_OK
                } else {
                    QTHR_PANIC
                },
                QTHR_OK,
            );
            qthr_future_free(pending.0);
            qthr_future_free(queued.0);
            qthr_future_free(done.0);
            qthr_free(rt); // only releases memory
                           // A new runtime in the child works.
            let rt2 = init(None).unwrap();
            let mut r = ptr::null_mut();
            expect(
                "new runtime",
                qthr_call(rt2, Some(ident), 8 as *mut c_void, &mut r),
                QTHR_OK,
            );
            expect(
                "new runtime result",
                if r as usize == 8 { QTHR_OK } else { QTHR_PANIC },
                QTHR_OK,
            );
            qthr_free(rt2);
        }
        fails
    });
    assert_eq!(r, Ok(0), "fork child");
    // The parent is unaffected.
    // SAFETY: live runtime and futures.
    unsafe {
        let mut r = ptr::null_mut();
        assert_eq!(qthr_wait(queued.0, -1, &mut r), QTHR_OK);
        assert_eq!(r as usize, 4);
        assert_eq!(qthr_wait(pending.0, -1, ptr::null_mut()), QTHR_OK);
        assert_eq!(
            qthr_call(rt.0, Some(ident), ptr::null_mut(), ptr::null_mut()),
            QTHR_OK
        );
        qthr_future_free(pending.0);
        qthr_future_free(queued.0);
        qthr_future_free(done.0);
        qthr_free(rt.0);
    }
}

/// fork() while other threads submit, wait and shut down: the child's calls
/// must all return at once (no lock or half-pushed job inherited from a parent
/// thread may hang it), many times over.
#[test]
fn fork_during_load_never_hangs_the_child() {
    let _fork_guard = fork_lock();
    let _d = watchdog("fork_during_load_never_hangs_the_child", 120);
    let forks = scaled(60).max(5);
    for round in 0..forks {
        let rt = Sp(init(Some(&config(16, false))).unwrap());
        let stop = std::sync::atomic::AtomicBool::new(false);
        let r = std::thread::scope(|s| {
            for t in 0..3 {
                let stop = &stop;
                s.spawn(move || {
                    let rt = rt;
                    let mut i = 0usize;
                    while !stop.load(SeqCst) {
                        let mut f = ptr::null_mut();
                        // SAFETY: live runtime until the scope ends.
                        unsafe {
                            if qthr_submit(rt.0, Some(ident), i as *mut c_void, &mut f) != QTHR_OK {
                                break;
                            }
                            if t == 0 {
                                qthr_wait(f, 50_000, ptr::null_mut());
                            }
                            qthr_future_free(f);
                        }
                        i += 1;
                    }
                });
            }
            std::thread::sleep(Duration::from_micros(200 + (round as u64 * 37) % 800));
            let r = in_child(
                std::env::var("QTHR_CHILD_SECS")
                    .ok()
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(10),
                move || {
                    // SAFETY: inherited runtime: every call fails fast or frees.
                    unsafe {
                        let st = qthr_submit(rt.0, Some(ident), ptr::null_mut(), ptr::null_mut());
                        let st2 = qthr_call(rt.0, Some(ident), ptr::null_mut(), ptr::null_mut());
                        qthr_free(rt.0);
                        (st != QTHR_FORKED) as i32 + (st2 != QTHR_FORKED) as i32 * 2
                    }
                },
            );
            stop.store(true, SeqCst);
            r
        });
        // SAFETY: all users joined.
        unsafe { qthr_free(rt.0) };
        assert_eq!(r, Ok(0), "fork round {round}");
    }
}

/// A fork() taken while another thread of the parent is ending: a `std::thread`
/// takes a lock of Rust's standard library as it exits (its table of stack
/// guards), and a child forked while a parent thread held it hung at the exit
/// of any `std::thread` of its own, its qthr worker included (seen: 2 children
/// in 20,000 forks of the C fork storm, both in std's `drop_handler`). qthr's
/// workers are not `std::thread`s, so the child's runtime starts, runs and
/// stops whatever the parent's threads were doing.
///
/// Not under the sanitizers: their runtimes take locks of their own as threads
/// start and end, and a child forked while a parent thread held one hangs in
/// the sanitizer (seen under both TSan and ASan), whatever qthr does.
#[cfg(not(qthr_sanitize))]
#[test]
fn fork_while_parent_threads_exit_never_hangs_the_child() {
    let _fork_guard = fork_lock();
    let _d = watchdog("fork_while_parent_threads_exit_never_hangs_the_child", 300);
    let forks = scaled(2000).max(20);
    let stop = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| {
                while !stop.load(SeqCst) {
                    // Threads that end at once: their exits take std's lock.
                    std::thread::spawn(|| {}).join().unwrap();
                }
            });
        }
        for round in 0..forks {
            let r = in_child(10, || {
                // SAFETY: a runtime of the child's own, used and freed here.
                unsafe {
                    let Ok(rt) = init(None) else { return 1 };
                    let mut out = ptr::null_mut();
                    let st = qthr_call(rt, Some(ident), 7 as *mut c_void, &mut out);
                    qthr_free(rt);
                    (st != QTHR_OK || out as usize != 7) as i32 * 2
                }
            });
            if r != Ok(0) {
                stop.store(true, SeqCst);
                panic!("fork round {round}: {r:?}");
            }
        }
        stop.store(true, SeqCst);
    });
}
