//! Sleeping and waking: qthr's own fork-safe parking lot (keyed by address,
//! `lot.rs`), the futex under it, the fork-safe lock for process-wide state,
//! and the bounded spinning every wait does first (`spin.rs`).
//!
//! A cross-core hand-off costs ~100-200 ns when the other side is spinning,
//! and 10-40 us when it has to be woken from a futex; so waits spin for a
//! bounded time, then park (the protocol for parking is in `waiter.rs`).

mod futex;
pub(crate) mod lock;
#[cfg(not(loom))]
mod lot;
mod spin;

pub(crate) use spin::*;

#[cfg(not(loom))]
pub(crate) use lot::{park, unpark_all};

/// The atfork handlers' part for the parking lot and the spin permits.
#[cfg(not(loom))]
pub(crate) mod fork_hooks {
    pub(crate) use super::lot::{fork_child as lot_child, fork_parent, fork_prepare};
    pub(crate) use super::spin::fork_child as spin_child;
}

/// Loom model of the parking lot's contract: `validate` runs under the same
/// lock `unpark_all` takes, so a wake-up between the check and the sleep is
/// never lost. A timed park just yields (the model explores "timed out" and
/// "woken"). If a park is never matched by an unpark, loom reports the
/// deadlock. Every key shares one lot: a wake-up sent to the wrong key is not
/// detected (a limit of the models, stated in docs/design.md).
#[cfg(loom)]
mod model {
    use loom::sync::{Condvar, Mutex};

    loom::lazy_static! {
        static ref LOT: (Mutex<u64>, Condvar) = (Mutex::new(0), Condvar::new());
    }

    /// # Safety
    /// As the real `park`: `validate` must not park, unpark or panic.
    pub(crate) unsafe fn park(
        _key: usize,
        deadline: Option<std::time::Instant>,
        validate: impl FnOnce() -> bool,
    ) {
        let (lock, cv) = &*LOT;
        let g = lock.lock().unwrap();
        if !validate() {
            return;
        }
        if deadline.is_some() {
            drop(g);
            loom::thread::yield_now();
            return;
        }
        let seen = *g;
        let mut g = g;
        while *g == seen {
            g = cv.wait(g).unwrap();
        }
    }

    pub(crate) fn unpark_all(_key: usize) {
        let (lock, cv) = &*LOT;
        *lock.lock().unwrap() += 1;
        cv.notify_all();
    }
}
#[cfg(loom)]
pub(crate) use model::{park, unpark_all};
