//! Helpers shared by the reliability tests (tests/stress.rs, tests/reliability_*.rs).
//! Everything goes through the C ABI (`qthr::ffi`), as a C host would.
#![allow(dead_code)]

pub use qthr::ffi::qthr_status::{self, *};
pub use qthr::ffi::*;
use std::ffi::c_void;
use std::ptr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Scales iteration counts: QTHR_STRESS_SCALE=0.05 runs 5% of the work (used
/// under sanitizers and valgrind, which are 5-50x slower). Never below 1.
pub fn scaled(n: usize) -> usize {
    let s: f64 = std::env::var("QTHR_STRESS_SCALE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1.0);
    ((n as f64 * s) as usize).max(1)
}

/// Seconds a test may take before its watchdog aborts the process (so CI fails
/// instead of hanging). QTHR_WATCHDOG_SCALE multiplies it for slow tools.
pub fn watchdog(name: &'static str, secs: u64) -> Watchdog {
    let scale: f64 = std::env::var("QTHR_WATCHDOG_SCALE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1.0);
    let limit = Duration::from_secs_f64(secs as f64 * scale);
    let done = Arc::new(AtomicBool::new(false));
    let d2 = done.clone();
    std::thread::Builder::new()
        .name("watchdog".into())
        .spawn(move || {
            let start = Instant::now();
            while !d2.load(Ordering::SeqCst) {
                if start.elapsed() > limit {
                    // Straight to fd 2: the test harness captures eprintln!
                    // (also in spawned threads) and the abort would lose it.
                    use std::io::Write;
                    let msg = format!(
                        "\nWATCHDOG: {name} still running after {limit:?}: hang, aborting\n"
                    );
                    let _ = std::io::stderr().write_all(msg.as_bytes());
                    std::process::abort();
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        })
        .unwrap();
    Watchdog(done)
}

pub struct Watchdog(Arc<AtomicBool>);
impl Drop for Watchdog {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// xorshift64*: deterministic per-thread randomness (seeded per test).
pub struct Rng(u64);
impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    pub fn chance(&mut self, one_in: u64) -> bool {
        self.below(one_in) == 0
    }
}

/// A runtime configuration with the defaults, then adjusted.
pub fn config(capacity: usize, nonblocking: bool) -> qthr_config {
    let mut c = std::mem::MaybeUninit::<qthr_config>::uninit();
    // SAFETY: qthr_config_init_sized writes every field.
    let mut c = unsafe {
        qthr_config_init_sized(c.as_mut_ptr(), std::mem::size_of::<qthr_config>());
        c.assume_init()
    };
    c.queue_capacity = capacity;
    c.nonblocking = nonblocking as i32;
    c
}

pub fn init(cfg: Option<&qthr_config>) -> Result<*mut qthr_runtime, qthr_status> {
    let mut rt = ptr::null_mut();
    // SAFETY: cfg is a valid config or NULL; rt is writable.
    let st = unsafe { qthr_init(cfg.map_or(ptr::null(), |c| c as *const _), &mut rt) };
    if st == QTHR_OK {
        assert!(!rt.is_null());
        Ok(rt)
    } else {
        assert!(rt.is_null(), "qthr_init wrote *out on failure");
        Err(st)
    }
}

pub fn stats(rt: *mut qthr_runtime) -> qthr_stats {
    let mut s = qthr_stats {
        size: std::mem::size_of::<qthr_stats>(),
        submitted: 0,
        completed: 0,
        cancelled: 0,
        queue_len: 0,
        queue_high_water: 0,
        expired: 0,
    };
    // SAFETY: live runtime, writable stats.
    let st = unsafe { qthr_get_stats(rt, &mut s) };
    assert_eq!(st, QTHR_OK);
    s
}

/// A raw pointer that may be moved to another thread (tests only).
#[derive(Debug, PartialEq, Eq)]
pub struct Sp<T>(pub *mut T);
impl<T> Clone for Sp<T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for Sp<T> {}
// SAFETY: the tests hand runtimes and futures to other threads on purpose:
// the C ABI allows every call from any thread.
unsafe impl<T> Send for Sp<T> {}
// SAFETY: as above.
unsafe impl<T> Sync for Sp<T> {}

pub const STATUSES: &[qthr_status] = &[
    QTHR_OK,
    QTHR_TIMEOUT,
    QTHR_CANCELLED,
    QTHR_SHUTDOWN,
    QTHR_QUEUE_FULL,
    QTHR_INVALID_ARGUMENT,
    QTHR_START_FAILED,
    QTHR_WOULD_DEADLOCK,
    QTHR_FORKED,
    QTHR_NOT_CANCELLABLE,
    QTHR_PANIC,
];

/// A job returning its argument.
pub unsafe extern "C" fn ident(arg: *mut c_void) -> *mut c_void {
    arg
}

/// CPU time of the calling thread.
pub fn thread_cpu() -> Duration {
    let mut ru = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: writable rusage.
    let rc = unsafe { libc::getrusage(libc::RUSAGE_THREAD, ru.as_mut_ptr()) };
    assert_eq!(rc, 0);
    // SAFETY: initialised by getrusage.
    let ru = unsafe { ru.assume_init() };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(ru.ru_utime) + tv(ru.ru_stime)
}
