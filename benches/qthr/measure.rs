//! How the figures are measured: the window and the rounds (environment knobs),
//! pinning threads to CPUs, throughput of an op on N callers, and the spin
//! ping-pong that is the physical limit of a cross-thread call.

use crate::job::ENGINE;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

pub(crate) fn window() -> Duration {
    let ms = std::env::var("QTHR_BENCH_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    Duration::from_millis(ms)
}

pub(crate) fn rounds() -> usize {
    std::env::var("QTHR_BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3)
        .max(1)
}

/// True if this process may run on CPUs 0 and 1 (a cpuset may forbid them).
pub(crate) fn can_pin_0_and_1() -> bool {
    // SAFETY: cpu_set_t is plain data; sched_getaffinity fills it.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) == 0
            && libc::CPU_ISSET(0, &set)
            && libc::CPU_ISSET(1, &set)
    }
}

/// Pins the calling thread to `cpu`.
fn pin_to(cpu: usize) {
    // SAFETY: cpu_set_t is plain data; CPU_SET is bounds-checked below.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        assert!(cpu < 8 * std::mem::size_of::<libc::cpu_set_t>());
        libc::CPU_SET(cpu, &mut set);
        assert_eq!(
            libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set),
            0
        );
    }
}

/// Runs `op` on `callers` threads for the window; returns total ops per second.
/// Every op must run `ops_per_iter` jobs of argument 1 and wait for them: the
/// engine's counter then proves that each op counted really ran its jobs.
pub(crate) fn throughput<E: Sync + ?Sized>(
    e: &E,
    callers: usize,
    ops_per_iter: u64,
    op: impl Fn(&E) + Sync,
) -> f64 {
    throughput_on(e, callers, None, ops_per_iter, op)
}

/// `throughput` with every caller pinned to `pin`, if given.
pub(crate) fn throughput_on<E: Sync + ?Sized>(
    e: &E,
    callers: usize,
    pin: Option<usize>,
    ops_per_iter: u64,
    op: impl Fn(&E) + Sync,
) -> f64 {
    let stop = AtomicBool::new(false);
    let total = AtomicU64::new(0);
    let barrier = Barrier::new(callers + 1);
    let mut elapsed = Duration::ZERO;
    let before = ENGINE.load(Ordering::Relaxed);
    thread::scope(|s| {
        for _ in 0..callers {
            s.spawn(|| {
                if let Some(cpu) = pin {
                    pin_to(cpu);
                }
                barrier.wait();
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    op(e);
                    n += ops_per_iter;
                }
                total.fetch_add(n, Ordering::Relaxed);
            });
        }
        // Warm-up is part of the first ~5% of the window; negligible here.
        barrier.wait();
        let t = Instant::now();
        thread::sleep(window());
        stop.store(true, Ordering::Relaxed);
        elapsed = t.elapsed();
    });
    // Relaxed: the callers saw their jobs done (acquire) before the joins.
    let ran = ENGINE.load(Ordering::Relaxed).wrapping_sub(before) as u64;
    let total = total.load(Ordering::Relaxed);
    assert_eq!(ran, total, "jobs run vs ops counted");
    total as f64 / elapsed.as_secs_f64()
}

/// Round trip of a cache line between two spinning threads: the physical limit
/// of a cross-thread call. `pin`: the two threads' CPUs.
pub(crate) fn ping_pong(pin: Option<(usize, usize)>) -> f64 {
    match pin {
        None => ping_pong_here(None),
        // The measuring side on a thread of its own, so the pin does not stick
        // to the caller.
        Some((a, b)) => thread::scope(|s| {
            s.spawn(|| {
                pin_to(a);
                ping_pong_here(Some(b))
            })
            .join()
            .unwrap()
        }),
    }
}

fn ping_pong_here(pin_other: Option<usize>) -> f64 {
    let flag = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let (f2, s2) = (flag.clone(), stop.clone());
    let other = thread::spawn(move || {
        if let Some(cpu) = pin_other {
            pin_to(cpu);
        }
        let mut expect = 1;
        while !s2.load(Ordering::Relaxed) {
            if f2.load(Ordering::Acquire) == expect {
                f2.store(expect + 1, Ordering::Release);
                expect += 2;
            }
            std::hint::spin_loop();
        }
    });
    let start = Instant::now();
    let mut n = 0u64;
    let mut v = 0;
    while start.elapsed() < window() {
        for _ in 0..1000 {
            flag.store(v + 1, Ordering::Release);
            while flag.load(Ordering::Acquire) != v + 2 {
                std::hint::spin_loop();
            }
            v += 2;
        }
        n += 1000;
    }
    let ns = start.elapsed().as_nanos() as f64 / n as f64;
    stop.store(true, Ordering::Relaxed);
    other.join().unwrap();
    ns
}
