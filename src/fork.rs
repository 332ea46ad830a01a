//! fork(): a process-wide generation number bumped in the child, and the
//! atfork handlers that keep qthr's process-wide state usable there.
//!
//! A runtime (and each job) remembers the generation it was made in; in a child
//! process its worker thread does not exist, so every operation on an inherited
//! runtime or an unresolved inherited future fails fast with `Error::Forked`.
//!
//! The process-wide locks (the parking lot's buckets, the list of workers
//! waiting for each other's exit, the log sink, the list of slot caches) are
//! taken by the prepare handler, so that no other thread holds one at the
//! instant of the fork, and released after it: in the parent as they are, in
//! the child reset together with what only the parent's threads were using
//! (parked threads, spin permits, log callbacks in flight). So a child can
//! start and use new runtimes and set the log callback, whatever the parent's
//! threads were doing.

use crossbeam_utils::CachePadded;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Once;

/// Read on every call. On a line of its own: a host's static written by its
/// jobs (on the worker) must not sit beside it, or every call would pull that
/// line across (seen: 2x the cost of `qthr_call` in some builds).
static GENERATION: CachePadded<AtomicU64> = CachePadded::new(AtomicU64::new(0));

extern "C" fn prepare() {
    // Leaf locks last: nothing takes another lock while holding a bucket.
    crate::runtime::fork_hooks::prepare();
    crate::log_bridge::fork_prepare();
    crate::pool::fork_hooks::prepare();
    #[cfg(not(loom))]
    crate::park::fork_hooks::fork_prepare();
}

extern "C" fn parent() {
    #[cfg(not(loom))]
    crate::park::fork_hooks::fork_parent();
    crate::pool::fork_hooks::parent();
    crate::log_bridge::fork_parent();
    crate::runtime::fork_hooks::parent();
}

extern "C" fn child() {
    // Relaxed: the child has one thread when this runs; threads it starts later
    // synchronise with this write through thread creation.
    GENERATION.fetch_add(1, Ordering::Relaxed);
    #[cfg(not(loom))]
    {
        crate::park::fork_hooks::lot_child();
        crate::park::fork_hooks::spin_child();
    }
    crate::pool::fork_hooks::child();
    crate::log_bridge::fork_child();
    crate::runtime::fork_hooks::child();
}

/// Registers the `pthread_atfork` handlers (once per process).
pub(crate) fn install() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // SAFETY: the handlers only touch qthr's own statics (atomics and
        // fork-safe locks), as pthread_atfork handlers must.
        let rc = unsafe { libc::pthread_atfork(Some(prepare), Some(parent), Some(child)) };
        if rc != 0 {
            log::warn!("pthread_atfork failed ({rc}): fork detection is off");
        }
    });
}

/// The current process's generation.
pub(crate) fn generation() -> u64 {
    // Relaxed: see `child`.
    GENERATION.load(Ordering::Relaxed)
}
