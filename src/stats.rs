//! Counters a runtime keeps, and the snapshot it reports.

use crossbeam_utils::CachePadded;
use std::sync::atomic::{AtomicU64, Ordering};

/// A snapshot of a runtime's counters. Exact once the runtime is quiescent;
/// while jobs flow, fields are read one by one and may be off by a job or two.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Jobs accepted (queued, or run inline on the worker).
    pub submitted: u64,
    /// Jobs that ran to completion.
    pub completed: u64,
    /// Jobs that never ran (cancelled, discarded by a `Cancel` shutdown, or
    /// expired).
    pub cancelled: u64,
    /// Jobs queued right now (or reserved by a submitter about to push).
    pub queue_len: u64,
    /// The most jobs ever queued at once.
    pub queue_high_water: u64,
    /// Jobs that never ran because their deadline passed first (also counted
    /// in `cancelled`).
    pub expired: u64,
}

/// Counters written only by the worker thread (single writer: load + store, no
/// read-modify-write on the hot path), read by anyone.
#[derive(Default)]
pub(crate) struct WorkerCounters {
    popped: CachePadded<AtomicU64>,
    completed: AtomicU64,
    cancelled: AtomicU64,
    expired: AtomicU64,
    inline: AtomicU64,
    /// Jobs a cancelling shutdown took out of the queue and cancelled (any
    /// thread: a read-modify-write, off the hot path).
    swept: AtomicU64,
    /// 1 while the worker serves a mailbox call (counted as popped, though the
    /// mailbox still shows it as posted): `snapshot` must not count it twice.
    in_call: AtomicU64,
}

/// Single-writer increment. Release: a reader that sees this increment (with
/// an acquire load) also sees the worker's earlier increments of the other
/// counters, which `snapshot` relies on.
fn bump(c: &AtomicU64) {
    c.store(c.load(Ordering::Relaxed) + 1, Ordering::Release);
}

impl WorkerCounters {
    /// Worker only.
    pub(crate) fn popped(&self) {
        bump(&self.popped);
    }
    /// Worker only.
    pub(crate) fn completed(&self) {
        bump(&self.completed);
    }
    /// Worker only.
    pub(crate) fn cancelled(&self) {
        bump(&self.cancelled);
    }
    /// Worker only: a job that expired (counted as cancelled too).
    pub(crate) fn expired(&self) {
        bump(&self.expired);
        bump(&self.cancelled);
    }
    /// Any thread: a job taken out of the queue by a cancelling shutdown.
    pub(crate) fn swept(&self) {
        // Release: as `bump` (read with an acquire load in `snapshot`).
        self.swept.fetch_add(1, Ordering::Release);
    }
    /// Worker only: starts serving a mailbox call (before `popped`).
    pub(crate) fn begin_call(&self) {
        // Relaxed: published by the Release of the `popped` bump that follows.
        self.in_call.store(1, Ordering::Relaxed);
    }
    /// Worker only: the mailbox call is handed back (after the hand-over).
    pub(crate) fn end_call(&self) {
        // Release: a snapshot that reads 0 here (acquire) then reads the
        // mailbox sees it handed back, not still posted.
        self.in_call.store(0, Ordering::Release);
    }
    /// Worker only: a job run inline (submitted and completed at once).
    pub(crate) fn inline(&self) {
        bump(&self.inline);
        bump(&self.completed);
    }

    /// `queue_len()`: jobs in the queue; `calls_posted()`: calls waiting in
    /// mailboxes, including one being served (`in_call` tells).
    pub(crate) fn snapshot(
        &self,
        queue_len: impl FnOnce() -> usize,
        calls_posted: impl FnOnce() -> usize,
        high_water: usize,
    ) -> Stats {
        // The worker counts a job as popped (or inline) before it counts it as
        // completed or cancelled. Reading in the opposite order, with acquire
        // loads, keeps the snapshot consistent under load: completed +
        // cancelled never exceeds submitted. `popped` is read before the queue
        // length, so a job moving from the queue to the worker meanwhile is
        // counted (perhaps twice), never lost. Likewise a mailbox call: the
        // worker sets `in_call` before counting it as popped and clears it
        // after handing it back, so a call being served is counted once.
        let completed = self.completed.load(Ordering::Acquire);
        let cancelled = self.cancelled.load(Ordering::Acquire);
        let expired = self.expired.load(Ordering::Relaxed);
        let inline = self.inline.load(Ordering::Acquire);
        // Swept jobs count as popped and cancelled; read before `popped` and
        // the queue, like the other resolved counts.
        let swept = self.swept.load(Ordering::Acquire);
        let cancelled = cancelled + swept;
        let popped = self.popped.load(Ordering::Acquire) + swept;
        let serving = self.in_call.load(Ordering::Acquire) != 0;
        let queue_len = queue_len() + calls_posted().saturating_sub(usize::from(serving));
        Stats {
            submitted: popped + inline + queue_len as u64,
            completed,
            cancelled,
            queue_len: queue_len as u64,
            queue_high_water: high_water as u64,
            expired,
        }
    }
}
