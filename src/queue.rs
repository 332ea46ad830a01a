//! The bounded job queue: a lock-free ring plus a "gate" counter.
//!
//! The gate counts jobs reserved or queued, and its top bit says the queue is
//! closed. A submitter reserves room with one CAS on the gate *before* pushing, so
//! (a) a push never fails, (b) a batch is queued all-or-nothing, and (c) closing is
//! race-free: after `close()` no reservation succeeds, and the worker knows it has
//! seen the last job when the gate reads exactly `CLOSED` (count zero).

use crate::future::Slot;
use crate::park;
use crate::ring::Ring;
use crate::sync::{AtomicPtr, AtomicUsize, Ordering};
use crate::waiter;
use crossbeam_utils::CachePadded;
use std::time::Instant;

const CLOSED: usize = 1 << (usize::BITS - 1);

/// A queued slot pointer.
#[derive(Clone, Copy)]
pub(crate) struct Queued(pub(crate) *const Slot);

// SAFETY: slots are designed to be handed to the worker (see future.rs).
unsafe impl Send for Queued {}

/// Why room could not be reserved.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Refused {
    Closed,
    Full,
    /// The lane's ring could not be allocated.
    NoMemory,
}

/// Which ring a job goes to.
///
/// - `Main`: every ordinary submit.
/// - `Urgent`: submits with priority 1 from threads that are not another
///   runtime's worker; popped before every other lane, FIFO among themselves.
/// - `Calls`: jobs submitted by another runtime's worker. A worker serves that
///   lane even while it waits inside a job for another runtime (see
///   Shared::wait_serving), and the lane has its own room, so a main lane
///   filled by ordinary submitters cannot block a callback that the waiting
///   worker needs.
///
/// A given thread always uses the same lane for a given priority, so its jobs
/// of one priority stay in submission order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Lane {
    Main,
    Urgent,
    Calls,
}

/// One ring and its gate.
struct LaneQueue {
    /// The ring; for the urgent lane allocated by its first submit (most
    /// runtimes never get an urgent job). Never freed before the queue.
    ring: AtomicPtr<Ring<Queued>>,
    /// Reserved + queued count, plus the CLOSED bit. Written by every submitter
    /// and by the worker: on its own line.
    gate: CachePadded<AtomicUsize>,
    /// The lane's room.
    capacity: usize,
}

impl LaneQueue {
    fn new(capacity: usize, allocate: bool) -> Option<LaneQueue> {
        let lane = LaneQueue {
            ring: AtomicPtr::new(std::ptr::null_mut()),
            gate: CachePadded::new(AtomicUsize::new(0)),
            capacity,
        };
        if allocate {
            lane.ring_or_alloc()?;
        }
        Some(lane)
    }

    /// The ring, if allocated.
    fn ring(&self) -> Option<&Ring<Queued>> {
        // Acquire: pairs with the release CAS in `ring_or_alloc`.
        // SAFETY: a published ring lives as long as the lane.
        unsafe { self.ring.load(Ordering::Acquire).as_ref() }
    }

    /// The ring, allocated on first use; None if the memory cannot be had.
    fn ring_or_alloc(&self) -> Option<&Ring<Queued>> {
        if let Some(r) = self.ring() {
            return Some(r);
        }
        let fresh = Box::into_raw(crate::alloc::try_box(Ring::try_new(self.capacity)?).ok()?);
        // AcqRel: release publishes the ring; acquire reads a racing winner's.
        match self.ring.compare_exchange(
            std::ptr::null_mut(),
            fresh,
            Ordering::AcqRel,
            Ordering::Acquire,
        ) {
            // SAFETY: just published; freed only by Drop.
            Ok(_) => Some(unsafe { &*fresh }),
            Err(winner) => {
                // SAFETY: ours was never shared; the winner's lives on.
                unsafe {
                    drop(Box::from_raw(fresh));
                    Some(&*winner)
                }
            }
        }
    }
}

impl Drop for LaneQueue {
    fn drop(&mut self) {
        // Acquire: as `ring` (we are the last user; loom's atomics have no get_mut).
        let p = self.ring.load(Ordering::Acquire);
        if !p.is_null() {
            // SAFETY: made by Box::into_raw in `ring_or_alloc`; nobody else
            // holds the queue any more.
            drop(unsafe { Box::from_raw(p) });
        }
    }
}

pub(crate) struct JobQueue {
    main: LaneQueue,
    urgent: LaneQueue,
    calls: LaneQueue,
    /// Submitters parked waiting for room (in any lane).
    room_waiters: CachePadded<AtomicUsize>,
    high_water: AtomicUsize,
}

impl JobQueue {
    /// A queue whose lanes hold `capacity` jobs each. The main ring is
    /// allocated now (ordinary submits must not allocate); the urgent and calls
    /// rings by their lane's first submit (most runtimes never get such a job),
    /// which gets `Refused::NoMemory` if it cannot be had. None if the main
    /// ring cannot be allocated.
    pub(crate) fn new(capacity: usize) -> Option<JobQueue> {
        Some(JobQueue {
            main: LaneQueue::new(capacity, true)?,
            urgent: LaneQueue::new(capacity, false)?,
            calls: LaneQueue::new(capacity, false)?,
            room_waiters: CachePadded::new(AtomicUsize::new(0)),
            high_water: AtomicUsize::new(0),
        })
    }

    fn lane(&self, lane: Lane) -> &LaneQueue {
        match lane {
            Lane::Main => &self.main,
            Lane::Urgent => &self.urgent,
            Lane::Calls => &self.calls,
        }
    }

    /// The parking key of submitters waiting for room.
    pub(crate) fn room_key(&self) -> usize {
        &*self.room_waiters as *const AtomicUsize as usize
    }

    /// Reserves room for `n` jobs in `lane` without waiting.
    pub(crate) fn try_reserve(&self, n: usize, lane: Lane) -> Result<(), Refused> {
        let lane = self.lane(lane);
        let gate = &lane.gate;
        // Relaxed initial load: the CAS re-validates.
        let mut cur = gate.load(Ordering::Relaxed);
        if cur & CLOSED == 0 && lane.ring_or_alloc().is_none() {
            return Err(Refused::NoMemory);
        }
        loop {
            if cur & CLOSED != 0 {
                return Err(Refused::Closed);
            }
            if cur + n > lane.capacity {
                return Err(Refused::Full);
            }
            // SeqCst: this RMW and the later SeqCst load of the worker's sleep
            // flag form a Dekker pair with the worker's SeqCst store of that flag
            // and its SeqCst load of the gate (see Shared::wake_worker).
            match gate.compare_exchange_weak(cur, cur + n, Ordering::SeqCst, Ordering::Relaxed) {
                Ok(_) => {
                    self.note_depth(cur + n);
                    return Ok(());
                }
                Err(actual) => cur = actual,
            }
        }
    }

    /// Reserves room for `n` jobs in `lane`, waiting for the worker to make
    /// room. Fails only when the queue closes (or the lane's ring cannot be
    /// allocated). `n` must not exceed the lane's capacity.
    pub(crate) fn reserve(&self, n: usize, lane: Lane) -> Result<(), Refused> {
        debug_assert!(n <= self.lane(lane).capacity);
        loop {
            match self.try_reserve(n, lane) {
                Err(Refused::Full) => self.wait_for_room(n, lane),
                other => return other,
            }
        }
    }

    pub(crate) fn fits_or_closed(&self, n: usize, lane: Lane) -> bool {
        let lane = self.lane(lane);
        // SeqCst: pairs with the worker's SeqCst decrement + room_waiters load.
        let g = lane.gate.load(Ordering::SeqCst);
        g & CLOSED != 0 || g + n <= lane.capacity
    }

    fn wait_for_room(&self, n: usize, lane: Lane) {
        let fits = || self.fits_or_closed(n, lane);
        if park::spin_then_yield(park::CALLER_SPIN, None, fits) {
            return;
        }
        self.park_for_room(n, lane, None, &|| true);
    }

    /// Sleeps once until room for `n` in `lane` may have been made (or the
    /// queue closed), or until `room_key()` is woken for another reason, or when
    /// `still_wanted()` is false under the parking lot's lock. The protocol of
    /// waiter.rs: announcement (`room_waiters`) and condition (the gate) in two
    /// words.
    pub(crate) fn park_for_room(
        &self,
        n: usize,
        lane: Lane,
        deadline: Option<Instant>,
        still_wanted: &dyn Fn() -> bool,
    ) {
        // SeqCst: announce ourselves before re-checking (Dekker pair with `pop`).
        self.room_waiters.fetch_add(1, Ordering::SeqCst);
        crate::sync::dekker_fence();
        waiter::sleep(self.room_key(), deadline, || {
            !self.fits_or_closed(n, lane) && still_wanted()
        });
        self.room_waiters.fetch_sub(1, Ordering::Relaxed);
    }

    /// Pushes a job into room reserved in `lane`.
    pub(crate) fn push(&self, slot: *const Slot, lane: Lane) {
        // Release (inside the ring): the slot's fields, written before, are
        // visible to the popping worker. The reservation made the ring exist.
        let ring = self
            .lane(lane)
            .ring()
            .expect("a reserved lane has its ring");
        if ring.push(Queued(slot)).is_err() {
            unreachable!("push without a reservation");
        }
    }

    /// True if some lane holds a pushed job the worker could pop now (a job
    /// whose room is reserved but not yet pushed does not count).
    pub(crate) fn has_pushed(&self) -> bool {
        [&self.urgent, &self.calls, &self.main]
            .iter()
            .any(|lane| lane.ring().is_some_and(|r| !r.is_empty()))
    }

    /// True if the calls lane holds a job.
    pub(crate) fn has_calls(&self) -> bool {
        // SeqCst: the Dekker pair of Shared::wake_worker: a submitter reserved
        // with a SeqCst RMW on this gate before loading the sleep key.
        self.calls.gate.load(Ordering::SeqCst) & !CLOSED != 0
    }

    /// Pops the oldest job of the calls lane only.
    pub(crate) fn pop_call(&self) -> Option<*const Slot> {
        self.pop_from(&self.calls)
    }

    /// Pops the oldest urgent job.
    pub(crate) fn pop_urgent(&self) -> Option<*const Slot> {
        self.pop_from(&self.urgent)
    }

    /// Pops the oldest job of the main lane.
    pub(crate) fn pop_main(&self) -> Option<*const Slot> {
        self.pop_from(&self.main)
    }

    /// Pops the oldest urgent job, else the oldest of the calls lane, else of
    /// the main lane (the worker's order, without its fairness turns; used by
    /// a cancelling shutdown and the tests).
    pub(crate) fn pop_any(&self) -> Option<*const Slot> {
        self.pop_urgent()
            .or_else(|| self.pop_call())
            .or_else(|| self.pop_main())
    }

    fn pop_from(&self, lane: &LaneQueue) -> Option<*const Slot> {
        // A lane never pushed to may have no ring yet, and nothing to pop.
        let q = lane.ring()?.pop()?;
        // SeqCst: Dekker pair with `park_for_room` (decrement, then look for
        // parked submitters; they announce, then re-check the gate).
        lane.gate.fetch_sub(1, Ordering::SeqCst);
        crate::sync::dekker_fence();
        if self.room_waiters.load(Ordering::SeqCst) != 0 {
            waiter::wake_all(self.room_key());
        }
        Some(q.0)
    }

    /// Closes the queue: later reservations fail; parked submitters wake up.
    pub(crate) fn close(&self) {
        // SeqCst: ordered with the reservations' CAS and the worker's checks.
        // Main lane first: `is_closed` reads its bit, and once it is set the
        // worker keeps running until every lane reads exactly CLOSED.
        self.main.gate.fetch_or(CLOSED, Ordering::SeqCst);
        self.urgent.gate.fetch_or(CLOSED, Ordering::SeqCst);
        self.calls.gate.fetch_or(CLOSED, Ordering::SeqCst);
        waiter::wake_all(self.room_key());
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.main.gate.load(Ordering::SeqCst) & CLOSED != 0
    }

    /// Jobs reserved or queued (not yet popped), in every lane.
    pub(crate) fn len(&self) -> usize {
        // SeqCst: used by the worker's sleep protocol (see Shared::wake_worker).
        (self.main.gate.load(Ordering::SeqCst) & !CLOSED)
            + (self.urgent.gate.load(Ordering::SeqCst) & !CLOSED)
            + (self.calls.gate.load(Ordering::SeqCst) & !CLOSED)
    }

    /// True if the main and urgent lanes are open and hold no job, reserved
    /// or queued. A thread that sees it true knows that every job it queued
    /// before (in either lane) has been popped: its own reservation comes
    /// before this load in the gate's modification order (coherence; Relaxed
    /// is enough). The urgent gate is read first, so that a call never
    /// overtakes an urgent job queued before it... by this thread; an urgent
    /// job another thread queues meanwhile is simply later.
    pub(crate) fn main_is_idle(&self) -> bool {
        self.urgent.gate.load(Ordering::Relaxed) == 0 && self.main.gate.load(Ordering::Relaxed) == 0
    }

    /// Closed and nothing reserved or queued: no job can ever arrive again.
    pub(crate) fn is_finished(&self) -> bool {
        // SeqCst loads, in the order `close` sets them in: a later lane's gate
        // read as exactly CLOSED can no longer change.
        self.main.gate.load(Ordering::SeqCst) == CLOSED
            && self.urgent.gate.load(Ordering::SeqCst) == CLOSED
            && self.calls.gate.load(Ordering::SeqCst) == CLOSED
    }

    /// The room of the main (and urgent) lane.
    pub(crate) fn capacity(&self) -> usize {
        self.main.capacity
    }

    /// Records that `depth` jobs were waiting at once (for `high_water`).
    pub(crate) fn note_depth(&self, depth: usize) {
        // Relaxed: a statistic. Load first: the line is written only when the
        // mark rises, so callers keep sharing it.
        if depth > self.high_water.load(Ordering::Relaxed) {
            self.high_water.fetch_max(depth, Ordering::Relaxed);
        }
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
        let q = JobQueue::new(2).unwrap();
        assert_eq!(q.try_reserve(2, Lane::Main), Ok(()));
        assert_eq!(q.try_reserve(1, Lane::Main), Err(Refused::Full));
        q.push(std::ptr::null(), Lane::Main);
        q.push(std::ptr::null(), Lane::Main);
        assert_eq!(q.len(), 2);
        assert!(q.pop_any().is_some());
        assert_eq!(q.try_reserve(1, Lane::Main), Ok(()));
        q.close();
        assert_eq!(q.try_reserve(1, Lane::Main), Err(Refused::Closed));
        assert!(!q.is_finished());
        q.push(std::ptr::null(), Lane::Main);
        assert!(q.pop_any().is_some() && q.pop_any().is_some() && q.pop_any().is_none());
        assert!(q.is_finished());
        assert_eq!(q.high_water(), 2);
    }

    #[test]
    fn the_calls_lane_has_its_own_room_and_pops_first() {
        let q = JobQueue::new(1).unwrap();
        let (a, b) = (8usize as *const Slot, 16usize as *const Slot);
        q.try_reserve(1, Lane::Main).unwrap();
        q.push(a, Lane::Main);
        assert_eq!(q.try_reserve(1, Lane::Main), Err(Refused::Full));
        assert!(!q.has_calls());
        q.try_reserve(1, Lane::Calls).unwrap();
        assert!(q.has_calls());
        q.push(b, Lane::Calls);
        assert_eq!(q.len(), 2);
        assert_eq!(q.pop_any(), Some(b));
        assert_eq!(q.pop_call(), None);
        q.close();
        assert_eq!(q.try_reserve(1, Lane::Calls), Err(Refused::Closed));
        assert!(!q.is_finished());
        assert_eq!(q.pop_any(), Some(a));
        assert!(q.is_finished());
    }

    #[test]
    fn a_blocked_reservation_wakes_when_room_is_made() {
        let q = std::sync::Arc::new(JobQueue::new(1).unwrap());
        q.try_reserve(1, Lane::Main).unwrap();
        q.push(std::ptr::null(), Lane::Main);
        let q2 = q.clone();
        let t = std::thread::spawn(move || q2.reserve(1, Lane::Main));
        std::thread::sleep(std::time::Duration::from_millis(20));
        q.pop_any();
        assert_eq!(t.join().unwrap(), Ok(()));
    }

    #[test]
    fn closing_wakes_blocked_reservations() {
        let q = std::sync::Arc::new(JobQueue::new(1).unwrap());
        q.try_reserve(1, Lane::Main).unwrap();
        let q2 = q.clone();
        let t = std::thread::spawn(move || q2.reserve(1, Lane::Main));
        std::thread::sleep(std::time::Duration::from_millis(20));
        q.close();
        assert_eq!(t.join().unwrap(), Err(Refused::Closed));
    }
}
