//! The spin half of spin-then-park waiting.
//!
//! A cross-core hand-off costs ~100-200 ns when the other side is spinning, and
//! 10-40 us when it has to be woken from a futex. So every wait first spins for a
//! bounded *time*, then parks. Spinning is rationed: at most `cores - 1` threads
//! spin at once, so spinners never take the last core away from the worker when
//! callers outnumber cores; the others go straight to yielding and parking.

#![cfg_attr(loom, allow(dead_code))]

use crossbeam_utils::CachePadded;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// How long a caller spins on its completion slot before it parks. Comparable to
/// one futex wake-up: spinning longer than a wake-up costs saves nothing.
pub(crate) const CALLER_SPIN: Duration = Duration::from_micros(30);

/// How long an idle worker spins on its queue before it sleeps.
pub(crate) const WORKER_SPIN: Duration = Duration::from_micros(50);

/// How many times a waiter without a spin permit yields before it parks.
const YIELDS: u32 = 8;

/// Spin iterations before a waiter asks for a spin permit (~1 us).
const FREE_SPINS: u32 = 256;

/// How often a spinner yields the CPU (see `spin_for`).
const YIELD_EVERY: Duration = Duration::from_micros(2);

/// Spin iterations between two clock reads (a clock read costs ~20 ns).
const SPINS_PER_CLOCK: u32 = 64;

/// Threads spinning right now, across all runtimes (spinning is about cores).
/// Written by every spinner: on a line of its own.
static SPINNERS: CachePadded<AtomicUsize> = CachePadded::new(AtomicUsize::new(0));

fn max_spinners() -> usize {
    static MAX: OnceLock<usize> = OnceLock::new();
    *MAX.get_or_init(|| {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        // One core is the worker's. On a single core nobody may spin.
        cores.saturating_sub(1)
    })
}

/// Computes the lazily initialised settings now (reading the CPU quota
/// allocates), so that no later wait allocates. Called when a runtime starts.
pub(crate) fn init() {
    #[cfg(not(loom))]
    let _ = max_spinners();
}

/// A permit to spin; dropping it returns the permit.
pub(crate) struct SpinPermit(());

impl SpinPermit {
    #[cfg(loom)]
    pub(crate) fn try_acquire() -> Option<SpinPermit> {
        None
    }

    /// Takes a permit if fewer than `cores - 1` threads hold one.
    #[cfg(not(loom))]
    pub(crate) fn try_acquire() -> Option<SpinPermit> {
        // Relaxed: the counter is a heuristic ration, it guards no data. A
        // momentary overshoot by one racing thread is harmless.
        let prev = SPINNERS.fetch_add(1, Ordering::Relaxed);
        if prev < max_spinners() {
            Some(SpinPermit(()))
        } else {
            SPINNERS.fetch_sub(1, Ordering::Relaxed);
            None
        }
    }
}

/// After fork, in the child: the parent's spinners are gone.
pub(crate) fn fork_child() {
    SPINNERS.store(0, Ordering::Relaxed);
}

impl Drop for SpinPermit {
    fn drop(&mut self) {
        SPINNERS.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Spins for up to `budget` (never past `deadline`), polling `done`, and yields
/// the CPU every `YIELD_EVERY`: a thread we wait for may be runnable on *this*
/// CPU (same-core caller and worker, or an oversubscribed machine), and pure
/// spinning would keep it off the CPU for the whole budget. When the other side
/// runs on another core, `done()` turns true within the first burst and no
/// yield is paid.
#[cfg(not(loom))]
pub(crate) fn spin_for(
    budget: Duration,
    deadline: Option<Instant>,
    mut done: impl FnMut() -> bool,
) -> bool {
    let start = Instant::now();
    let until = match deadline {
        Some(d) => d.min(start + budget),
        None => start + budget,
    };
    let mut last_yield = start;
    loop {
        for _ in 0..SPINS_PER_CLOCK {
            if done() {
                return true;
            }
            std::hint::spin_loop();
        }
        let now = Instant::now();
        if now >= until {
            return false;
        }
        if now - last_yield >= YIELD_EVERY {
            std::thread::yield_now();
            last_yield = Instant::now();
        }
    }
}

/// Under loom, spinning is pointless (and unbounded for the model): check once.
#[cfg(loom)]
pub(crate) fn spin_for(
    _budget: Duration,
    _deadline: Option<Instant>,
    mut done: impl FnMut() -> bool,
) -> bool {
    done()
}

/// Under loom, spinning is pointless (and unbounded for the model): check once.
#[cfg(loom)]
pub(crate) fn spin_then_yield(
    _budget: Duration,
    _deadline: Option<Instant>,
    mut done: impl FnMut() -> bool,
) -> bool {
    done()
}

/// Spins `FREE_SPINS` times (~1 us), without clock reads or permits, polling
/// `done`; true as soon as it is.
#[cfg(not(loom))]
pub(crate) fn spin_briefly(mut done: impl FnMut() -> bool) -> bool {
    for _ in 0..FREE_SPINS {
        if done() {
            return true;
        }
        std::hint::spin_loop();
    }
    false
}

/// Under loom: check once (see `spin_then_yield`).
#[cfg(loom)]
pub(crate) fn spin_briefly(mut done: impl FnMut() -> bool) -> bool {
    done()
}

/// Spins (with a permit) for up to `budget`, then yields a few times, polling
/// `done`. Returns true as soon as `done()` does; false when the caller should
/// park. Never runs past `deadline`.
#[cfg(not(loom))]
pub(crate) fn spin_then_yield(
    budget: Duration,
    deadline: Option<Instant>,
    mut done: impl FnMut() -> bool,
) -> bool {
    // A short free spin first: a worker running on another core answers within
    // a few hundred nanoseconds, and this keeps the fast path free of clock
    // reads and of the shared permit counter.
    if spin_briefly(&mut done) {
        return true;
    }
    if let Some(_permit) = SpinPermit::try_acquire() {
        if spin_for(budget, deadline, &mut done) {
            return true;
        }
    }
    yield_then(deadline, done)
}

/// Under loom: check once (see `spin_then_yield`).
#[cfg(loom)]
pub(crate) fn yield_then(_deadline: Option<Instant>, mut done: impl FnMut() -> bool) -> bool {
    done()
}

/// Yields the CPU a few times, polling `done`; false when the caller should
/// park. For a waiter whose peer runs (or last ran) on the same CPU.
#[cfg(not(loom))]
pub(crate) fn yield_then(deadline: Option<Instant>, mut done: impl FnMut() -> bool) -> bool {
    for _ in 0..YIELDS {
        if deadline.is_some_and(|d| Instant::now() >= d) {
            return done();
        }
        std::thread::yield_now();
        if done() {
            return true;
        }
    }
    false
}

/// Where a caller finds the worker it is about to wait for.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum WorkerCpu {
    /// On another CPU (or unknown): spin, then yield, then park.
    Other,
    /// On the caller's CPU, with other jobs to run: yield at once.
    Mine,
    /// On the caller's CPU, with nothing queued but the caller's job.
    MineAlone,
}

impl WorkerCpu {
    /// From the CPU the worker last went idle on, and whether the caller's
    /// job is the only one queued (asked only when the CPU is the caller's:
    /// it reads the queue's shared counter, which the common case skips).
    pub(crate) fn seen(worker_cpu: i32, alone: impl FnOnce() -> bool) -> WorkerCpu {
        if worker_cpu != current_cpu() {
            WorkerCpu::Other
        } else if alone() {
            WorkerCpu::MineAlone
        } else {
            WorkerCpu::Mine
        }
    }
}

/// How many same-CPU waits a thread makes before it looks at its CPU
/// affinity again (a system call, so not on every wait).
const AFFINITY_RECHECK: u32 = 1024;

thread_local! {
    /// Whether this thread may run on more than one CPU, and how many
    /// same-CPU waits remain before that is looked up again (0: look now).
    static CAN_MOVE: std::cell::Cell<(u32, bool)> = const { std::cell::Cell::new((0, false)) };
}

/// True if the calling thread's CPU affinity allows more than one CPU.
#[cfg(not(loom))]
fn can_move() -> bool {
    CAN_MOVE
        .try_with(|c| {
            let (left, can) = c.get();
            if left > 0 {
                c.set((left - 1, can));
                return can;
            }
            // SAFETY: cpu_set_t is plain data; sched_getaffinity writes at
            // most the size given.
            let can = unsafe {
                let mut set: libc::cpu_set_t = std::mem::zeroed();
                libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) == 0
                    && libc::CPU_COUNT(&set) > 1
            };
            c.set((AFFINITY_RECHECK, can));
            can
        })
        .unwrap_or(false)
}

/// A caller's wait for its job's worker, before it parks: true as soon as
/// `done()`; false when the caller should park now.
///
/// A worker on the caller's CPU would be kept off it by spinning, so the
/// caller yields instead. But a lone caller and its worker that hand off
/// through sched_yield stay on one CPU while the other CPU idles: no wake-up
/// happens, so the kernel never moves either. An idle pause leads there (the
/// worker's wake-up puts it on its caller's CPU), and every call of the next
/// burst then cost two context switches (bursts of 256 Go calls after 12 ms
/// pauses: 6-7 us per call). So when the caller's job is the only one queued
/// (`MineAlone`), no other thread spins (a CPU is likely idle) and the caller
/// may run on another CPU, it parks at once: the worker's wake-up that ends
/// the wait lets the kernel put the caller on an idle CPU (the same bursts:
/// ~3 us per call). With other jobs queued the worker is busy anyway, and a
/// parked caller would only add a futex wake-up to its work; a caller pinned
/// to one CPU has nowhere to go: both yield.
#[cfg(not(loom))]
pub(crate) fn wait_for_worker(
    worker: WorkerCpu,
    deadline: Option<Instant>,
    mut done: impl FnMut() -> bool,
) -> bool {
    match worker {
        WorkerCpu::Other => spin_then_yield(CALLER_SPIN, deadline, done),
        WorkerCpu::MineAlone if spin_permit_free() && can_move() => done(),
        _ => yield_then(deadline, done),
    }
}

/// True if a spin permit is free: no other thread is spinning, so with more
/// than one CPU another one is likely idle (spinners are what keeps CPUs busy
/// when callers outnumber them). Relaxed: a heuristic, as the permits are.
#[cfg(not(loom))]
fn spin_permit_free() -> bool {
    SPINNERS.load(Ordering::Relaxed) < max_spinners()
}

/// Under loom: check once (see `spin_then_yield`).
#[cfg(loom)]
pub(crate) fn wait_for_worker(
    _worker: WorkerCpu,
    _deadline: Option<Instant>,
    mut done: impl FnMut() -> bool,
) -> bool {
    done()
}

/// The CPU the calling thread runs on (-1 if unknown). A vDSO call: ~20 ns.
pub(crate) fn current_cpu() -> i32 {
    // SAFETY: no arguments, no memory touched.
    unsafe { libc::sched_getcpu() }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn permits_are_rationed() {
        // Other tests may hold permits concurrently: only the bound is exact.
        let permits: Vec<_> = (0..max_spinners() + 2)
            .filter_map(|_| SpinPermit::try_acquire())
            .collect();
        assert!(permits.len() <= max_spinners());
    }

    #[test]
    fn spin_returns_false_when_never_done_and_respects_deadline() {
        let deadline = Instant::now() + Duration::from_millis(1);
        assert!(!spin_then_yield(CALLER_SPIN, Some(deadline), || false));
        let mut n = 0;
        assert!(spin_then_yield(CALLER_SPIN, None, || {
            n += 1;
            n > 3
        }));
    }
}
