//! The one sleep protocol. Every place where a qthr thread goes to sleep until
//! another thread makes something true uses `sleep`:
//!
//! | who sleeps | announcement | condition | woken by |
//! | --- | --- | --- | --- |
//! | a thread waiting for a future (future/slot.rs) | `WAITERS` bit in the slot's state | the state resolved | the resolving swap/CAS |
//! | a mailbox caller (mailbox.rs) | `WAITER` bit in the mailbox word | the word is DONE/CANCELLED | the worker's hand-back XOR |
//! | a submitter waiting for room (queue.rs) | the queue's `room_waiters` count | the gate has room, or is closed | the worker's pop (gate decrement) and close |
//! | the idle worker, or a worker waiting inside a job (doorbell.rs) | the key in its doorbell | work queued (or its calls lane), closed | submitters (`ring`), shutdown |
//!
//! The sleeper (1) announces itself, (2) re-checks the condition, (3) parks on
//! a key with a validation that re-checks "still announced and not ready"
//! under the parking lot's bucket lock, then (4) withdraws the announcement.
//! The waker (a) makes the condition true, (b) reads the announcement, (c) if
//! it is there, `unpark_all(key)`, which takes the same bucket lock.
//!
//! Why no wake-up is lost, argued once:
//! - When announcement and condition live in one word (the slot, the mailbox)
//!   the sleeper's announcing RMW and the waker's resolving RMW are ordered in
//!   that word's modification order: if the waker's RMW comes later it returns
//!   the announcement and unparks; if earlier, the sleeper's RMW (or its
//!   re-check) reads the resolved word and it does not sleep. Relaxed is
//!   enough for the flag; the data is ordered by the resolving RMW's release
//!   and the re-check's acquire.
//! - When they live in two words (room_waiters vs the gate, the doorbell vs a
//!   lane's gate) it is a Dekker pair: (1) and (a) are SeqCst RMWs or stores,
//!   (2) and (b) SeqCst loads. In the single total order of SeqCst operations
//!   either (2) comes after (a) (the sleeper sees the condition) or (b) after
//!   (1) (the waker sees the announcement). `crate::sync::dekker_fence` marks
//!   the point for loom, which models SeqCst accesses as AcqRel.
//! - Between (2) and the sleep itself, (3)'s validation under the bucket lock
//!   closes the window: a waker that saw the announcement calls `unpark_all`,
//!   which takes the lock after the validation (and finds the sleeper) or
//!   before it (and the validation sees the condition true).
//!
//! A waker never wakes a thread that did not announce itself, so a call that
//! nobody waits for costs no system call.

use crate::park;
use std::time::Instant;

/// Sleeps on `key` until woken, `deadline` passes, or — checked under the
/// parking lot's lock — `should_sleep()` is false. The caller has announced
/// itself and re-checked its condition (steps 1-2 above) and withdraws the
/// announcement after this returns (step 4); spurious returns are possible.
///
/// `should_sleep` must only load atomics: it runs under the bucket lock.
pub(crate) fn sleep(key: usize, deadline: Option<Instant>, should_sleep: impl FnOnce() -> bool) {
    crate::sync::dekker_fence();
    // SAFETY: `should_sleep` only loads atomics (this function's contract),
    // so it neither parks, unparks, forks nor panics.
    unsafe { park::park(key, deadline, should_sleep) }
}

/// Wakes every thread sleeping on `key` (step c). Only the address is used.
pub(crate) fn wake_all(key: usize) {
    park::unpark_all(key);
}
