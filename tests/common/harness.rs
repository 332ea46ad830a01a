//! What every test needs whatever it tests: a watchdog, scaling, randomness.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A positive number from the environment, or `default`.
fn env_factor(name: &str, default: f64) -> f64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse::<f64>().ok())
        .filter(|v| *v > 0.0)
        .unwrap_or(default)
}

/// Scales iteration counts: QTHR_STRESS_SCALE=0.05 runs 5% of the work (used
/// under sanitizers and valgrind, which are 5-50x slower). Never below 1.
pub fn scaled(n: usize) -> usize {
    let s = env_factor("QTHR_STRESS_SCALE", 1.0);
    ((n as f64 * s) as usize).max(1)
}

/// Seconds a test may take before its watchdog aborts the process (so CI fails
/// instead of hanging). QTHR_WATCHDOG_SCALE multiplies it for slow tools.
pub fn watchdog(name: &'static str, secs: u64) -> Watchdog {
    let scale = env_factor("QTHR_WATCHDOG_SCALE", 1.0).max(1.0);
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

/// Disarms its watchdog when dropped (keep it alive for the whole test).
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

/// The calling thread's OS name (what `top`, gdb and `/proc` show), as the
/// worker's `thread_name` sets it. qthr's workers are not `std::thread`s (see
/// src/runtime/thread.rs), so `std::thread::current().name()` is `None` there.
pub fn os_thread_name() -> Option<String> {
    let mut buf = [0 as libc::c_char; 64];
    // SAFETY: a writable buffer of the given length, for the calling thread.
    let rc = unsafe { libc::pthread_getname_np(libc::pthread_self(), buf.as_mut_ptr(), buf.len()) };
    if rc != 0 {
        return None;
    }
    // SAFETY: pthread_getname_np wrote a NUL-terminated string into `buf`.
    let name = unsafe { std::ffi::CStr::from_ptr(buf.as_ptr()) };
    Some(name.to_string_lossy().into_owned())
}
