//! qthr's benchmark: qthr against the physical limit and against the executors
//! people use today, all measured in ONE run so the ratios are comparable on a
//! shared, noisy machine. Prints a table and the same figures as JSON lines.
//!
//!   cargo bench --bench qthr                 # full run (~40 s: 3 rounds)
//!   QTHR_BENCH_MS=100 QTHR_BENCH_ROUNDS=1 cargo bench --bench qthr   # quicker
//!
//! Every executor runs the same job: add the argument to an "engine" counter
//! that only the executing thread touches, and return it.
//!
//! One module per part:
//! - `job`: the job and the engine counter it updates.
//! - `executors`: qthr and the peer executors behind one trait.
//! - `measure`: window and rounds, pinning, throughput, spin ping-pong.
//! - `report`: the rows of figures, printed as a table and as JSON lines.
//! - `main` (this file): the run itself, allocations and idle CPU, the targets.

#[path = "../../tests/common/mod.rs"]
mod common;

mod executors;
mod job;
mod measure;
mod report;

use executors::{CondvarExec, Exec, MpscExec, MutexDirect, PyKx, Qthr};
use measure::{can_pin_0_and_1, ping_pong, rounds, throughput, throughput_on, window};
use qthr::ffi::*;
use report::Report;
use std::ffi::c_void;
use std::sync::Mutex;
use std::thread;
use std::time::Duration;

// ---------------------------------------------------------------- allocations

#[global_allocator]
static GLOBAL: common::Counting = common::Counting;

fn main() {
    // `cargo bench` passes --bench; `cargo test --benches` passes nothing useful:
    // a quick smoke run is enough there.
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let cores = thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "qthr benchmark: {cores} cores, {} rounds, window {:?} per figure",
        rounds(),
        window()
    );
    let mut r = Report { rows: Vec::new() };
    let qthr = Qthr::new();
    // With two CPUs or more: the same figures with the threads pinned to CPUs
    // 0 and 1, so the scheduler's and the hypervisor's placement drop out.
    let pinned = can_pin_0_and_1().then(|| Qthr::on_cpu(1));
    let pykx = PyKx::new();
    let cv = CondvarExec::new();
    let ch = MpscExec::new();
    let direct = MutexDirect(Mutex::new(()));
    let execs: [(&str, &dyn Exec); 5] = [
        ("qthr_call", &qthr),
        ("baseline_pykx", &pykx),
        ("baseline_condvar", &cv),
        ("baseline_mpsc", &ch),
        ("ref_mutex_direct", &direct),
    ];
    for _ in 0..rounds() {
        r.add("spin_ping_pong", 1, 1e9 / ping_pong(None));
        if let Some(q) = &pinned {
            r.add("spin_ping_pong_pinned", 1, 1e9 / ping_pong(Some((0, 1))));
            r.add(
                "qthr_call_pinned",
                1,
                throughput_on(q, 1, Some(0), 1, |e| {
                    e.call(1);
                }),
            );
        }
        r.add(
            "qthr_submit_wait",
            1,
            throughput(&qthr, 1, 1, |e| {
                e.submit_wait(1);
            }),
        );
        for callers in [1, 2, 8, 16] {
            for (name, e) in execs {
                r.add(
                    name,
                    callers,
                    throughput(e, callers, 1, |e| {
                        e.call(1);
                    }),
                );
            }
            r.add(
                "qthr_batch64",
                callers,
                throughput(&qthr, callers, 64, |e| {
                    let mut futs = [std::ptr::null_mut(); 64];
                    e.batch(64, &mut futs);
                }),
            );
        }
    }
    r.print();
    let pp = 1e9 / r.get("spin_ping_pong", 1);
    drop((pykx, cv, ch));

    // Allocations per call / per submit+wait, after a warm-up.
    for _ in 0..1000 {
        qthr.call(1);
        qthr.submit_wait(1);
    }
    // Let both threads park once: parking_lot_core allocates a thread's parking
    // data the first time it parks (once per thread, not per call).
    unsafe extern "C" fn sleep_2ms(_: *mut c_void) -> *mut c_void {
        thread::sleep(Duration::from_millis(2));
        std::ptr::null_mut()
    }
    // SAFETY: live runtime, valid job.
    unsafe {
        qthr_call(
            qthr.0,
            Some(sleep_2ms),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
        )
    };
    thread::sleep(Duration::from_millis(5));
    let a0 = common::allocations();
    for _ in 0..10_000 {
        qthr.call(1);
    }
    let a1 = common::allocations();
    for _ in 0..10_000 {
        qthr.submit_wait(1);
    }
    let a2 = common::allocations();
    let per_call = (a1 - a0) as f64 / 10_000.0;
    let per_submit = (a2 - a1) as f64 / 10_000.0;

    // Idle CPU over one second after a burst.
    for _ in 0..100_000 {
        qthr.call(1);
    }
    thread::sleep(Duration::from_millis(10));
    let c0 = common::cpu_time();
    thread::sleep(Duration::from_secs(1));
    let idle_pct = (common::cpu_time() - c0).as_secs_f64() * 100.0;
    println!("allocations per qthr_call: {per_call:.3}; per submit+wait: {per_submit:.3}; idle CPU: {idle_pct:.2}%");
    println!("{{\"bench\":\"allocs_per_call\",\"value\":{per_call}}}");
    println!("{{\"bench\":\"allocs_per_submit_wait\",\"value\":{per_submit}}}");
    println!("{{\"bench\":\"idle_cpu_percent\",\"value\":{idle_pct:.3}}}");
    let has_pinned = pinned.is_some();
    drop((qthr, pinned));

    // Targets (issue 3), as ratios measured in this run.
    println!("\ntargets (ratios from this run):");
    let ns = |b: &str, c: usize| 1e9 / r.get(b, c) * c as f64;
    let check = |what: &str, value: f64, ok: bool| {
        println!(
            "  [{}] {what}: {value:.2}",
            if ok { "met " } else { "MISS" }
        );
    };
    let x = ns("qthr_call", 1) / pp;
    check("qthr_call 1 caller / spin ping-pong (<= 2.0)", x, x <= 2.0);
    if has_pinned {
        let x = ns("qthr_call_pinned", 1) / ns("spin_ping_pong_pinned", 1);
        println!("  [info] the same, both pinned (caller CPU 0, worker CPU 1): {x:.2}");
    }
    let x = ns("baseline_pykx", 1) / ns("qthr_call", 1);
    check(
        "qthr_call speed-up over PyKX-style, 1 caller (>= 25)",
        x,
        x >= 25.0,
    );
    let x = r.get("qthr_call", 8) / r.get("baseline_pykx", 8);
    check(
        "8 callers: qthr_call / PyKX-style throughput (>= 40)",
        x,
        x >= 40.0,
    );
    let x = r.get("qthr_call", 8) / r.get("ref_mutex_direct", 8);
    check(
        "8 callers: qthr_call / mutex-direct throughput (>= 0.15)",
        x,
        x >= 0.15,
    );
    let x = r.get("qthr_batch64", 8) / r.get("ref_mutex_direct", 8);
    check(
        "8 callers: pipelined batches / mutex-direct (>= 0.5)",
        x,
        x >= 0.5,
    );
    let x = r.get("qthr_call", 16) / r.get("qthr_call", 8);
    check(
        "qthr_call 16 callers / 8 callers throughput (>= 0.8)",
        x,
        x >= 0.8,
    );
    check("idle CPU % over 1 s (< 1)", idle_pct, idle_pct < 1.0);
    check("allocations per qthr_call (0)", per_call, per_call == 0.0);
    check(
        "allocations per submit+wait, amortised (~0)",
        per_submit,
        per_submit < 0.01,
    );
}
