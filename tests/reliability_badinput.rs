//! Bad input everywhere, through the C ABI: every call with NULL for every
//! pointer, bad config sizes and values, absurd capacities and counts, use after
//! shutdown, double shutdown, shutdown from the worker, futures outliving their
//! runtime, and a fork child. Each must give its documented status: never a
//! crash, never a hang (calls that could crash run in a forked child).
//! This file is the authoritative check of the README's "Bad input: call -> status"
//! table: every row is checked here (tests/c/test_badinput.c adds what needs a C compiler).

mod common;
use common::*;

use std::ffi::{c_char, c_int, c_void, CStr};
use std::ptr;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::time::{Duration, Instant};

/// Tests that fork take this exclusively, every other test shares it: a fork
/// while another test's threads are inside malloc or a parking-lot bucket lock
/// would leave that lock held in the child (a hazard of fork() in any
/// multithreaded program, not of qthr). `fork_during_load` forks under load on
/// purpose, but its child only touches inherited runtimes.
static FORK_LOCK: std::sync::RwLock<()> = std::sync::RwLock::new(());
fn shared_lock() -> std::sync::RwLockReadGuard<'static, ()> {
    FORK_LOCK.read().unwrap_or_else(|e| e.into_inner())
}
fn fork_lock() -> std::sync::RwLockWriteGuard<'static, ()> {
    FORK_LOCK.write().unwrap_or_else(|e| e.into_inner())
}

/// Held by the tests that set the process-wide log callback, so that one's
/// "off" cannot land between another's set and the record it waits for.
static LOG_LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
fn log_lock() -> std::sync::MutexGuard<'static, ()> {
    LOG_LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

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

unsafe extern "C" fn sleep_ms(arg: *mut c_void) -> *mut c_void {
    std::thread::sleep(Duration::from_millis(arg as u64));
    arg
}

static STARTED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Sets STARTED, then sleeps `arg` ms.
unsafe extern "C" fn mark_then_sleep_ms(arg: *mut c_void) -> *mut c_void {
    STARTED.store(true, SeqCst);
    std::thread::sleep(Duration::from_millis(arg as u64));
    arg
}

unsafe extern "C" fn count_then(ctx: *mut c_void, _st: qthr_status, _r: *mut c_void) {
    // SAFETY (test): ctx is a live AtomicUsize.
    unsafe { &*(ctx as *const AtomicUsize) }.fetch_add(1, SeqCst);
}

unsafe extern "C" fn count_stop(ctx: *mut c_void) {
    // SAFETY (test): ctx is a live AtomicUsize.
    unsafe { &*(ctx as *const AtomicUsize) }.fetch_add(1, SeqCst);
}
unsafe extern "C" fn fail_start(_ctx: *mut c_void) -> c_int {
    -1
}

const BOGUS_RT: *mut qthr_runtime = 0x1 as *mut qthr_runtime;

#[test]
fn null_pointers_everywhere() {
    let _fork_guard = shared_lock();
    let _d = watchdog("null_pointers_everywhere", 60);
    // SAFETY: every call below is given NULL (or valid) pointers only.
    unsafe {
        qthr_config_init(ptr::null_mut()); // no-op
        assert_eq!(
            qthr_init(ptr::null(), ptr::null_mut()),
            QTHR_INVALID_ARGUMENT
        );
        let c = config(16, false);
        assert_eq!(qthr_init(&c, ptr::null_mut()), QTHR_INVALID_ARGUMENT);

        let mut f: *mut qthr_future = BOGUS_RT as *mut qthr_future;
        assert_eq!(
            qthr_submit(ptr::null_mut(), Some(ident), ptr::null_mut(), &mut f),
            QTHR_INVALID_ARGUMENT
        );
        assert_eq!(f, BOGUS_RT as *mut qthr_future, "out untouched on failure");
        let fns = [Some(
            ident as unsafe extern "C" fn(*mut c_void) -> *mut c_void,
        )];
        assert_eq!(
            qthr_submit_batch(
                ptr::null_mut(),
                1,
                fns.as_ptr(),
                ptr::null(),
                ptr::null_mut()
            ),
            QTHR_INVALID_ARGUMENT
        );
        assert_eq!(
            qthr_wait(ptr::null_mut(), 0, ptr::null_mut()),
            QTHR_INVALID_ARGUMENT
        );
        assert_eq!(
            qthr_wait(ptr::null_mut(), -1, ptr::null_mut()),
            QTHR_INVALID_ARGUMENT
        );
        assert_eq!(qthr_cancel(ptr::null_mut()), QTHR_INVALID_ARGUMENT);
        assert_eq!(
            qthr_future_then(ptr::null_mut(), Some(count_then), ptr::null_mut()),
            QTHR_INVALID_ARGUMENT
        );
        qthr_future_free(ptr::null_mut()); // no-op
        assert_eq!(
            qthr_call(
                ptr::null_mut(),
                Some(ident),
                ptr::null_mut(),
                ptr::null_mut()
            ),
            QTHR_INVALID_ARGUMENT
        );
        assert_eq!(qthr_on_worker(ptr::null()), 0);
        assert_eq!(
            qthr_shutdown(ptr::null_mut(), QTHR_DRAIN),
            QTHR_INVALID_ARGUMENT
        );
        qthr_free(ptr::null_mut()); // no-op
        let mut s = std::mem::zeroed::<qthr_stats>();
        s.size = std::mem::size_of::<qthr_stats>();
        assert_eq!(qthr_get_stats(ptr::null(), &mut s), QTHR_INVALID_ARGUMENT);
        let log_guard = log_lock();
        qthr_set_log_callback(5, None, ptr::null_mut()); // off
        drop(log_guard);

        // A live runtime, NULL everything else.
        let rt = init(None).unwrap();
        assert_eq!(
            qthr_submit(rt, None, ptr::null_mut(), ptr::null_mut()),
            QTHR_INVALID_ARGUMENT
        );
        let mut f = ptr::null_mut();
        assert_eq!(
            qthr_submit(rt, None, ptr::null_mut(), &mut f),
            QTHR_INVALID_ARGUMENT
        );
        assert!(f.is_null());
        assert_eq!(
            qthr_call(rt, None, ptr::null_mut(), ptr::null_mut()),
            QTHR_INVALID_ARGUMENT
        );
        assert_eq!(qthr_get_stats(rt, ptr::null_mut()), QTHR_INVALID_ARGUMENT);
        // Batches: n == 0 is a no-op (even with NULL arrays); NULL fns; a NULL
        // entry rejects the whole batch and queues nothing.
        assert_eq!(
            qthr_submit_batch(rt, 0, ptr::null(), ptr::null(), ptr::null_mut()),
            QTHR_OK
        );
        assert_eq!(
            qthr_submit_batch(rt, 3, ptr::null(), ptr::null(), ptr::null_mut()),
            QTHR_INVALID_ARGUMENT
        );
        let before = stats(rt).submitted;
        let fns3: [qthr_fn; 3] = [Some(ident), None, Some(ident)];
        let mut outs = [BOGUS_RT as *mut qthr_future; 3];
        assert_eq!(
            qthr_submit_batch(rt, 3, fns3.as_ptr(), ptr::null(), outs.as_mut_ptr()),
            QTHR_INVALID_ARGUMENT
        );
        assert!(
            outs.iter().all(|&o| o == BOGUS_RT as *mut qthr_future),
            "outs untouched"
        );
        assert_eq!(stats(rt).submitted, before, "nothing queued");
        // args NULL means every arg is NULL; result NULL is allowed.
        let fns2: [qthr_fn; 2] = [Some(ident), Some(ident)];
        let mut outs = [ptr::null_mut(); 2];
        assert_eq!(
            qthr_submit_batch(rt, 2, fns2.as_ptr(), ptr::null(), outs.as_mut_ptr()),
            QTHR_OK
        );
        for o in outs {
            let mut r = BOGUS_RT as *mut c_void;
            assert_eq!(qthr_wait(o, -1, &mut r), QTHR_OK);
            assert!(r.is_null());
            assert_eq!(qthr_wait(o, -1, ptr::null_mut()), QTHR_OK);
            assert_eq!(
                qthr_future_then(o, None, ptr::null_mut()),
                QTHR_INVALID_ARGUMENT
            );
            qthr_future_free(o);
        }
        assert_eq!(
            qthr_call(rt, Some(ident), 7 as *mut c_void, ptr::null_mut()),
            QTHR_OK
        );
        qthr_free(rt);
    }
}

#[test]
fn bad_configs() {
    let _fork_guard = shared_lock();
    let _d = watchdog("bad_configs", 60);

    let sz = std::mem::size_of::<qthr_config>();
    type Case = (&'static str, Box<dyn Fn(&mut qthr_config)>, qthr_status);
    let cases: Vec<Case> = vec![
        ("size 0", Box::new(|c| c.size = 0), QTHR_INVALID_ARGUMENT),
        (
            "size too small",
            Box::new(move |c| c.size = sz - 1),
            QTHR_INVALID_ARGUMENT,
        ),
        ("size 8", Box::new(|c| c.size = 8), QTHR_INVALID_ARGUMENT),
        (
            "size too large",
            Box::new(move |c| c.size = sz + 8),
            QTHR_INVALID_ARGUMENT,
        ),
        (
            "size SIZE_MAX",
            Box::new(|c| c.size = usize::MAX),
            QTHR_INVALID_ARGUMENT,
        ),
        (
            "capacity 0",
            Box::new(|c| c.queue_capacity = 0),
            QTHR_INVALID_ARGUMENT,
        ),
        (
            "capacity 2^24+1",
            Box::new(|c| c.queue_capacity = (1 << 24) + 1),
            QTHR_INVALID_ARGUMENT,
        ),
        (
            "capacity SIZE_MAX",
            Box::new(|c| c.queue_capacity = usize::MAX),
            QTHR_INVALID_ARGUMENT,
        ),
        ("capacity 1", Box::new(|c| c.queue_capacity = 1), QTHR_OK),
        (
            "nonblocking 2",
            Box::new(|c| c.nonblocking = 2),
            QTHR_INVALID_ARGUMENT,
        ),
        (
            "nonblocking -1",
            Box::new(|c| c.nonblocking = -1),
            QTHR_INVALID_ARGUMENT,
        ),
        (
            "nonblocking INT_MIN",
            Box::new(|c| c.nonblocking = i32::MIN),
            QTHR_INVALID_ARGUMENT,
        ),
        ("cpu -5", Box::new(|c| c.cpu = -5), QTHR_INVALID_ARGUMENT),
        ("cpu -2", Box::new(|c| c.cpu = -2), QTHR_INVALID_ARGUMENT),
        (
            "cpu INT_MIN",
            Box::new(|c| c.cpu = i32::MIN),
            QTHR_INVALID_ARGUMENT,
        ),
        (
            "cpu INT_MAX",
            Box::new(|c| c.cpu = i32::MAX),
            QTHR_INVALID_ARGUMENT,
        ),
        (
            "cpu 1023 (absent)",
            Box::new(|c| c.cpu = 1023),
            QTHR_START_FAILED,
        ),
        ("cpu 0", Box::new(|c| c.cpu = 0), QTHR_OK),
        ("cpu -1", Box::new(|c| c.cpu = -1), QTHR_OK),
        (
            "thread_name NULL",
            Box::new(|c| c.thread_name = ptr::null()),
            QTHR_OK,
        ),
        (
            "thread_name empty",
            Box::new(|c| c.thread_name = c"".as_ptr()),
            QTHR_OK,
        ),
        (
            "thread_name 300 bytes",
            Box::new(|c| c.thread_name = LONG_NAME.as_ptr() as *const c_char),
            QTHR_OK,
        ),
        (
            "thread_name invalid UTF-8",
            Box::new(|c| c.thread_name = c"\xff\xfeengine\xc3".as_ptr()),
            QTHR_OK,
        ),
        (
            "on_start fails",
            Box::new(|c| c.on_start = Some(fail_start)),
            QTHR_START_FAILED,
        ),
    ];
    for (name, tweak, want) in cases {
        let mut c = config(16, false);
        tweak(&mut c);
        let stops = &AtomicUsize::new(0);
        c.on_stop = Some(count_stop);
        c.hook_ctx = stops as *const AtomicUsize as *mut c_void;
        let got = init(Some(&c));
        match got {
            Ok(rt) => {
                assert_eq!(want, QTHR_OK, "{name}: expected {want:?}, got OK");
                let mut r = ptr::null_mut();
                // SAFETY: live runtime.
                unsafe {
                    assert_eq!(
                        qthr_call(rt, Some(ident), 5 as *mut c_void, &mut r),
                        QTHR_OK,
                        "{name}"
                    );
                    qthr_free(rt);
                }
                assert_eq!(r as usize, 5);
                assert_eq!(stops.load(SeqCst), 1, "{name}: on_stop once");
            }
            Err(st) => {
                assert_eq!(st, want, "{name}");
                assert_eq!(
                    stops.load(SeqCst),
                    0,
                    "{name}: on_stop must not run after a failed start"
                );
            }
        }
    }
}

static LONG_NAME: [u8; 301] = {
    let mut a = [b'x'; 301];
    a[300] = 0;
    a
};

#[test]
fn the_largest_queue_capacity_works() {
    let _fork_guard = shared_lock();
    if std::env::var_os("QTHR_SKIP_HUGE").is_some() {
        return; // valgrind / sanitizers: a 2^24-slot ring is too slow to set up there
    }
    let c = config(1 << 24, true);
    let rt = init(Some(&c)).expect("capacity 2^24 is valid");
    // SAFETY: live runtime.
    unsafe {
        assert_eq!(
            qthr_call(rt, Some(ident), ptr::null_mut(), ptr::null_mut()),
            QTHR_OK
        );
        qthr_free(rt);
    }
}

#[test]
fn bad_counts_and_modes() {
    let _fork_guard = shared_lock();
    let _d = watchdog("bad_counts_and_modes", 60);
    let c = config(4, true);
    let rt = init(Some(&c)).unwrap();
    // SAFETY: live runtime; arrays as long as n says.
    unsafe {
        let fns: [qthr_fn; 5] = [Some(ident); 5];
        assert_eq!(
            qthr_submit_batch(rt, 5, fns.as_ptr(), ptr::null(), ptr::null_mut()),
            QTHR_INVALID_ARGUMENT,
            "n > capacity"
        );
        assert_eq!(stats(rt).submitted, 0);
        for mode in [2u32, 3, 0x8000_0000, u32::MAX] {
            assert_eq!(
                qthr_shutdown(rt, mode),
                QTHR_INVALID_ARGUMENT,
                "mode {mode}"
            );
        }
        // Still running after the rejected shutdowns.
        assert_eq!(
            qthr_call(rt, Some(ident), ptr::null_mut(), ptr::null_mut()),
            QTHR_OK
        );
        let mut s = std::mem::zeroed::<qthr_stats>();
        for size in [
            0,
            8,
            std::mem::size_of::<qthr_stats>() - 1,
            std::mem::size_of::<qthr_stats>() + 8,
            usize::MAX,
        ] {
            s.size = size;
            assert_eq!(
                qthr_get_stats(rt, &mut s),
                QTHR_INVALID_ARGUMENT,
                "stats size {size}"
            );
        }
        // Timeouts: absurd values saturate, negative ones wait forever.
        let mut f = ptr::null_mut();
        assert_eq!(
            qthr_submit(rt, Some(sleep_ms), 30 as *mut c_void, &mut f),
            QTHR_OK
        );
        assert_eq!(qthr_wait(f, 1, ptr::null_mut()), QTHR_TIMEOUT);
        assert_eq!(qthr_wait(f, i64::MIN, ptr::null_mut()), QTHR_OK);
        assert_eq!(qthr_wait(f, i64::MAX, ptr::null_mut()), QTHR_OK);
        qthr_future_free(f);
        assert_eq!(
            qthr_submit(rt, Some(sleep_ms), 20 as *mut c_void, &mut f),
            QTHR_OK
        );
        assert_eq!(
            qthr_wait(f, i64::MAX, ptr::null_mut()),
            QTHR_OK,
            "i64::MAX ns must not overflow"
        );
        qthr_future_free(f);
        qthr_free(rt);
    }
}

/// qthr_submit_batch(n) on a capacity-4 runtime with one-entry arrays placed
/// right before an inaccessible page. Ok(0) if rejected as INVALID_ARGUMENT.
fn batch_with_guard_page(n: usize) -> Result<i32, String> {
    let c = config(4, false);
    let rt = init(Some(&c)).unwrap();
    // One-entry arrays at the very end of a page followed by an
    // inaccessible page: reading a second entry faults at once.
    // SAFETY: plain mmap/mprotect of fresh anonymous memory.
    let (fns, args) = unsafe {
        let pg = 4096usize;
        let m = libc::mmap(
            ptr::null_mut(),
            3 * pg,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        ) as *mut u8;
        assert!(m as isize != -1);
        assert_eq!(
            libc::mprotect(m.add(pg) as *mut c_void, pg, libc::PROT_NONE),
            0
        );
        let fns = m.add(pg - 8) as *mut qthr_fn;
        fns.write(Some(ident));
        let args = m.add(3 * pg - 8) as *mut *mut c_void;
        args.write(ptr::null_mut());
        (fns as *const qthr_fn, args as *const *mut c_void)
    };
    // SAFETY: deliberately lying about n: the library must reject it
    // (n > capacity) without reading past the arrays.
    let st = unsafe { qthr_submit_batch(rt, n, fns, args, ptr::null_mut()) };
    // SAFETY: live runtime.
    unsafe { qthr_free(rt) };
    // SAFETY: the mapping made above, no longer used.
    unsafe { libc::munmap((fns as *mut u8).sub(4096 - 8) as *mut c_void, 3 * 4096) };
    if st == QTHR_INVALID_ARGUMENT {
        Ok(0)
    } else {
        Ok(10 + st as i32)
    }
}

/// Counts beyond the capacity that no array can back: the count must be checked
/// against the capacity before the arrays are read (else it reads out of bounds
/// and faults on the guard page: the test process crashes, which fails it).
#[test]
fn absurd_batch_counts_do_not_crash() {
    let _fork_guard = shared_lock();
    let _d = watchdog("absurd_batch_counts_do_not_crash", 60);
    for n in [usize::MAX, usize::MAX / 8 + 1, 1 << 40, 5] {
        let r = batch_with_guard_page(n);
        assert_eq!(
            r,
            Ok(0),
            "qthr_submit_batch(n = {n:#x}) with a 1-entry array"
        );
    }
}

#[test]
fn status_strings_and_version() {
    let _fork_guard = shared_lock();
    let mut seen = std::collections::HashSet::new();
    for &st in STATUSES {
        let p = qthr_status_str(st as u32);
        assert!(!p.is_null());
        // SAFETY: static NUL-terminated string.
        let s = unsafe { CStr::from_ptr(p) }.to_str().unwrap().to_owned();
        assert!(!s.is_empty());
        assert!(seen.insert(s), "{st:?}: duplicate description");
    }
    for bogus in [11u32, 99, 0x8000_0000, u32::MAX] {
        let p = qthr_status_str(bogus);
        assert!(!p.is_null());
        // SAFETY: static NUL-terminated string.
        assert!(!unsafe { CStr::from_ptr(p) }.to_bytes().is_empty());
    }
    let v = qthr_version();
    assert_eq!(v >> 16, QTHR_VERSION_MAJOR);
    assert_eq!((v >> 8) & 0xff, QTHR_VERSION_MINOR);
    assert_eq!(v & 0xff, QTHR_VERSION_PATCH);
}

unsafe extern "C" fn log_count(ctx: *mut c_void, _level: qthr_log_level, msg: *const c_char) {
    assert!(!msg.is_null());
    // SAFETY: valid during the call.
    let _ = unsafe { CStr::from_ptr(msg) }.to_bytes().len();
    // SAFETY (test): ctx is a live AtomicUsize.
    unsafe { &*(ctx as *const AtomicUsize) }.fetch_add(1, SeqCst);
}

#[test]
fn log_callback_levels_out_of_range() {
    let _fork_guard = shared_lock();
    let _log_guard = log_lock();
    static N: AtomicUsize = AtomicUsize::new(0);
    let ctx = &N as *const AtomicUsize as *mut c_void;
    // SAFETY: a valid callback and context; levels out of range are clamped.
    unsafe {
        for lvl in [0u32, 1, 5, 6, 99, u32::MAX] {
            qthr_set_log_callback(lvl, Some(log_count), ctx);
        }
        qthr_set_log_callback(99, Some(log_count), ctx);
        let rt = init(None).unwrap(); // logs "worker started" at INFO
        qthr_free(rt);
        qthr_set_log_callback(0, None, ptr::null_mut());
    }
    assert!(
        N.load(SeqCst) > 0,
        "no log record arrived at the most verbose level"
    );
}

#[test]
fn use_after_shutdown_and_double_shutdown() {
    let _fork_guard = shared_lock();
    let _d = watchdog("use_after_shutdown_and_double_shutdown", 60);
    for (first, second) in [
        (QTHR_DRAIN, QTHR_DRAIN),
        (QTHR_DRAIN, QTHR_CANCEL),
        (QTHR_CANCEL, QTHR_DRAIN),
        (QTHR_CANCEL, QTHR_CANCEL),
    ] {
        let stops = &AtomicUsize::new(0);
        let mut c = config(8, false);
        c.on_stop = Some(count_stop);
        c.hook_ctx = stops as *const AtomicUsize as *mut c_void;
        let rt = init(Some(&c)).unwrap();
        // SAFETY: live runtime until qthr_free; futures freed once.
        unsafe {
            let mut done = ptr::null_mut();
            assert_eq!(
                qthr_submit(rt, Some(ident), 9 as *mut c_void, &mut done),
                QTHR_OK
            );
            assert_eq!(qthr_wait(done, -1, ptr::null_mut()), QTHR_OK);
            assert_eq!(qthr_shutdown(rt, first), QTHR_OK);
            assert_eq!(qthr_shutdown(rt, second), QTHR_OK);
            assert_eq!(qthr_shutdown(rt, first), QTHR_OK);
            assert_eq!(stops.load(SeqCst), 1);
            let mut f = BOGUS_RT as *mut qthr_future;
            assert_eq!(
                qthr_submit(rt, Some(ident), ptr::null_mut(), &mut f),
                QTHR_SHUTDOWN
            );
            assert_eq!(f, BOGUS_RT as *mut qthr_future);
            assert_eq!(
                qthr_submit(rt, Some(ident), ptr::null_mut(), ptr::null_mut()),
                QTHR_SHUTDOWN
            );
            let fns: [qthr_fn; 2] = [Some(ident); 2];
            assert_eq!(
                qthr_submit_batch(rt, 2, fns.as_ptr(), ptr::null(), ptr::null_mut()),
                QTHR_SHUTDOWN
            );
            assert_eq!(
                qthr_call(rt, Some(ident), ptr::null_mut(), ptr::null_mut()),
                QTHR_SHUTDOWN
            );
            // Bad arguments still win over the shutdown state.
            assert_eq!(
                qthr_submit(rt, None, ptr::null_mut(), ptr::null_mut()),
                QTHR_INVALID_ARGUMENT
            );
            assert_eq!(qthr_on_worker(rt), 0);
            let s = stats(rt);
            assert_eq!((s.submitted, s.completed, s.queue_len), (1, 1, 0));
            // The resolved future keeps working.
            let mut r = ptr::null_mut();
            assert_eq!(qthr_wait(done, -1, &mut r), QTHR_OK);
            assert_eq!(r as usize, 9);
            assert_eq!(qthr_cancel(done), QTHR_NOT_CANCELLABLE);
            let n = AtomicUsize::new(0);
            assert_eq!(
                qthr_future_then(done, Some(count_then), &n as *const _ as *mut c_void),
                QTHR_OK
            );
            assert_eq!(n.load(SeqCst), 1, "then on a resolved future runs at once");
            qthr_free(rt);
            assert_eq!(stops.load(SeqCst), 1, "on_stop once, also across free");
            // ... and after its runtime is freed.
            assert_eq!(qthr_wait(done, 0, &mut r), QTHR_OK);
            assert_eq!(qthr_cancel(done), QTHR_NOT_CANCELLABLE);
            assert_eq!(
                qthr_future_then(done, Some(count_then), &n as *const _ as *mut c_void),
                QTHR_OK
            );
            assert_eq!(n.load(SeqCst), 2);
            qthr_future_free(done);
        }
    }
}

unsafe extern "C" fn shutdown_own(arg: *mut c_void) -> *mut c_void {
    let rt = arg as *mut qthr_runtime;
    // SAFETY: the runtime is alive while its job runs.
    let st = unsafe {
        [
            qthr_shutdown(rt, QTHR_DRAIN),
            qthr_shutdown(rt, QTHR_CANCEL),
        ]
    };
    (st[0] as usize * 100 + st[1] as usize) as *mut c_void
}

#[test]
fn shutdown_from_the_worker_would_deadlock() {
    let _fork_guard = shared_lock();
    let rt = init(None).unwrap();
    let mut r = ptr::null_mut();
    // SAFETY: live runtime.
    unsafe {
        assert_eq!(
            qthr_call(rt, Some(shutdown_own), rt as *mut c_void, &mut r),
            QTHR_OK
        );
        let w = QTHR_WOULD_DEADLOCK as usize;
        assert_eq!(r as usize, w * 100 + w);
        // Still running.
        assert_eq!(
            qthr_call(rt, Some(ident), ptr::null_mut(), ptr::null_mut()),
            QTHR_OK
        );
        qthr_free(rt);
    }
}

/// Futures outlive their runtime: waited, cancelled, continued, freed after
/// qthr_free, in both shutdown modes.
#[test]
fn futures_outlive_their_runtime() {
    let _fork_guard = shared_lock();
    let _d = watchdog("futures_outlive_their_runtime", 60);
    for mode in [QTHR_DRAIN, QTHR_CANCEL] {
        let rt = init(Some(&config(64, false))).unwrap();
        let mut futs = Vec::new();
        // SAFETY: live runtime until freed; futures freed once, afterwards.
        unsafe {
            let mut blocker = ptr::null_mut();
            STARTED.store(false, SeqCst);
            assert_eq!(
                qthr_submit(
                    rt,
                    Some(mark_then_sleep_ms),
                    30 as *mut c_void,
                    &mut blocker
                ),
                QTHR_OK
            );
            while !STARTED.load(SeqCst) {
                std::thread::yield_now();
            }
            for i in 0..32usize {
                let mut f = ptr::null_mut();
                assert_eq!(
                    qthr_submit(rt, Some(ident), i as *mut c_void, &mut f),
                    QTHR_OK
                );
                futs.push(f);
            }
            assert_eq!(qthr_shutdown(rt, mode), QTHR_OK);
            qthr_free(rt);
            assert_eq!(
                qthr_wait(blocker, 0, ptr::null_mut()),
                QTHR_OK,
                "a running job always finishes"
            );
            qthr_future_free(blocker);
            for (i, &f) in futs.iter().enumerate() {
                let mut r = ptr::null_mut();
                let st = qthr_wait(f, 0, &mut r);
                match mode {
                    QTHR_DRAIN => assert_eq!((st, r as usize), (QTHR_OK, i)),
                    _ => assert_eq!(st, QTHR_CANCELLED),
                }
                assert_eq!(qthr_wait(f, -1, ptr::null_mut()), st);
                qthr_future_free(f);
            }
        }
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
