//! A small futex mutex for qthr's process-wide state (the parking lot's
//! buckets, the list of workers waiting for each other's exit, the log sink),
//! made fork-safe: `fork.rs`'s `pthread_atfork` handlers take every such lock
//! before `fork()` and release them after it, in the parent and in the child,
//! so a child never inherits one held by a thread it does not have.
//!
//! Why not `std::sync::Mutex`: a guard cannot be held from the prepare handler
//! to the parent/child handlers and released there.

use super::futex;
use std::cell::UnsafeCell;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicU32, Ordering};

const UNLOCKED: u32 = 0;
const LOCKED: u32 = 1;
/// Locked, and a thread may sleep in `lock` (the unlocker must wake one).
const CONTENDED: u32 = 2;

/// Ulrich Drepper's futex mutex ("Futexes Are Tricky", mutex 2), with a short
/// spin first. Critical sections here are a few list operations.
pub(crate) struct RawLock(AtomicU32);

impl RawLock {
    pub(crate) const fn new() -> RawLock {
        RawLock(AtomicU32::new(UNLOCKED))
    }

    pub(crate) fn lock(&self) {
        // Acquire on success: the previous holder's writes are visible.
        for _ in 0..64 {
            if self
                .0
                .compare_exchange_weak(UNLOCKED, LOCKED, Ordering::Acquire, Ordering::Relaxed)
                .is_ok()
            {
                return;
            }
            std::hint::spin_loop();
        }
        // Mark it contended; whoever we get it from must wake the next sleeper.
        while self.0.swap(CONTENDED, Ordering::Acquire) != UNLOCKED {
            futex::wait(&self.0, CONTENDED, None);
        }
    }

    pub(crate) fn unlock(&self) {
        // Release: our writes are visible to the next holder's acquire.
        if self.0.swap(UNLOCKED, Ordering::Release) == CONTENDED {
            futex::wake_one(&self.0);
        }
    }

    /// In a fork child (one thread, every lock taken by the prepare handler,
    /// by the thread that is now the child's only one): unlocked, no waiters.
    pub(crate) fn reset(&self) {
        // Relaxed: the child has a single thread; threads it starts later
        // synchronise with this through their creation.
        self.0.store(UNLOCKED, Ordering::Relaxed);
    }
}

/// Data behind a `RawLock`.
pub(crate) struct ForkLock<T> {
    raw: RawLock,
    data: UnsafeCell<T>,
}

// SAFETY: the data is only reached through a guard, which holds the lock.
unsafe impl<T: Send> Sync for ForkLock<T> {}
// SAFETY: as above.
unsafe impl<T: Send> Send for ForkLock<T> {}

pub(crate) struct Guard<'a, T>(&'a ForkLock<T>);

impl<T> ForkLock<T> {
    pub(crate) const fn new(v: T) -> ForkLock<T> {
        ForkLock {
            raw: RawLock::new(),
            data: UnsafeCell::new(v),
        }
    }

    pub(crate) fn lock(&self) -> Guard<'_, T> {
        self.raw.lock();
        Guard(self)
    }

    /// The prepare handler: takes the lock and keeps it until `fork_parent` or
    /// `fork_child`.
    pub(crate) fn fork_prepare(&self) {
        self.raw.lock();
    }

    /// After fork, in the parent: releases what `fork_prepare` took.
    pub(crate) fn fork_parent(&self) {
        self.raw.unlock();
    }

    /// After fork, in the child: resets the lock, and the data with `f`.
    pub(crate) fn fork_child(&self, f: impl FnOnce(&mut T)) {
        // SAFETY: the child has one thread, and the prepare handler (run by
        // that very thread before the fork) holds the lock.
        f(unsafe { &mut *self.data.get() });
        self.raw.reset();
    }
}

impl<T> Deref for Guard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the guard holds the lock.
        unsafe { &*self.0.data.get() }
    }
}

impl<T> DerefMut for Guard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the guard holds the lock.
        unsafe { &mut *self.0.data.get() }
    }
}

impl<T> Drop for Guard<'_, T> {
    fn drop(&mut self) {
        self.0.raw.unlock();
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn excludes_under_contention() {
        const ROUNDS: u64 = if cfg!(miri) { 200 } else { 20_000 };
        let l = Arc::new(ForkLock::new(0u64));
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let l = l.clone();
                std::thread::spawn(move || {
                    for _ in 0..ROUNDS {
                        let mut g = l.lock();
                        let v = *g;
                        std::hint::spin_loop();
                        *g = v + 1;
                    }
                })
            })
            .collect();
        threads.into_iter().for_each(|t| t.join().unwrap());
        assert_eq!(*l.lock(), 4 * ROUNDS);
    }
}
