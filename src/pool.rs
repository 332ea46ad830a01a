//! A pool of completion slots, so a call allocates nothing once warm.
//!
//! Each thread keeps a small private cache (no atomics to take or return a slot);
//! overflow goes to a global lock-free ring, which is where slots freed on the
//! worker (fire-and-forget jobs) travel back to the submitting threads.

use crate::fork;
use crate::future::Slot;
use crate::park::lock::ForkLock;
use crate::ring::Ring;
use std::cell::RefCell;
use std::ptr;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicPtr, Ordering};

/// Slots a thread keeps for itself.
const LOCAL_CAP: usize = 64;
/// Slots kept globally; beyond that, freed slots are deallocated.
const GLOBAL_CAP: usize = 4096;

/// An owned, boxed slot.
pub(crate) struct SlotBox(NonNull<Slot>);

// SAFETY: a SlotBox is the unique owner of a heap slot; Slot is Send.
unsafe impl Send for SlotBox {}

impl SlotBox {
    /// A fresh slot; None if the allocator has no memory.
    fn new() -> Option<SlotBox> {
        let b = crate::alloc::try_box(Slot::new()).ok()?;
        Some(SlotBox(NonNull::from(Box::leak(b))))
    }

    /// Gives up ownership; the slot must come back through `SlotBox::from_raw`.
    pub(crate) fn into_raw(self) -> *const Slot {
        let p = self.0.as_ptr();
        std::mem::forget(self);
        p
    }

    /// # Safety
    /// `p` came from `into_raw` and nobody else uses it any more.
    pub(crate) unsafe fn from_raw(p: *const Slot) -> SlotBox {
        SlotBox(NonNull::new(p as *mut Slot).expect("non-null slot"))
    }

    pub(crate) fn as_ptr(&self) -> *const Slot {
        self.0.as_ptr()
    }
}

impl std::ops::Deref for SlotBox {
    type Target = Slot;
    fn deref(&self) -> &Slot {
        // SAFETY: we own a live heap slot.
        unsafe { self.0.as_ref() }
    }
}

impl Drop for SlotBox {
    fn drop(&mut self) {
        // SAFETY: unique owner of a Box-allocated slot.
        drop(unsafe { Box::from_raw(self.0.as_ptr()) });
    }
}

/// The global ring of one process generation (see fork.rs).
struct Global {
    fork_gen: u64,
    slots: Ring<*mut Slot>,
    /// The previous generation's ring (a fork child's parent's), kept
    /// reachable rather than lost: leak checkers must not flag a fork child.
    _prev: *mut Global,
}

static GLOBAL: AtomicPtr<Global> = AtomicPtr::new(ptr::null_mut());

/// The global ring. A fork child gets a fresh one: a parent thread may have
/// been half-way through a push or pop of the inherited ring at fork time, and
/// touching it here could spin forever on a writer that does not exist. The
/// inherited ring is leaked. None if no ring can be allocated (slots are then
/// simply freed, or allocated, one by one).
fn global() -> Option<&'static Ring<*mut Slot>> {
    let gen = fork::generation();
    // Acquire: pairs with the release CAS below, so the ring's contents are
    // initialised before we use it.
    let cur = GLOBAL.load(Ordering::Acquire);
    // SAFETY: rings are leaked, never freed: any non-null pointer stays valid.
    if let Some(ring) = unsafe { cur.as_ref() } {
        if ring.fork_gen == gen {
            return Some(&ring.slots);
        }
    }
    let fresh = Box::into_raw(
        crate::alloc::try_box(Global {
            fork_gen: gen,
            slots: Ring::try_new(GLOBAL_CAP)?,
            _prev: cur,
        })
        .ok()?,
    );
    // AcqRel: release publishes the new ring; acquire reads a racing winner's.
    match GLOBAL.compare_exchange(cur, fresh, Ordering::AcqRel, Ordering::Acquire) {
        // SAFETY: just published; leaked for the life of the process.
        Ok(_) => Some(unsafe { &(*fresh).slots }),
        Err(winner) => {
            // SAFETY: ours was never shared.
            drop(unsafe { Box::from_raw(fresh) });
            // SAFETY: rings are never freed.
            Some(unsafe { &(*winner).slots })
        }
    }
}

/// A thread's cache; its buffer, allocated once with room for `LOCAL_CAP`
/// slots and never grown, is listed in `CACHES` while the thread lives.
struct Local(Vec<SlotBox>);

impl Drop for Local {
    fn drop(&mut self) {
        // Thread exit: hand the cache to other threads.
        for s in self.0.drain(..) {
            give_global(s);
        }
        if self.0.capacity() != 0 {
            let buf = self.0.as_ptr() as usize;
            let mut caches = CACHES.lock();
            if let Some(i) = caches.iter().position(|&b| b == buf) {
                caches.swap_remove(i);
            }
        }
    }
}

/// The buffers of the threads' caches. Only leak checkers read it: in a fork
/// child, the caches of the parent's other threads are pointed to only from
/// those threads' TLS, which no thread of the child has, and would be reported
/// lost; listed here they stay reachable (the child keeps the list as it is).
static CACHES: ForkLock<Vec<usize>> = ForkLock::new(Vec::new());

/// Gives `l` its buffer (false if there is no memory for it), and lists it.
fn allocate_cache(l: &mut Local) -> bool {
    if l.0.try_reserve_exact(LOCAL_CAP).is_err() {
        return false;
    }
    let mut caches = CACHES.lock();
    // No memory for the entry: the cache works all the same, unlisted.
    if caches.try_reserve(1).is_ok() {
        caches.push(l.0.as_ptr() as usize);
    }
    true
}

/// The atfork handlers' part for the list of caches: a leaf lock.
pub(crate) mod fork_hooks {
    pub(crate) fn prepare() {
        super::CACHES.fork_prepare();
    }
    pub(crate) fn parent() {
        super::CACHES.fork_parent();
    }
    pub(crate) fn child() {
        super::CACHES.fork_child(|_| {});
    }
}

thread_local! {
    static LOCAL: RefCell<Local> = const { RefCell::new(Local(Vec::new())) };
}

/// Runs `f` on the calling thread's cache; None during thread-local teardown,
/// in a nested borrow, or on a worker thread.
///
/// Workers keep no cache (their slots go to and come from the global ring):
/// a fork child of a process whose worker was running has no such thread, and
/// a cache reachable only from that thread's TLS, with the destructor glibc
/// lists for it, would be reported lost by the child's leak checker. It costs
/// the worker nothing in steady state: it frees the slots of fire-and-forget
/// jobs but seldom takes any, so its cache was full, and every slot it freed
/// went to the global ring anyway.
fn with_local<R>(f: impl FnOnce(&mut Local) -> R) -> Option<R> {
    if !crate::runtime::current_worker().is_null() {
        return None;
    }
    LOCAL
        .try_with(|l| l.try_borrow_mut().ok().map(|mut l| f(&mut l)))
        .ok()
        .flatten()
}

/// Takes a slot: the thread's cache, else the global ring, else a new one;
/// None if a new one cannot be allocated.
pub(crate) fn take() -> Option<SlotBox> {
    let cached = with_local(|l| l.0.pop()).flatten();
    cached
        .or_else(|| {
            // SAFETY: the global ring holds only slots given up by `give_global`.
            global()?.pop().map(|p| unsafe { SlotBox::from_raw(p) })
        })
        .or_else(SlotBox::new)
}

/// Slots taken together (see `take_many`): up to `SMALL` in an array on the
/// stack, more linked through the slots themselves (an extra pass over their
/// lines, measurably slower, so only for big batches); either way taking them
/// allocates nothing once the pool is warm. Dropping it gives back the rest.
pub(crate) struct Chain {
    small: [Option<SlotBox>; SMALL],
    len: usize,
    linked: *mut Slot,
}

const SMALL: usize = 64;

impl Chain {
    /// The next slot.
    pub(crate) fn pop(&mut self) -> Option<SlotBox> {
        if self.len > 0 {
            self.len -= 1;
            return self.small[self.len].take();
        }
        if self.linked.is_null() {
            return None;
        }
        // SAFETY: linked slots are owned by the chain and not armed.
        unsafe {
            let slot = SlotBox::from_raw(self.linked);
            self.linked = slot.chain_next();
            Some(slot)
        }
    }
}

impl Drop for Chain {
    fn drop(&mut self) {
        while let Some(s) = self.pop() {
            give(s);
        }
    }
}

/// Takes `n` slots at once; None (and nothing taken) if they cannot all be had.
pub(crate) fn take_many(n: usize) -> Option<Chain> {
    let mut chain = Chain {
        small: [const { None }; SMALL],
        len: 0,
        linked: ptr::null_mut(),
    };
    // The thread's cache in one borrow: a batch would otherwise pay the
    // thread-local lookup and the borrow once per slot (a third of a batch
    // submit's instructions).
    with_local(|l| {
        let k = n.min(SMALL).min(l.0.len());
        let start = l.0.len() - k;
        for (dst, slot) in chain.small.iter_mut().zip(l.0.drain(start..)) {
            *dst = Some(slot);
        }
        chain.len = k;
    });
    for _ in chain.len..n {
        let slot = take()?; // `chain` gives back what it holds on the way out
        if chain.len < SMALL {
            chain.small[chain.len] = Some(slot);
            chain.len += 1;
        } else {
            // SAFETY: an unarmed slot we own.
            unsafe { slot.set_chain_next(chain.linked) };
            chain.linked = slot.into_raw() as *mut Slot;
        }
    }
    Some(chain)
}

/// Puts a slot in the global ring, or frees it if the ring is full.
fn give_global(slot: SlotBox) {
    if let Some(ring) = global() {
        if let Err(p) = ring.push(slot.into_raw() as *mut Slot) {
            // SAFETY: not taken by the ring: still ours.
            drop(unsafe { SlotBox::from_raw(p) });
        }
    }
}

/// Returns a slot nobody references any more.
pub(crate) fn give(slot: SlotBox) {
    let mut slot = Some(slot);
    // Without a cache (see `with_local`) the slot goes global.
    with_local(|l| {
        if l.0.len() < LOCAL_CAP && (l.0.capacity() != 0 || allocate_cache(l)) {
            l.0.extend(slot.take());
        }
    });
    if let Some(s) = slot {
        give_global(s);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_reused_on_one_thread() {
        let a = take().unwrap();
        let pa = a.as_ptr();
        give(a);
        let b = take().unwrap();
        assert_eq!(b.as_ptr(), pa);
        give(b);
    }

    #[test]
    fn slots_freed_elsewhere_come_back_through_the_global_ring() {
        let slots: Vec<SlotBox> = (0..LOCAL_CAP * 2).map(|_| take().unwrap()).collect();
        std::thread::spawn(move || slots.into_iter().for_each(give))
            .join()
            .unwrap();
        // The other thread's cache went to the global ring on its exit.
        assert!(!global().unwrap().is_empty());
    }
}
