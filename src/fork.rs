//! Fork detection: a process-wide generation number bumped in the child.
//!
//! A runtime (and each job) remembers the generation it was made in; in a child
//! process the worker thread does not exist, so every operation on an inherited
//! runtime or an unresolved inherited future fails fast with `Error::Forked`.

use crossbeam_utils::CachePadded;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Once;

/// Read on every call. On a line of its own: a host's static written by its
/// jobs (on the worker) must not sit beside it, or every call would pull that
/// line across (seen: 2x the cost of `qthr_call` in some builds).
static GENERATION: CachePadded<AtomicU64> = CachePadded::new(AtomicU64::new(0));

extern "C" fn in_child() {
    // Relaxed: the child has one thread when this runs; threads it starts later
    // synchronise with this write through thread creation.
    GENERATION.fetch_add(1, Ordering::Relaxed);
}

/// Registers the `pthread_atfork` child handler (once per process).
pub(crate) fn install() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // SAFETY: registering a handler that only touches an atomic.
        let rc = unsafe { libc::pthread_atfork(None, None, Some(in_child)) };
        if rc != 0 {
            log::warn!("pthread_atfork failed ({rc}): fork detection is off");
        }
    });
}

/// The current process's generation.
pub(crate) fn generation() -> u64 {
    // Relaxed: see `in_child`.
    GENERATION.load(Ordering::Relaxed)
}
