//! The worker's doorbell: how a sleeping worker is woken, and only when it
//! sleeps (a submit to a busy worker costs one load of this word).
//!
//! The word is 0 while the worker is awake; while it sleeps, the parking key
//! it sleeps on — its idle key, or, while it waits inside a job for another
//! runtime, the key of what it waits for, with the `CALLS_ONLY` bit: then only
//! submits to its calls lane (the only lane it serves inside a job) wake it.
//! Keys are addresses of aligned words, so bit 0 is free for the flag.
//!
//! The protocol is waiter.rs's, with announcement and condition in two words:
//! the worker stores its key (SeqCst), then re-checks the lanes (SeqCst loads
//! of the gates or mailboxes); a submitter reserves on a gate (a SeqCst RMW) or
//! posts to a mailbox (SeqCst RMW), then loads this word (SeqCst).

use crate::sync::{AtomicUsize, Ordering};
use crate::waiter;
use crossbeam_utils::CachePadded;

/// Set in the doorbell's word while the worker waits inside a job: only
/// submits to its calls lane wake it.
const CALLS_ONLY: usize = 1;

pub(crate) struct Doorbell {
    /// Written by the worker (announce) and by a waker (the CAS that claims
    /// the wake-up), read by every submitter: on a line of its own.
    word: CachePadded<AtomicUsize>,
}

impl Doorbell {
    pub(crate) fn new() -> Doorbell {
        Doorbell {
            word: CachePadded::new(AtomicUsize::new(0)),
        }
    }

    /// Submitter, after its job is in a lane (`calls_lane`: the lane of jobs
    /// from other runtimes' workers): wakes the worker if it sleeps and would
    /// serve that lane. Of several submitters, the one whose CAS wins wakes it.
    pub(crate) fn ring(&self, calls_lane: bool) {
        // After the SeqCst RMW that queued the job (module doc).
        crate::sync::dekker_fence();
        // SeqCst: the waker's load of the Dekker pair (module doc).
        let word = self.word.load(Ordering::SeqCst);
        if word != 0 && (calls_lane || word & CALLS_ONLY == 0) {
            let won = self
                .word
                .compare_exchange(word, 0, Ordering::SeqCst, Ordering::Relaxed);
            if won.is_ok() {
                waiter::wake_all(word & !CALLS_ONLY);
            }
        }
    }

    /// Shutdown, after closing the lanes: wakes the worker whatever it sleeps
    /// for, so that it notices the close.
    pub(crate) fn ring_always(&self) {
        crate::sync::dekker_fence();
        // SeqCst: as in `ring`, against the worker's re-check of `is_closed`.
        let word = self.word.swap(0, Ordering::SeqCst);
        if word != 0 {
            waiter::wake_all(word & !CALLS_ONLY);
        }
    }

    /// Worker only: announces that it sleeps on `key` (with `calls_only`,
    /// only a ring for the calls lane wakes it), re-checks `ready`, and if it is
    /// still false calls `sleep(rung)`. `sleep` must park on `key` through
    /// waiter.rs with `!rung()` as part of its validation (whatever else it
    /// waits for rings that key too). Withdraws the announcement afterwards.
    pub(crate) fn sleep(
        &self,
        key: usize,
        calls_only: bool,
        ready: impl Fn() -> bool,
        sleep: impl FnOnce(&dyn Fn() -> bool),
    ) {
        debug_assert_eq!(key & CALLS_ONLY, 0, "keys are aligned addresses");
        let word = key | if calls_only { CALLS_ONLY } else { 0 };
        // SeqCst: the sleeper's announcement of the Dekker pair (module doc).
        self.word.store(word, Ordering::SeqCst);
        crate::sync::dekker_fence();
        if !ready() {
            // SeqCst: read under the bucket lock, after the waker's CAS or not.
            sleep(&|| self.word.load(Ordering::SeqCst) != word);
        }
        // Relaxed: only the worker sets a key; a waker that claimed the word
        // meanwhile already wrote 0 itself.
        self.word.store(0, Ordering::Relaxed);
    }
}
