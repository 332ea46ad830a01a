//! Synchronisation primitives, swapped for loom's model-checked versions under
//! `cfg(loom)` so the completion state machine (future.rs) and the queue's gate
//! (queue.rs) can be checked exhaustively. Everything else uses std directly.

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{fence, AtomicU32, AtomicUsize, Ordering};
#[cfg(not(loom))]
pub(crate) use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};

/// A mutex with parking_lot's guard-returning `lock()` in both worlds.
#[cfg(not(loom))]
pub(crate) type Mutex<T> = parking_lot::Mutex<T>;

#[cfg(loom)]
pub(crate) struct Mutex<T>(loom::sync::Mutex<T>);

#[cfg(loom)]
impl<T> Mutex<T> {
    pub(crate) fn new(v: T) -> Self {
        Mutex(loom::sync::Mutex::new(v))
    }
    pub(crate) fn lock(&self) -> loom::sync::MutexGuard<'_, T> {
        self.0.lock().unwrap()
    }
}

/// Marks a point where the code relies on the single total order of SeqCst
/// accesses (a Dekker pair: announce with one atomic, then check another). Loom
/// models SeqCst accesses as AcqRel and would report false lost wake-ups there;
/// it does model SeqCst fences, so under loom this is `fence(SeqCst)`. Outside
/// loom it compiles to nothing: the SeqCst accesses themselves suffice.
#[inline(always)]
pub(crate) fn dekker_fence() {
    #[cfg(loom)]
    fence(Ordering::SeqCst);
}
