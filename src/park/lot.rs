//! qthr's parking lot: threads sleep keyed by an address, and a waker wakes
//! every thread parked on a key — the interface of parking_lot_core's
//! `park`/`unpark_all`, which qthr used before.
//!
//! Why our own: parking_lot_core keeps one process-wide hash table whose
//! bucket locks any parked or waking thread may hold, and a fork() taken while
//! a parent thread held one left the child hanging in its first park or
//! unpark (3 children in 24,300 forks under load). Here the buckets are
//! `ForkLock`-style locks that `fork.rs`'s atfork handlers take before fork()
//! and release (parent) or reset (child, with the lists emptied: the parked
//! threads are the parent's) after it.
//!
//! A parked thread's node lives on its own stack. The waker unlinks nodes
//! under the bucket lock, then, outside it, marks each one woken (after which
//! it never touches that node again) and wakes its thread with a futex.

use super::futex;
use super::lock::RawLock;
use std::cell::UnsafeCell;
use std::ptr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Instant;

const BUCKETS: usize = 64;
const PARKED: u32 = 0;
const WOKEN: u32 = 1;

struct Node {
    key: usize,
    next: UnsafeCell<*const Node>,
    /// PARKED until a waker has unlinked it and is done with it.
    state: AtomicU32,
}

#[repr(align(64))]
struct Bucket {
    lock: RawLock,
    /// Parked nodes (a stack), guarded by `lock`.
    head: UnsafeCell<*const Node>,
}

// SAFETY: `head` and the nodes' `next` are only touched under `lock`.
unsafe impl Sync for Bucket {}

#[allow(clippy::declare_interior_mutable_const)]
const EMPTY: Bucket = Bucket {
    lock: RawLock::new(),
    head: UnsafeCell::new(ptr::null()),
};

static LOT: [Bucket; BUCKETS] = [EMPTY; BUCKETS];

fn bucket(key: usize) -> &'static Bucket {
    // Fibonacci hashing: keys are addresses, often 64- or 128-byte aligned.
    let h = (key as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - BUCKETS.trailing_zeros());
    &LOT[h as usize]
}

/// Parks the calling thread on `key` if `validate()` holds, until
/// `unpark_all(key)` or `deadline`. `validate` runs under the bucket lock that
/// `unpark_all` takes, so a waker that changes the condition and then calls
/// `unpark_all(key)` is never missed (see waiter.rs for the protocol).
///
/// # Safety
/// `validate` must not park, unpark, fork or panic: it runs under the lock.
pub(crate) unsafe fn park(key: usize, deadline: Option<Instant>, validate: impl FnOnce() -> bool) {
    let b = bucket(key);
    let node = Node {
        key,
        next: UnsafeCell::new(ptr::null()),
        state: AtomicU32::new(PARKED),
    };
    b.lock.lock();
    if !validate() {
        b.lock.unlock();
        return;
    }
    // SAFETY: under the bucket lock; the node outlives its time in the list
    // (we unlink it, or a waker does, before we return).
    unsafe {
        *node.next.get() = *b.head.get();
        *b.head.get() = &node;
    }
    b.lock.unlock();
    loop {
        // Acquire: the waker is done with the node once it stored WOKEN.
        if node.state.load(Ordering::Acquire) == WOKEN {
            return;
        }
        let timeout = match deadline {
            None => None,
            Some(d) => match d.checked_duration_since(Instant::now()) {
                Some(t) if !t.is_zero() => Some(t),
                _ => break,
            },
        };
        futex::wait(&node.state, PARKED, timeout);
    }
    // Timed out: take the node back, unless a waker already unlinked it.
    b.lock.lock();
    // SAFETY: under the bucket lock.
    let mine = unsafe { unlink(b, &node) };
    b.lock.unlock();
    if !mine {
        // A waker holds it: it stores WOKEN right after its unlock.
        while node.state.load(Ordering::Acquire) != WOKEN {
            futex::wait(&node.state, PARKED, None);
        }
    }
}

/// Removes `node` from the bucket's list; false if it is not there.
///
/// # Safety
/// The caller holds the bucket lock.
unsafe fn unlink(b: &Bucket, node: *const Node) -> bool {
    let mut link: *mut *const Node = b.head.get();
    // SAFETY: under the lock every listed node is alive (its thread is parked
    // or about to unlink it under this same lock).
    unsafe {
        while !(*link).is_null() {
            if ptr::eq(*link, node) {
                *link = *(*node).next.get();
                return true;
            }
            link = (**link).next.get();
        }
    }
    false
}

/// Wakes every thread parked on `key`. A key nobody parks on costs the lock.
pub(crate) fn unpark_all(key: usize) {
    let b = bucket(key);
    let mut woken: *const Node = ptr::null();
    b.lock.lock();
    // SAFETY: under the bucket lock (see `unlink`); unlinked nodes are chained
    // through their `next`, which nobody else touches once they are unlinked.
    unsafe {
        let mut link: *mut *const Node = b.head.get();
        while !(*link).is_null() {
            let n = *link;
            if (*n).key == key {
                *link = *(*n).next.get();
                *(*n).next.get() = woken;
                woken = n;
            } else {
                link = (*n).next.get();
            }
        }
    }
    b.lock.unlock();
    while !woken.is_null() {
        let n = woken;
        // SAFETY: the node stays alive until we store WOKEN: its thread waits
        // for that. Read `next` first, then never touch the node again.
        unsafe {
            woken = *(*n).next.get();
            let state: *const AtomicU32 = &(*n).state;
            // Release: pairs with the parked thread's acquire.
            (*state).store(WOKEN, Ordering::Release);
            futex::wake_one(state);
        }
    }
}

/// The atfork prepare handler's part: takes every bucket lock (in order).
pub(crate) fn fork_prepare() {
    LOT.iter().for_each(|b| b.lock.lock());
}

/// After fork, in the parent: releases them.
pub(crate) fn fork_parent() {
    LOT.iter().rev().for_each(|b| b.lock.unlock());
}

/// After fork, in the child: empty lists (the parked threads were the
/// parent's), released locks.
pub(crate) fn fork_child() {
    for b in &LOT {
        // SAFETY: the child's only thread holds every bucket lock.
        unsafe { *b.head.get() = ptr::null() };
        b.lock.reset();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicBool;
    use std::sync::Arc;
    use std::time::Duration;

    #[test]
    fn a_parked_thread_is_woken_and_a_timed_park_returns() {
        let flag = Arc::new(AtomicBool::new(false));
        let key = &*flag as *const AtomicBool as usize;
        let f = flag.clone();
        let t = std::thread::spawn(move || {
            while !f.load(Ordering::SeqCst) {
                // SAFETY: the validation only loads an atomic.
                unsafe { park(key, None, || !f.load(Ordering::SeqCst)) };
            }
        });
        std::thread::sleep(Duration::from_millis(20));
        flag.store(true, Ordering::SeqCst);
        unpark_all(key);
        t.join().unwrap();
        let t0 = Instant::now();
        // SAFETY: as above.
        unsafe { park(key, Some(t0 + Duration::from_millis(10)), || true) };
        assert!(t0.elapsed() >= Duration::from_millis(10));
    }

    #[test]
    fn many_keys_many_threads() {
        let stop = Arc::new(AtomicBool::new(false));
        let threads: Vec<_> = (0..if cfg!(miri) { 3 } else { 8 })
            .map(|i| {
                let stop = stop.clone();
                std::thread::spawn(move || {
                    let key = 0x1000 + (i % 3) * 64;
                    while !stop.load(Ordering::SeqCst) {
                        let d = Instant::now() + Duration::from_micros(200);
                        // SAFETY: as above.
                        unsafe { park(key, Some(d), || !stop.load(Ordering::SeqCst)) };
                    }
                })
            })
            .collect();
        for _ in 0..if cfg!(miri) { 10 } else { 200 } {
            for k in 0..3 {
                unpark_all(0x1000 + k * 64);
            }
        }
        stop.store(true, Ordering::SeqCst);
        for k in 0..3 {
            unpark_all(0x1000 + k * 64);
        }
        threads.into_iter().for_each(|t| t.join().unwrap());
    }
}
