//! qthr's benchmark: qthr against the physical limit and against the executors
//! people use today, all measured in ONE run so the ratios are comparable on a
//! shared, noisy machine. Prints a table and the same figures as JSON lines.
//!
//!   cargo bench --bench qthr                 # full run (~40 s: 3 rounds)
//!   QTHR_BENCH_MS=100 QTHR_BENCH_ROUNDS=1 cargo bench --bench qthr   # quicker
//!
//! Every executor runs the same job: add the argument to an "engine" counter
//! that only the executing thread touches, and return it.

#[path = "../tests/common/mod.rs"]
mod common;

use qthr::ffi::*;
use std::collections::{LinkedList, VecDeque};
use std::ffi::c_void;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Barrier, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

// ---------------------------------------------------------------- allocations

#[global_allocator]
static GLOBAL: common::Counting = common::Counting;

// ---------------------------------------------------------------- the job

/// The engine's state: touched only by the thread that runs jobs (a relaxed
/// load + store, no RMW: it is single-threaded by construction).
static ENGINE: crossbeam_utils::CachePadded<AtomicUsize> =
    crossbeam_utils::CachePadded::new(AtomicUsize::new(0));

fn engine_job(x: usize) -> usize {
    let v = ENGINE.load(Ordering::Relaxed).wrapping_add(x);
    ENGINE.store(v, Ordering::Relaxed);
    v
}

unsafe extern "C" fn c_job(arg: *mut c_void) -> *mut c_void {
    engine_job(arg as usize) as *mut c_void
}

// ---------------------------------------------------------------- executors

trait Exec: Send + Sync {
    fn call(&self, x: usize) -> usize;
}

/// qthr through its C ABI.
struct Qthr(*mut qthr_runtime);
// SAFETY: qthr runtimes are designed to be shared between threads.
unsafe impl Send for Qthr {}
// SAFETY: as above.
unsafe impl Sync for Qthr {}

impl Qthr {
    fn new() -> Qthr {
        Qthr::on_cpu(-1)
    }

    /// A runtime whose worker is pinned to `cpu` (-1: not pinned).
    fn on_cpu(cpu: i32) -> Qthr {
        let mut cfg = std::mem::MaybeUninit::<qthr_config>::uninit();
        let mut rt = std::ptr::null_mut();
        // SAFETY: qthr_config_init_sized fills the whole struct; valid out-pointer.
        unsafe {
            qthr_config_init_sized(cfg.as_mut_ptr(), std::mem::size_of::<qthr_config>());
            let mut cfg = cfg.assume_init();
            cfg.cpu = cpu;
            assert_eq!(qthr_init(&cfg, &mut rt), qthr_status::QTHR_OK);
        }
        Qthr(rt)
    }

    fn submit_wait(&self, x: usize) -> usize {
        let mut f = std::ptr::null_mut();
        let mut r = std::ptr::null_mut();
        // SAFETY: live runtime, valid job and out-pointers; f freed once.
        unsafe {
            assert_eq!(
                qthr_submit(self.0, Some(c_job), x as *mut c_void, &mut f),
                qthr_status::QTHR_OK
            );
            assert_eq!(qthr_wait(f, -1, &mut r), qthr_status::QTHR_OK);
            qthr_future_free(f);
        }
        r as usize
    }

    /// Submits `n` jobs in one batch and waits for all of them.
    fn batch(&self, n: usize, futs: &mut [*mut qthr_future]) {
        let fns = [Some(c_job as unsafe extern "C" fn(*mut c_void) -> *mut c_void); 64];
        let args = [1usize as *mut c_void; 64];
        // SAFETY: n <= 64 entries; live runtime; futures freed once.
        unsafe {
            assert_eq!(
                qthr_submit_batch(self.0, n, fns.as_ptr(), args.as_ptr(), futs.as_mut_ptr()),
                qthr_status::QTHR_OK
            );
            for f in &futs[..n] {
                assert_eq!(
                    qthr_wait(*f, -1, std::ptr::null_mut()),
                    qthr_status::QTHR_OK
                );
                qthr_future_free(*f);
            }
        }
    }
}

impl Exec for Qthr {
    fn call(&self, x: usize) -> usize {
        let mut r = std::ptr::null_mut();
        // SAFETY: live runtime, valid job and out-pointer.
        assert_eq!(
            unsafe { qthr_call(self.0, Some(c_job), x as *mut c_void, &mut r) },
            qthr_status::QTHR_OK
        );
        r as usize
    }
}

impl Drop for Qthr {
    fn drop(&mut self) {
        // SAFETY: freed once.
        unsafe { qthr_free(self.0) };
    }
}

/// (a) PyKX's `_tcore.c` pattern: a linked list under one mutex; the worker
/// waits on a condvar and keeps the mutex locked while the job runs; the caller
/// loops lock / signal / unlock until its done flag is set.
struct PyKx {
    inner: Arc<PyKxInner>,
    worker: Option<thread::JoinHandle<()>>,
}
struct PyKxReq {
    x: usize,
    result: AtomicUsize,
    done: AtomicBool,
}
struct PyKxInner {
    queue: Mutex<LinkedList<Arc<PyKxReq>>>,
    cv: Condvar,
    stop: AtomicBool,
}

impl PyKx {
    fn new() -> PyKx {
        let inner = Arc::new(PyKxInner {
            queue: Mutex::new(LinkedList::new()),
            cv: Condvar::new(),
            stop: AtomicBool::new(false),
        });
        let i2 = inner.clone();
        let worker = thread::spawn(move || {
            let mut q = i2.queue.lock().unwrap();
            loop {
                while let Some(req) = q.pop_front() {
                    // The job runs with the queue mutex held, as in PyKX.
                    req.result.store(engine_job(req.x), Ordering::Relaxed);
                    req.done.store(true, Ordering::Release);
                }
                if i2.stop.load(Ordering::Relaxed) {
                    return;
                }
                q = i2.cv.wait(q).unwrap();
            }
        });
        PyKx {
            inner,
            worker: Some(worker),
        }
    }
}

impl Exec for PyKx {
    fn call(&self, x: usize) -> usize {
        let req = Arc::new(PyKxReq {
            x,
            result: AtomicUsize::new(0),
            done: AtomicBool::new(false),
        });
        self.inner.queue.lock().unwrap().push_back(req.clone());
        self.inner.cv.notify_one();
        while !req.done.load(Ordering::Acquire) {
            let g = self.inner.queue.lock().unwrap();
            self.inner.cv.notify_one();
            drop(g);
        }
        req.result.load(Ordering::Relaxed)
    }
}

impl Drop for PyKx {
    fn drop(&mut self) {
        self.inner.stop.store(true, Ordering::Relaxed);
        {
            let _g = self.inner.queue.lock().unwrap();
            self.inner.cv.notify_all();
        }
        self.worker.take().unwrap().join().unwrap();
    }
}

/// (b) A mutex + condvar queue, with a condvar per call for the reply.
struct CondvarExec {
    inner: Arc<CvInner>,
    worker: Option<thread::JoinHandle<()>>,
}
struct CvReq {
    x: usize,
    reply: Mutex<Option<usize>>,
    cv: Condvar,
}
struct CvInner {
    queue: Mutex<(VecDeque<Arc<CvReq>>, bool)>,
    cv: Condvar,
}

impl CondvarExec {
    fn new() -> CondvarExec {
        let inner = Arc::new(CvInner {
            queue: Mutex::new((VecDeque::new(), false)),
            cv: Condvar::new(),
        });
        let i2 = inner.clone();
        let worker = thread::spawn(move || loop {
            let req = {
                let mut q = i2.queue.lock().unwrap();
                loop {
                    if let Some(r) = q.0.pop_front() {
                        break r;
                    }
                    if q.1 {
                        return;
                    }
                    q = i2.cv.wait(q).unwrap();
                }
            };
            *req.reply.lock().unwrap() = Some(engine_job(req.x));
            req.cv.notify_one();
        });
        CondvarExec {
            inner,
            worker: Some(worker),
        }
    }
}

impl Exec for CondvarExec {
    fn call(&self, x: usize) -> usize {
        let req = Arc::new(CvReq {
            x,
            reply: Mutex::new(None),
            cv: Condvar::new(),
        });
        self.inner.queue.lock().unwrap().0.push_back(req.clone());
        self.inner.cv.notify_one();
        let mut r = req.reply.lock().unwrap();
        loop {
            if let Some(v) = *r {
                return v;
            }
            r = req.cv.wait(r).unwrap();
        }
    }
}

impl Drop for CondvarExec {
    fn drop(&mut self) {
        self.inner.queue.lock().unwrap().1 = true;
        self.inner.cv.notify_all();
        self.worker.take().unwrap().join().unwrap();
    }
}

/// (c) std mpsc with a reply channel per call.
type Request = (usize, mpsc::Sender<usize>);

struct MpscExec {
    tx: Mutex<Option<mpsc::Sender<Request>>>,
    worker: Option<thread::JoinHandle<()>>,
}

impl MpscExec {
    fn new() -> MpscExec {
        let (tx, rx) = mpsc::channel::<Request>();
        let worker = thread::spawn(move || {
            for (x, reply) in rx {
                let _ = reply.send(engine_job(x));
            }
        });
        MpscExec {
            tx: Mutex::new(Some(tx)),
            worker: Some(worker),
        }
    }
}

impl Exec for MpscExec {
    fn call(&self, x: usize) -> usize {
        let (rtx, rrx) = mpsc::channel();
        let tx = self.tx.lock().unwrap().as_ref().unwrap().clone();
        tx.send((x, rtx)).unwrap();
        rrx.recv().unwrap()
    }
}

impl Drop for MpscExec {
    fn drop(&mut self) {
        self.tx.lock().unwrap().take();
        self.worker.take().unwrap().join().unwrap();
    }
}

/// (d) A mutex-protected direct call on the caller's thread: NOT thread-affine
/// (an engine bound to one thread cannot be used like this). A reference ceiling.
struct MutexDirect(Mutex<()>);

impl Exec for MutexDirect {
    fn call(&self, x: usize) -> usize {
        let _g = self.0.lock().unwrap();
        engine_job(x)
    }
}

// ---------------------------------------------------------------- harness

fn window() -> Duration {
    let ms = std::env::var("QTHR_BENCH_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    Duration::from_millis(ms)
}

/// True if this process may run on CPUs 0 and 1 (a cpuset may forbid them).
fn can_pin_0_and_1() -> bool {
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
fn throughput<E: Sync + ?Sized>(
    e: &E,
    callers: usize,
    ops_per_iter: u64,
    op: impl Fn(&E) + Sync,
) -> f64 {
    throughput_on(e, callers, None, ops_per_iter, op)
}

/// `throughput` with every caller pinned to `pin`, if given.
fn throughput_on<E: Sync + ?Sized>(
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
fn ping_pong(pin: Option<(usize, usize)>) -> f64 {
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

/// Every figure is measured in several interleaved rounds; the table reports
/// the best round (the one least disturbed by whatever else the shared machine
/// was doing) and the median.
struct Row {
    bench: String,
    callers: usize,
    samples: Vec<f64>,
}

impl Row {
    fn best(&self) -> f64 {
        self.samples.iter().cloned().fold(f64::NAN, f64::max)
    }
    fn median(&self) -> f64 {
        let mut v = self.samples.clone();
        v.sort_by(|a, b| a.total_cmp(b));
        v[v.len() / 2]
    }
}

struct Report {
    rows: Vec<Row>,
}

impl Report {
    fn add(&mut self, bench: &str, callers: usize, ops: f64) {
        match self
            .rows
            .iter_mut()
            .find(|r| r.bench == bench && r.callers == callers)
        {
            Some(r) => r.samples.push(ops),
            None => self.rows.push(Row {
                bench: bench.to_owned(),
                callers,
                samples: vec![ops],
            }),
        }
    }
    fn get(&self, bench: &str, callers: usize) -> f64 {
        self.rows
            .iter()
            .find(|r| r.bench == bench && r.callers == callers)
            .map_or(f64::NAN, Row::best)
    }
    fn print(&self) {
        println!(
            "{:<22} {:>3} {:>12} {:>12} {:>12}",
            "benchmark", "thr", "ns/op (best)", "ops/s best", "ops/s median"
        );
        for r in &self.rows {
            let (best, median) = (r.best(), r.median());
            let ns = 1e9 / best * r.callers as f64;
            println!(
                "{:<22} {:>3} {:>12.0} {:>12.0} {:>12.0}",
                r.bench, r.callers, ns, best, median
            );
        }
        for r in &self.rows {
            let (best, median) = (r.best(), r.median());
            let ns = 1e9 / best * r.callers as f64;
            println!(
                "{{\"bench\":\"{}\",\"callers\":{},\"ops_per_s\":{best:.0},\"ops_per_s_median\":{median:.0},\"ns_per_op\":{ns:.1},\"rounds\":{}}}",
                r.bench,
                r.callers,
                r.samples.len()
            );
        }
    }
}

fn rounds() -> usize {
    std::env::var("QTHR_BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3)
        .max(1)
}

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
