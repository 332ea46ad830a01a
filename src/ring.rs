//! A bounded lock-free MPMC ring of plain values (Dmitry Vyukov's bounded
//! queue): each cell carries a sequence number that says whose turn it is.
//!
//! Why not crossbeam-queue's `ArrayQueue`, which is the same algorithm: it has
//! no fallible constructor (an allocation failure aborts the process, and qthr
//! must return `QTHR_NO_MEMORY` instead), and loom cannot see inside it. This
//! one allocates with `try_reserve` and uses `crate::sync` atomics, so the loom
//! models of the queue check the ring's orderings too.
//!
//! A push never blocks on a consumer's progress unless that consumer was
//! preempted between taking a position and releasing its cell; a pop never
//! waits for a producer: a cell whose producer has not finished writing reads
//! as empty (the queue's gate tells the worker that a job is on its way).

use crate::sync::{AtomicUsize, Ordering};
use crossbeam_utils::CachePadded;
use std::cell::UnsafeCell;
use std::mem::MaybeUninit;

struct Cell<T> {
    /// `pos` when the cell is free for the push at position `pos`; `pos + 1`
    /// once that push wrote it (so the pop at `pos` may take it).
    seq: AtomicUsize,
    value: UnsafeCell<MaybeUninit<T>>,
}

pub(crate) struct Ring<T: Copy> {
    /// Allocated once with the exact length (a Vec, not a boxed slice, so
    /// that no shrinking reallocation can abort).
    cells: Vec<Cell<T>>,
    /// `cells.len() - 1`; the length is a power of two.
    mask: usize,
    /// Next position to pop. Written by consumers: on a line of its own.
    head: CachePadded<AtomicUsize>,
    /// Next position to push. Written by producers: on a line of its own.
    tail: CachePadded<AtomicUsize>,
}

// SAFETY: a cell's value is written by the one producer that won its position
// and read by the one consumer that won it, ordered by the cell's sequence
// number (release store, acquire load); T is plain data that may be sent.
unsafe impl<T: Copy + Send> Sync for Ring<T> {}
// SAFETY: as above.
unsafe impl<T: Copy + Send> Send for Ring<T> {}

impl<T: Copy> Ring<T> {
    /// A ring with room for at least `capacity` values; `None` if the memory
    /// cannot be had (or `capacity` is absurd).
    pub(crate) fn try_new(capacity: usize) -> Option<Ring<T>> {
        let len = capacity.max(1).checked_next_power_of_two()?;
        let mut cells = Vec::new();
        cells.try_reserve_exact(len).ok()?;
        cells.extend((0..len).map(|i| Cell {
            seq: AtomicUsize::new(i),
            value: UnsafeCell::new(MaybeUninit::uninit()),
        }));
        Some(Ring {
            cells,
            mask: len - 1,
            head: CachePadded::new(AtomicUsize::new(0)),
            tail: CachePadded::new(AtomicUsize::new(0)),
        })
    }

    /// Pushes `value`; `Err(value)` if the ring is full.
    pub(crate) fn push(&self, value: T) -> Result<(), T> {
        // Relaxed: positions are claimed by the CAS; the data is ordered by
        // the cells' sequence numbers.
        let mut pos = self.tail.load(Ordering::Relaxed);
        loop {
            let cell = &self.cells[pos & self.mask];
            // Acquire: the consumer that freed this cell (release) has read its
            // previous value before we overwrite it.
            let seq = cell.seq.load(Ordering::Acquire);
            let lag = seq.wrapping_sub(pos) as isize;
            if lag == 0 {
                match self.tail.compare_exchange_weak(
                    pos,
                    pos.wrapping_add(1),
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                ) {
                    Ok(_) => {
                        // SAFETY: winning `pos` gives us the cell until we
                        // publish it below.
                        unsafe { (*cell.value.get()).write(value) };
                        // Release: the value is visible to the consumer's acquire.
                        cell.seq.store(pos.wrapping_add(1), Ordering::Release);
                        return Ok(());
                    }
                    Err(actual) => pos = actual,
                }
            } else if lag < 0 {
                // The cell still holds the value pushed one lap ago: full, or
                // its consumer is between taking it and freeing it.
                if self.is_full_at(pos) {
                    return Err(value);
                }
                spin();
                pos = self.tail.load(Ordering::Relaxed);
            } else {
                pos = self.tail.load(Ordering::Relaxed);
            }
        }
    }

    /// Pops the oldest value; `None` if there is none ready.
    pub(crate) fn pop(&self) -> Option<T> {
        // Relaxed: as in `push`.
        let mut pos = self.head.load(Ordering::Relaxed);
        loop {
            let cell = &self.cells[pos & self.mask];
            // Acquire: pairs with the producer's release: the value is written.
            let seq = cell.seq.load(Ordering::Acquire);
            let lag = seq.wrapping_sub(pos.wrapping_add(1)) as isize;
            if lag == 0 {
                match self.head.compare_exchange_weak(
                    pos,
                    pos.wrapping_add(1),
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                ) {
                    Ok(_) => {
                        // SAFETY: winning `pos` gives us the written cell.
                        let value = unsafe { (*cell.value.get()).assume_init_read() };
                        // Release: our read happens-before the next lap's write.
                        cell.seq
                            .store(pos.wrapping_add(self.mask + 1), Ordering::Release);
                        return Some(value);
                    }
                    Err(actual) => pos = actual,
                }
            } else if lag < 0 {
                return None; // not written yet (or empty)
            } else {
                pos = self.head.load(Ordering::Relaxed);
            }
        }
    }

    /// True if no value is ready to pop (a push in progress counts as empty).
    pub(crate) fn is_empty(&self) -> bool {
        // Acquire (both): a hint for a poller that then pops (which orders
        // the value itself); stronger than needed, and as cheap on x86.
        let pos = self.head.load(Ordering::Acquire);
        let seq = self.cells[pos & self.mask].seq.load(Ordering::Acquire);
        seq != pos.wrapping_add(1)
    }

    /// True if the push at `pos` finds a full lap of values ahead of it.
    fn is_full_at(&self, pos: usize) -> bool {
        let head = self.head.load(Ordering::Acquire);
        pos.wrapping_sub(head) > self.mask
    }
}

fn spin() {
    #[cfg(loom)]
    loom::thread::yield_now();
    #[cfg(not(loom))]
    std::thread::yield_now();
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn fifo_full_and_empty() {
        let r = Ring::<usize>::try_new(3).unwrap(); // 4 cells
        assert!(r.is_empty());
        for i in 0..4 {
            r.push(i).unwrap();
        }
        assert_eq!(r.push(9), Err(9));
        assert!(!r.is_empty());
        for i in 0..4 {
            assert_eq!(r.pop(), Some(i));
        }
        assert_eq!(r.pop(), None);
        // Many laps.
        for i in 0..100 {
            r.push(i).unwrap();
            assert_eq!(r.pop(), Some(i));
        }
    }

    #[test]
    fn absurd_capacity_is_refused_not_aborted() {
        assert!(Ring::<usize>::try_new(usize::MAX).is_none());
        assert!(Ring::<usize>::try_new(1 << 60).is_none());
    }

    #[test]
    fn many_producers_and_consumers_lose_nothing() {
        use std::sync::atomic::AtomicBool;
        let r = Arc::new(Ring::<usize>::try_new(64).unwrap());
        let done = Arc::new(AtomicBool::new(false));
        let per = if cfg!(miri) { 200 } else { 20_000 };
        let consumers: Vec<_> = (0..2)
            .map(|_| {
                let (r, done) = (r.clone(), done.clone());
                std::thread::spawn(move || {
                    let mut got = Vec::new();
                    loop {
                        match r.pop() {
                            Some(v) => got.push(v),
                            None if done.load(std::sync::atomic::Ordering::Acquire) => break,
                            None => std::thread::yield_now(),
                        }
                    }
                    got
                })
            })
            .collect();
        let producers: Vec<_> = (0..3)
            .map(|t| {
                let r = r.clone();
                std::thread::spawn(move || {
                    for i in 0..per {
                        let mut v = t * per + i;
                        while let Err(back) = r.push(v) {
                            v = back;
                            std::thread::yield_now();
                        }
                    }
                })
            })
            .collect();
        producers.into_iter().for_each(|p| p.join().unwrap());
        done.store(true, std::sync::atomic::Ordering::Release);
        let mut all: Vec<usize> = consumers
            .into_iter()
            .flat_map(|c| c.join().unwrap())
            .collect();
        while let Some(v) = r.pop() {
            all.push(v);
        }
        all.sort_unstable();
        assert_eq!(all, (0..3 * per).collect::<Vec<_>>());
    }
}
