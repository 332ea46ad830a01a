//! The crate-level loom shim: synchronisation primitives that become loom's
//! model-checked versions under `cfg(loom)`, so that the loom models check the
//! real code of the completion slot, the queue (gates and ring), the call
//! mailbox, the worker's doorbell and the parking protocol.

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{fence, AtomicPtr, AtomicU32, AtomicUsize, Ordering};
#[cfg(not(loom))]
pub(crate) use std::sync::atomic::{AtomicPtr, AtomicU32, AtomicUsize, Ordering};

/// A mutex whose `lock()` returns the guard directly in both worlds (a
/// poisoned std mutex is still usable: every critical section here leaves its
/// data consistent before anything that could panic).
#[cfg(not(loom))]
pub(crate) struct Mutex<T>(std::sync::Mutex<T>);

#[cfg(not(loom))]
impl<T> Mutex<T> {
    pub(crate) const fn new(v: T) -> Self {
        Mutex(std::sync::Mutex::new(v))
    }
    pub(crate) fn lock(&self) -> std::sync::MutexGuard<'_, T> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
    pub(crate) fn try_lock(&self) -> Option<std::sync::MutexGuard<'_, T>> {
        match self.0.try_lock() {
            Ok(g) => Some(g),
            Err(std::sync::TryLockError::Poisoned(p)) => Some(p.into_inner()),
            Err(std::sync::TryLockError::WouldBlock) => None,
        }
    }
}

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
    pub(crate) fn try_lock(&self) -> Option<loom::sync::MutexGuard<'_, T>> {
        self.0.try_lock().ok()
    }
}

/// Lets another thread run: a busy-wait step.
#[inline]
pub(crate) fn yield_now() {
    #[cfg(loom)]
    loom::thread::yield_now();
    #[cfg(not(loom))]
    std::thread::yield_now();
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
