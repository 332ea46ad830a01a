//! The bounded job queue: a lock-free ring plus a "gate" counter.
//!
//! The gate counts jobs reserved or queued, and its top bit says the queue is
//! closed. A submitter reserves room with one CAS on the gate *before* pushing, so
//! (a) a push never fails, (b) a batch is queued all-or-nothing, and (c) closing is
//! race-free: after `close()` no reservation succeeds, and the worker knows it has
//! seen the last job when the gate reads exactly `CLOSED` (count zero).

use crate::future::Slot;
use crate::park;
use crate::sync::{AtomicUsize, Ordering};
use crossbeam_queue::ArrayQueue;
use crossbeam_utils::CachePadded;
use std::time::Instant;

const CLOSED: usize = 1 << (usize::BITS - 1);

/// A queued slot pointer.
pub(crate) struct Queued(pub(crate) *const Slot);

// SAFETY: slots are designed to be handed to the worker (see future.rs).
unsafe impl Send for Queued {}

/// Why room could not be reserved.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Refused {
    Closed,
    Full,
}

pub(crate) struct JobQueue {
    ring: ArrayQueue<Queued>,
    capacity: usize,
    /// Reserved + queued count, plus the CLOSED bit. Written by every submitter
    /// and by the worker: on its own line.
    gate: CachePadded<AtomicUsize>,
    /// Submitters parked waiting for room.
    room_waiters: CachePadded<AtomicUsize>,
    high_water: AtomicUsize,
}

impl JobQueue {
    pub(crate) fn new(capacity: usize) -> JobQueue {
        JobQueue {
            ring: ArrayQueue::new(capacity),
            capacity,
            gate: CachePadded::new(AtomicUsize::new(0)),
            room_waiters: CachePadded::new(AtomicUsize::new(0)),
            high_water: AtomicUsize::new(0),
        }
    }

    /// The parking key of submitters waiting for room.
    pub(crate) fn room_key(&self) -> usize {
        &*self.room_waiters as *const AtomicUsize as usize
    }

    /// Reserves room for `n` jobs without waiting.
    pub(crate) fn try_reserve(&self, n: usize) -> Result<(), Refused> {
        // Relaxed initial load: the CAS re-validates.
        let mut cur = self.gate.load(Ordering::Relaxed);
        loop {
            if cur & CLOSED != 0 {
                return Err(Refused::Closed);
            }
            if cur + n > self.capacity {
                return Err(Refused::Full);
            }
            // SeqCst: this RMW and the later SeqCst load of the worker's sleep
            // flag form a Dekker pair with the worker's SeqCst store of that flag
            // and its SeqCst load of the gate (see Shared::wake_worker).
            match self
                .gate
                .compare_exchange_weak(cur, cur + n, Ordering::SeqCst, Ordering::Relaxed)
            {
                Ok(_) => {
                    let now = cur + n;
                    // Relaxed: a statistic.
                    if now > self.high_water.load(Ordering::Relaxed) {
                        self.high_water.fetch_max(now, Ordering::Relaxed);
                    }
                    return Ok(());
                }
                Err(actual) => cur = actual,
            }
        }
    }

    /// Reserves room for `n` jobs, waiting for the worker to make room. Only
    /// fails when the queue closes. `n` must not exceed the capacity.
    pub(crate) fn reserve(&self, n: usize) -> Result<(), Refused> {
        debug_assert!(n <= self.capacity);
        loop {
            match self.try_reserve(n) {
                Err(Refused::Full) => self.wait_for_room(n),
                other => return other,
            }
        }
    }

    pub(crate) fn fits_or_closed(&self, n: usize) -> bool {
        // SeqCst: pairs with the worker's SeqCst decrement + room_waiters load.
        let g = self.gate.load(Ordering::SeqCst);
        g & CLOSED != 0 || g + n <= self.capacity
    }

    fn wait_for_room(&self, n: usize) {
        if park::spin_then_yield(park::CALLER_SPIN, None, || self.fits_or_closed(n)) {
            return;
        }
        self.park_for_room(n, None, &|| true);
    }

    /// Parks once until room for `n` may have been made (or the queue closed),
    /// or until `park::unpark_all(self.room_key())` for another reason, or when
    /// `still_wanted()` is false under the parking lot's lock.
    pub(crate) fn park_for_room(
        &self,
        n: usize,
        deadline: Option<Instant>,
        still_wanted: &dyn Fn() -> bool,
    ) {
        // SeqCst: announce ourselves before re-checking (Dekker pair with `pop`).
        self.room_waiters.fetch_add(1, Ordering::SeqCst);
        crate::sync::dekker_fence();
        park::park(self.room_key(), deadline, || {
            !self.fits_or_closed(n) && still_wanted()
        });
        self.room_waiters.fetch_sub(1, Ordering::Relaxed);
    }

    /// Pushes a job into reserved room.
    pub(crate) fn push(&self, slot: *const Slot) {
        // Release (inside ArrayQueue): the slot's fields, written before, are
        // visible to the popping worker.
        if self.ring.push(Queued(slot)).is_err() {
            unreachable!("push without a reservation");
        }
    }

    /// Pops the oldest job and gives its room back.
    pub(crate) fn pop(&self) -> Option<*const Slot> {
        let q = self.ring.pop()?;
        // SeqCst: Dekker pair with `wait_for_room` (decrement, then look for
        // parked submitters; they announce, then re-check the gate).
        self.gate.fetch_sub(1, Ordering::SeqCst);
        crate::sync::dekker_fence();
        if self.room_waiters.load(Ordering::SeqCst) != 0 {
            park::unpark_all(self.room_key());
        }
        Some(q.0)
    }

    /// Closes the queue: later reservations fail; parked submitters wake up.
    pub(crate) fn close(&self) {
        // SeqCst: ordered with the reservations' CAS and the worker's checks.
        self.gate.fetch_or(CLOSED, Ordering::SeqCst);
        park::unpark_all(self.room_key());
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.gate.load(Ordering::SeqCst) & CLOSED != 0
    }

    /// Jobs reserved or queued (not yet popped).
    pub(crate) fn len(&self) -> usize {
        // SeqCst: used by the worker's sleep protocol (see Shared::wake_worker).
        self.gate.load(Ordering::SeqCst) & !CLOSED
    }

    /// Closed and nothing reserved or queued: no job can ever arrive again.
    pub(crate) fn is_finished(&self) -> bool {
        self.gate.load(Ordering::SeqCst) == CLOSED
    }

    pub(crate) fn capacity(&self) -> usize {
        self.capacity
    }

    pub(crate) fn high_water(&self) -> usize {
        self.high_water.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reservations_respect_capacity_and_close() {
        let q = JobQueue::new(2);
        assert_eq!(q.try_reserve(2), Ok(()));
        assert_eq!(q.try_reserve(1), Err(Refused::Full));
        q.push(std::ptr::null());
        q.push(std::ptr::null());
        assert_eq!(q.len(), 2);
        assert!(q.pop().is_some());
        assert_eq!(q.try_reserve(1), Ok(()));
        q.close();
        assert_eq!(q.try_reserve(1), Err(Refused::Closed));
        assert!(!q.is_finished());
        q.push(std::ptr::null());
        assert!(q.pop().is_some() && q.pop().is_some() && q.pop().is_none());
        assert!(q.is_finished());
        assert_eq!(q.high_water(), 2);
    }

    #[test]
    fn a_blocked_reservation_wakes_when_room_is_made() {
        let q = std::sync::Arc::new(JobQueue::new(1));
        q.try_reserve(1).unwrap();
        q.push(std::ptr::null());
        let q2 = q.clone();
        let t = std::thread::spawn(move || q2.reserve(1));
        std::thread::sleep(std::time::Duration::from_millis(20));
        q.pop();
        assert_eq!(t.join().unwrap(), Ok(()));
    }

    #[test]
    fn closing_wakes_blocked_reservations() {
        let q = std::sync::Arc::new(JobQueue::new(1));
        q.try_reserve(1).unwrap();
        let q2 = q.clone();
        let t = std::thread::spawn(move || q2.reserve(1));
        std::thread::sleep(std::time::Duration::from_millis(20));
        q.close();
        assert_eq!(t.join().unwrap(), Err(Refused::Closed));
    }
}
