//! The kernel's wait-on-a-word primitive: the only way a qthr thread sleeps.
//!
//! Linux: `futex(FUTEX_WAIT|FUTEX_WAKE, PRIVATE)` on a 32-bit word. Elsewhere
//! (untested platforms) a wait is a short sleep and a wake a no-op: every
//! caller re-checks its condition in a loop, so that is slow but correct.

use std::sync::atomic::AtomicU32;
use std::time::Duration;

/// Sleeps while `*word == expected`, at most `timeout` (None: no limit). May
/// return early (a wake-up for someone else, a signal): callers loop.
#[cfg(target_os = "linux")]
pub(crate) fn wait(word: &AtomicU32, expected: u32, timeout: Option<Duration>) {
    let ts = timeout.map(|d| libc::timespec {
        tv_sec: d.as_secs().min(i32::MAX as u64) as libc::time_t,
        tv_nsec: d.subsec_nanos() as libc::c_long,
    });
    let tsp = ts
        .as_ref()
        .map_or(std::ptr::null(), |t| t as *const libc::timespec);
    // SAFETY: FUTEX_WAIT reads the aligned 32-bit word (an AtomicU32 we
    // borrow) and the optional relative timeout; it touches nothing else.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word as *const AtomicU32,
            libc::FUTEX_WAIT | libc::FUTEX_PRIVATE_FLAG,
            expected,
            tsp,
        );
    }
}

/// Wakes one thread sleeping in `wait` on `word`. Only the address is used:
/// a word that was freed meanwhile costs at most a spurious wake-up of a
/// thread that waits on the same address again (it re-checks and sleeps on).
#[cfg(target_os = "linux")]
pub(crate) fn wake_one(word: *const AtomicU32) {
    // SAFETY: FUTEX_WAKE only hashes the address; it reads no memory.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word,
            libc::FUTEX_WAKE | libc::FUTEX_PRIVATE_FLAG,
            1,
        );
    }
}

#[cfg(not(target_os = "linux"))]
pub(crate) fn wait(word: &AtomicU32, expected: u32, timeout: Option<Duration>) {
    use std::sync::atomic::Ordering;
    if word.load(Ordering::Acquire) == expected {
        let nap = Duration::from_micros(50);
        std::thread::sleep(timeout.map_or(nap, |t| t.min(nap)));
    }
}

#[cfg(not(target_os = "linux"))]
pub(crate) fn wake_one(_word: *const AtomicU32) {}
