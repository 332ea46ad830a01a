//! The executor: one worker thread per runtime, its lifecycle, submission,
//! waiting (including re-entrant waits on the worker) and shutdown.
//!
//! This module knows nothing of the C ABI; `ffi.rs` and `api.rs` are thin layers
//! over it.

use crate::error::Error;
use crate::fork;
use crate::future::{deadline_after, Continuation, Job, JobFn, Kind, Outcome, OwnerId, Slot};
use crate::mailbox::{Handoff, Mailboxes};
use crate::park;
use crate::pool::{self, SlotBox};
use crate::queue::{JobQueue, Lane, Refused};
use crate::stats::{Stats, WorkerCounters};
use crossbeam_utils::CachePadded;
use parking_lot::Mutex;
use std::cell::Cell;
use std::ffi::c_void;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr::{self, NonNull};
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Instant;

/// The largest queue capacity accepted (the ring is allocated up front).
pub const MAX_QUEUE_CAPACITY: usize = 1 << 24;

/// Marks a worker's sleep key while it waits inside a job for another runtime:
/// only submits to its calls lane wake it (keys are addresses: bit 0 is free).
const CALLS_ONLY: usize = 1;

/// How many jobs a worker may run nested inside waits (see `wait_serving`).
/// Beyond it, a wait just waits: chains of runtimes calling back into each
/// other deeper than this may deadlock instead of overflowing the stack.
const MAX_NESTED: u32 = 64;

/// Linux limits thread names to 15 bytes.
const THREAD_NAME_MAX: usize = 15;

/// A hook run on the worker before any job; an `Err` aborts the start.
pub type StartHook = Box<dyn FnOnce() -> Result<(), String> + Send>;
/// A hook run on the worker after the last job.
pub type StopHook = Box<dyn FnOnce() + Send>;
/// A hook run by `FutureRef::interrupt` on the INTERRUPTING thread while a job
/// runs: asks the engine to stop it (sqlite3_interrupt, setting a flag...).
pub type InterruptHook = Box<dyn Fn() + Send + Sync>;

/// How to start a runtime.
pub struct Config {
    /// The worker thread's name (truncated to the OS limit).
    pub thread_name: String,
    /// How many jobs may be queued at once (1..=MAX_QUEUE_CAPACITY).
    pub queue_capacity: usize,
    /// A full queue makes submitters fail with `QueueFull` instead of waiting.
    pub nonblocking: bool,
    /// Pin the worker to this CPU.
    pub cpu: Option<usize>,
    /// Runs on the worker before any job (load the engine here).
    pub on_start: Option<StartHook>,
    /// Runs on the worker after the last job.
    pub on_stop: Option<StopHook>,
    /// Runs on an interrupting thread while a job runs (see `InterruptHook`).
    pub on_interrupt: Option<InterruptHook>,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            thread_name: "qthr".to_owned(),
            queue_capacity: 4096,
            nonblocking: false,
            cpu: None,
            on_start: None,
            on_stop: None,
            on_interrupt: None,
        }
    }
}

/// Per-job options (see `Executor::submit_with`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SubmitOptions {
    /// The job must START before this instant, or it never runs and resolves
    /// as expired.
    pub deadline: Option<Instant>,
    /// Runs before every queued normal job (FIFO among urgent jobs).
    pub urgent: bool,
}

/// How `shutdown` treats jobs still queued.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ShutdownMode {
    /// Run every queued job, then stop.
    Drain,
    /// Resolve every queued job as cancelled, then stop.
    Cancel,
}

thread_local! {
    /// The runtime whose worker this thread is (null elsewhere).
    static CURRENT: Cell<*const Shared> = const { Cell::new(ptr::null()) };
    /// Jobs this worker runs nested inside waits for other runtimes.
    static NESTED: Cell<u32> = const { Cell::new(0) };
}

fn current_worker() -> *const Shared {
    CURRENT.try_with(|c| c.get()).unwrap_or(ptr::null())
}

/// State shared by the handle and the worker thread.
pub(crate) struct Shared {
    queue: JobQueue,
    /// The fast lane of synchronous calls from non-worker threads.
    mailbox: Mailboxes,
    /// Non-zero while the worker sleeps: the parking key it sleeps on (its idle
    /// key, or the slot of a foreign future it waits for inside a job).
    sleep_key: CachePadded<AtomicUsize>,
    /// Set by `shutdown(Cancel)`: queued jobs are cancelled instead of run.
    cancel_mode: AtomicBool,
    nonblocking: bool,
    fork_gen: u64,
    name: String,
    counters: WorkerCounters,
    join: Mutex<Option<JoinHandle<()>>>,
    /// The CPU the worker last went idle on (-1: unknown). Callers on that
    /// CPU yield instead of spinning (a spinning caller would keep the worker
    /// it waits for off the CPU). Written only when it changes.
    worker_cpu: CachePadded<AtomicI32>,
    /// Set by the worker once its loop and on_stop are done (its address is a
    /// parking key): lets another runtime's worker wait for it while serving
    /// its own calls lane, instead of blocking in `join`.
    /// (Cache-padded, hence aligned: its address is a parking key whose bit 0
    /// must be free for `CALLS_ONLY`.)
    exited: CachePadded<AtomicBool>,
    /// The address of this word is the worker's idle parking key (aligned:
    /// bit 0 is free for `CALLS_ONLY`).
    idle_key: u64,
    on_interrupt: Option<InterruptHook>,
}

impl Shared {
    fn id(&self) -> OwnerId {
        self as *const Shared as OwnerId
    }

    fn exited_key(&self) -> usize {
        &*self.exited as *const AtomicBool as usize
    }

    fn idle_key(&self) -> usize {
        &self.idle_key as *const u64 as usize
    }

    fn is_current_worker(&self) -> bool {
        ptr::eq(current_worker(), self)
    }

    /// Wakes the worker if it sleeps. Called after every push; `calls_lane`:
    /// the jobs went to the calls lane. A worker that waits inside a job for
    /// another runtime (its sleep key carries `CALLS_ONLY`) is woken only for
    /// the calls lane, the only one it serves then.
    fn wake_worker(&self, calls_lane: bool) {
        // SeqCst: the submitter reserved with a SeqCst RMW on the gate (and
        // pushed with a SeqCst CAS), then loads this flag; the worker stores the
        // flag (SeqCst), then loads the gate or the calls ring (SeqCst). In the
        // single total order one of them sees the other: either the worker sees
        // the job and does not sleep, or we see the flag.
        let key = self.sleep_key.load(Ordering::SeqCst);
        if key != 0 && (calls_lane || key & CALLS_ONLY == 0) {
            let won = self
                .sleep_key
                .compare_exchange(key, 0, Ordering::SeqCst, Ordering::Relaxed);
            if won.is_ok() {
                park::unpark_all(key & !CALLS_ONLY);
            }
        }
    }

    /// Runs (or, in cancel mode, cancels) one popped job. Worker thread only.
    fn process(&self, p: *const Slot) {
        // SAFETY: a queued slot is alive: Call slots until their waiting caller
        // sees them resolved, Shared slots until the queue's reference is dropped.
        let (kind, deadline) = unsafe { ((*p).kind(), (*p).deadline()) };
        self.counters.popped();
        // Each job is counted before its slot resolves: a thread whose wait
        // returned sees it in the stats.
        if self.cancel_mode.load(Ordering::Relaxed) {
            self.counters.cancelled();
            // SAFETY: alive (above). The worker is the only thread that starts
            // jobs, so this can only fail to cancel an already cancelled one.
            unsafe { Slot::cancel(p) };
        } else if deadline.is_some_and(|d| Instant::now() >= d) {
            // Missed its deadline: resolve it without running it.
            self.counters.expired();
            // SAFETY: alive (above); fails only if it was already resolved.
            unsafe { Slot::expire(p) };
        } else {
            // SAFETY: alive (above).
            match unsafe { (*p).start() } {
                Ok(job) => {
                    // SAFETY: the submitter vouched for func/arg (C contract).
                    let result = unsafe { (job.func)(job.arg) };
                    self.counters.completed();
                    // SAFETY: we started it; after this a Call slot is not touched.
                    unsafe { Slot::complete(p, result) };
                    if kind == Kind::Shared {
                        // SAFETY: the queue's reference keeps a Shared slot alive.
                        unsafe { (*p).wait_interrupters() };
                    }
                }
                Err(Outcome::Expired) => self.counters.expired(),
                Err(_) => self.counters.cancelled(),
            }
        }
        if kind == Kind::Shared {
            release(p);
        }
    }

    /// Runs (or, in cancel mode, cancels) a job posted to the mailbox; false if
    /// there is none. Worker thread only.
    fn serve_mailbox(&self) -> bool {
        let mut served = false;
        for m in self.mailbox.all() {
            served |= self.served_call(m.serve(|func, arg| self.run_call(func, arg)));
        }
        served
    }

    /// After a mailbox hand-over that may have served a call (`served`).
    fn served_call(&self, served: bool) -> bool {
        if served {
            self.counters.end_call();
        }
        served
    }

    /// Runs or cancels one mailbox job, counting it.
    fn run_call(&self, func: JobFn, arg: *mut c_void) -> Option<*mut c_void> {
        self.counters.begin_call();
        self.counters.popped();
        if self.cancel_mode.load(Ordering::Relaxed) {
            self.counters.cancelled();
            return None;
        }
        // SAFETY: the caller vouched for func/arg (C contract).
        let r = unsafe { func(arg) };
        self.counters.completed();
        Some(r)
    }

    /// Drains queued jobs and mailbox calls. Worker thread only. Returns how
    /// many it processed.
    fn drain(&self) -> usize {
        let mut n = 0;
        loop {
            // The mailbox between two queued jobs: a call waits for at most one.
            if self.serve_mailbox() {
                n += 1;
            }
            match self.queue.pop() {
                Some(p) => self.process(p),
                None if self.mailbox.has_request() => continue,
                None => return n,
            }
            n += 1;
        }
    }

    /// Spins, then sleeps until work arrives or the queue closes. Worker only.
    fn idle(&self) {
        let has_work =
            || self.queue.len() != 0 || self.queue.is_closed() || self.mailbox.has_request();
        // A short free spin first, without clock reads or the CPU lookup below:
        // a caller that just got its result is usually about to post again.
        if park::spin_briefly(has_work) {
            return;
        }
        let cpu = park::current_cpu();
        // Relaxed: a scheduling hint, guarding no data. Compare first so the
        // line is written (and bounced to callers) only when the worker moved.
        if self.worker_cpu.load(Ordering::Relaxed) != cpu {
            self.worker_cpu.store(cpu, Ordering::Relaxed);
        }
        if park::spin_for(park::WORKER_SPIN, None, has_work) {
            return;
        }
        let key = self.idle_key();
        // SeqCst: see `wake_worker`.
        self.sleep_key.store(key, Ordering::SeqCst);
        if has_work() {
            self.sleep_key.store(0, Ordering::Relaxed);
            return;
        }
        park::park(key, None, || self.sleep_key.load(Ordering::SeqCst) == key);
        self.sleep_key.store(0, Ordering::Relaxed);
    }

    /// Waits, on this runtime's worker, for a slot: for a job of this runtime,
    /// runs the queue up to it; for another runtime's job, runs this runtime's
    /// calls lane meanwhile (so a job waiting for another runtime whose job
    /// calls back into this one does not deadlock).
    fn wait_on_worker(&self, p: *const Slot, deadline: Option<Instant>) -> Result<Outcome, Error> {
        // SAFETY: the caller holds a reference to (or owns) the slot.
        let s = unsafe { &*p };
        let own = s.owner() == self.id();
        if deadline.is_some_and(|d| Instant::now() >= d) {
            // A poll: report, without running this worker's queue meanwhile.
            return s.outcome().ok_or(Error::Timeout);
        }
        if own {
            // Our own job: it is queued behind us (run the queue up to it) or
            // running, i.e. somewhere up this very stack.
            loop {
                if let Some(o) = s.outcome() {
                    return Ok(o);
                }
                if let Some(q) = self.queue.pop() {
                    self.process(q);
                    continue;
                }
                if deadline.is_some_and(|d| Instant::now() >= d) {
                    return Err(Error::Timeout);
                }
                // Not resolved and not queued. (Check once more: a canceller
                // may have won.)
                return s.outcome().ok_or(Error::WouldDeadlock);
            }
        }
        // Another runtime's job: wait for it, serving our calls lane (see
        // `wait_serving`).
        let resolved = || s.phase() >= crate::future::DONE;
        let park_on = |until: Option<Instant>, wanted: &dyn Fn() -> bool| {
            s.park_until_resolved(until, wanted)
        };
        if self.wait_serving(deadline, s.key(), resolved, park_on) {
            Ok(s.outcome().expect("resolved"))
        } else {
            Err(Error::Timeout)
        }
    }

    /// Waits, on this runtime's worker, until `done()` or `deadline`; false on
    /// timeout. `park_on(until, wanted)` parks once on the condition's parking
    /// key (`key`) while `wanted()` holds; whoever makes `done()` true unparks it.
    ///
    /// Meanwhile the worker runs the jobs of its calls lane -- jobs submitted
    /// by other runtimes' workers, e.g. the runtime we wait for calling back
    /// into this one -- so runtimes calling each other do not deadlock. It does
    /// not run its main lane: a steady flow of jobs that each wait for another
    /// runtime would otherwise nest without bound and overflow the stack. At
    /// most `MAX_NESTED` jobs nest on one thread this way.
    fn wait_serving(
        &self,
        deadline: Option<Instant>,
        key: usize,
        done: impl Fn() -> bool,
        park_on: impl Fn(Option<Instant>, &dyn Fn() -> bool),
    ) -> bool {
        loop {
            if done() {
                return true;
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return false;
            }
            let may_serve = NESTED.with(Cell::get) < MAX_NESTED;
            if may_serve {
                if let Some(p) = self.queue.pop_call() {
                    NESTED.with(|n| n.set(n.get() + 1));
                    self.process(p);
                    NESTED.with(|n| n.set(n.get() - 1));
                    continue;
                }
                if self.queue.has_calls() {
                    // Room reserved but not yet pushed: let the submitter run.
                    std::thread::yield_now();
                    continue;
                }
            }
            let ready = || done() || (may_serve && self.queue.has_calls());
            if park::spin_then_yield(park::CALLER_SPIN, deadline, ready) {
                continue;
            }
            if !may_serve {
                park_on(deadline, &|| true);
                continue;
            }
            let flagged = key | CALLS_ONLY;
            // SeqCst: the Dekker pair of `wake_worker`: a submitter to our calls
            // lane sees the key and unparks it.
            self.sleep_key.store(flagged, Ordering::SeqCst);
            crate::sync::dekker_fence();
            if !self.queue.has_calls() {
                park_on(deadline, &|| {
                    self.sleep_key.load(Ordering::SeqCst) == flagged
                });
            }
            self.sleep_key.store(0, Ordering::Relaxed);
        }
    }

    /// Reserves room in this queue's calls lane from the worker `me` of another
    /// runtime: runs `me`'s calls lane while it waits, and sleeps so that
    /// either room here or a job for `me` wakes it.
    fn reserve_from_worker(&self, me: &Shared, n: usize) -> Result<(), Refused> {
        loop {
            match self.queue.try_reserve(n, Lane::Calls) {
                Err(Refused::Full) => {}
                other => return other,
            }
            let q = &self.queue;
            let park_on = |until: Option<Instant>, wanted: &dyn Fn() -> bool| {
                q.park_for_room(n, Lane::Calls, until, wanted)
            };
            let fits = || q.fits_or_closed(n, Lane::Calls);
            me.wait_serving(None, q.room_key(), fits, park_on);
        }
    }

    /// Reserves room and pushes slots made by `make` (called once per job, after
    /// the reservation succeeded, so a batch is queued all-or-nothing).
    fn enqueue(
        &self,
        n: usize,
        urgent: bool,
        mut make: impl FnMut(usize) -> *const Slot,
    ) -> Result<(), Error> {
        if n > self.queue.capacity() {
            return Err(Error::InvalidArgument);
        }
        // Jobs from another runtime's worker go to the calls lane, which that
        // runtime's worker serves even while it waits for another runtime (and
        // before its main lane: urgent or not, they are served early).
        let me = current_worker();
        let lane = if !me.is_null() && !ptr::eq(me, self) {
            Lane::Calls
        } else if urgent {
            Lane::Urgent
        } else {
            Lane::Main
        };
        // The worker never waits for its own queue to make room: it is the one
        // that would make it. Another runtime's worker waits, but keeps serving
        // its own calls lane meanwhile (two workers filling each other's queues
        // would otherwise wait for each other forever).
        let reserved = if self.nonblocking || ptr::eq(me, self) {
            self.queue.try_reserve(n, lane)
        } else if !me.is_null() {
            // SAFETY: CURRENT is set only while this thread runs that worker
            // loop, which holds a reference to its Shared.
            self.reserve_from_worker(unsafe { &*me }, n)
        } else {
            self.queue.reserve(n, lane)
        };
        match reserved {
            Ok(()) => {}
            Err(Refused::Closed) => return Err(Error::Shutdown),
            Err(Refused::Full) => return Err(Error::QueueFull),
            Err(Refused::NoMemory) => return Err(Error::NoMemory),
        }
        for i in 0..n {
            self.queue.push(make(i), lane);
        }
        self.wake_worker(lane == Lane::Calls);
        Ok(())
    }
}

/// A called job was cancelled: runs its release hook; returns the error.
fn never_ran(job: &Job) -> Error {
    if let Some(hook) = job.on_cancel {
        // SAFETY: the job never ran; the hook releases its argument.
        unsafe { hook(job.arg) };
    }
    Error::Cancelled
}

/// Drops one reference to a Shared slot, recycling it when it was the last.
fn release(p: *const Slot) {
    // SAFETY: the caller owns one reference, so the slot is alive.
    if unsafe { (*p).release_ref() } {
        // SAFETY: that was the last reference.
        pool::give(unsafe { SlotBox::from_raw(p) });
    }
}

/// Waits for any slot from any thread, choosing the right strategy.
fn wait_slot(p: *const Slot, deadline: Option<Instant>) -> Result<Outcome, Error> {
    wait_slot_on(p, deadline, false)
}

/// As `wait_slot`, with a hint that the worker last ran on this CPU.
fn wait_slot_on(
    p: *const Slot,
    deadline: Option<Instant>,
    same_cpu: bool,
) -> Result<Outcome, Error> {
    // SAFETY: the caller holds a reference to (or owns) the slot.
    let s = unsafe { &*p };
    if let Some(o) = s.outcome() {
        return Ok(o);
    }
    if s.fork_gen() != fork::generation() {
        return Err(Error::Forked);
    }
    let me = current_worker();
    if !me.is_null() {
        // SAFETY: CURRENT is set only while this thread runs that worker loop,
        // which holds a reference to its Shared.
        return unsafe { &*me }.wait_on_worker(p, deadline);
    }
    s.wait(deadline, same_cpu).ok_or(Error::Timeout)
}

/// A running runtime (the owning handle). Dropping it shuts the runtime down
/// with `Drain` and joins the worker (see `Drop`).
pub struct Executor {
    shared: Arc<Shared>,
}

impl Executor {
    /// Starts the worker and runs `on_start` on it. Returns once `on_start` has
    /// finished; if it fails, the worker is joined and `StartFailed` returned.
    pub fn start(config: Config) -> Result<Executor, Error> {
        let Config {
            thread_name,
            queue_capacity,
            nonblocking,
            cpu,
            on_start,
            on_stop,
            on_interrupt,
        } = config;
        if queue_capacity == 0 || queue_capacity > MAX_QUEUE_CAPACITY {
            return Err(Error::InvalidArgument);
        }
        if cpu.is_some_and(|c| c >= libc::CPU_SETSIZE as usize) {
            return Err(Error::InvalidArgument);
        }
        fork::install();
        park::init();
        let name = os_thread_name(&thread_name);
        let Some(queue) = JobQueue::new(queue_capacity) else {
            log::error!("qthr '{name}': no memory for a queue of {queue_capacity} jobs");
            return Err(Error::NoMemory);
        };
        let shared = Arc::new(Shared {
            queue,
            mailbox: Mailboxes::new(),
            sleep_key: CachePadded::new(AtomicUsize::new(0)),
            cancel_mode: AtomicBool::new(false),
            nonblocking,
            fork_gen: fork::generation(),
            name: name.clone(),
            counters: WorkerCounters::default(),
            join: Mutex::new(None),
            worker_cpu: CachePadded::new(AtomicI32::new(-1)),
            exited: CachePadded::new(AtomicBool::new(false)),
            idle_key: 0,
            on_interrupt,
        });
        let (ready_tx, ready_rx) = std::sync::mpsc::sync_channel::<Result<(), String>>(1);
        let worker = shared.clone();
        let spawned = std::thread::Builder::new()
            .name(name.clone())
            .spawn(move || worker_main(worker, cpu, on_start, on_stop, ready_tx));
        let handle = match spawned {
            Ok(h) => h,
            Err(e) => {
                log::error!("qthr '{name}': cannot start the worker thread: {e}");
                return Err(if e.kind() == std::io::ErrorKind::OutOfMemory {
                    Error::NoMemory
                } else {
                    Error::StartFailed
                });
            }
        };
        match ready_rx.recv() {
            Ok(Ok(())) => {
                *shared.join.lock() = Some(handle);
                log::info!("qthr '{name}': worker started (queue capacity {queue_capacity})");
                Ok(Executor { shared })
            }
            Ok(Err(why)) => {
                let _ = handle.join();
                log::error!("qthr '{name}': start failed: {why}");
                Err(Error::StartFailed)
            }
            Err(_) => {
                let _ = handle.join();
                log::error!("qthr '{name}': the worker exited during start");
                Err(Error::StartFailed)
            }
        }
    }

    fn check_fork(&self) -> Result<(), Error> {
        if self.shared.fork_gen != fork::generation() {
            Err(Error::Forked)
        } else {
            Ok(())
        }
    }

    /// How many jobs the queue holds at most.
    pub fn queue_capacity(&self) -> usize {
        self.shared.queue.capacity()
    }

    /// True on this runtime's worker thread.
    pub fn on_worker(&self) -> bool {
        self.shared.is_current_worker()
    }

    /// The worker thread's name (as set on the OS thread).
    pub fn name(&self) -> &str {
        &self.shared.name
    }

    /// Queues a job. With `want_future`, returns a future; otherwise the job is
    /// fire-and-forget.
    pub fn submit(&self, job: Job, want_future: bool) -> Result<Option<FutureRef>, Error> {
        self.submit_with(job, SubmitOptions::default(), want_future)
    }

    /// Queues a job with per-job options (a deadline to start by, urgency).
    pub fn submit_with(
        &self,
        job: Job,
        opts: SubmitOptions,
        want_future: bool,
    ) -> Result<Option<FutureRef>, Error> {
        self.check_fork()?;
        let refs = if want_future { 2 } else { 1 };
        let slot = pool::take().ok_or(Error::NoMemory)?;
        // SAFETY: fresh from the pool, exclusively ours.
        unsafe {
            slot.arm(
                job,
                Kind::Shared,
                refs,
                self.shared.id(),
                self.shared.fork_gen,
            );
            if let Some(d) = opts.deadline {
                slot.set_deadline(d);
            }
        }
        let p = slot.into_raw();
        match self.shared.enqueue(1, opts.urgent, |_| p) {
            Ok(()) => Ok(want_future.then(|| FutureRef::from_slot(p))),
            Err(e) => {
                // SAFETY: never published; still exclusively ours.
                pool::give(unsafe { SlotBox::from_raw(p) });
                Err(e)
            }
        }
    }

    /// Queues `n` jobs at once (all or nothing) with a single worker wake-up.
    /// `job(i)` is asked for each job in order once room is reserved; `out(i, f)`
    /// receives each future when `want_futures`.
    pub fn submit_batch(
        &self,
        n: usize,
        mut job: impl FnMut(usize) -> Job,
        want_futures: bool,
        mut out: impl FnMut(usize, FutureRef),
    ) -> Result<(), Error> {
        self.check_fork()?;
        if n == 0 {
            return Ok(());
        }
        let refs = if want_futures { 2 } else { 1 };
        let (id, gen) = (self.shared.id(), self.shared.fork_gen);
        // Every slot first (all or nothing), then the reservation.
        let mut slots = pool::take_many(n).ok_or(Error::NoMemory)?;
        self.shared.enqueue(n, false, |i| {
            let slot = slots.pop().expect("one slot per job");
            // SAFETY: fresh from the pool, exclusively ours.
            unsafe { slot.arm(job(i), Kind::Shared, refs, id, gen) };
            let p = slot.into_raw();
            if want_futures {
                out(i, FutureRef::from_slot(p));
            }
            p
        })
    }

    /// Runs a job and waits for its result. On the worker itself the job runs
    /// inline. Allocates nothing once the thread's slot cache is warm.
    pub fn call(&self, job: Job) -> Result<*mut c_void, Error> {
        self.check_fork()?;
        if self.on_worker() {
            // SAFETY: the submitter vouched for func/arg (C contract).
            let r = unsafe { (job.func)(job.arg) };
            self.shared.counters.inline();
            return Ok(r);
        }
        // Relaxed: a hint (see Shared::worker_cpu).
        let same_cpu = || self.shared.worker_cpu.load(Ordering::Relaxed) == park::current_cpu();
        // The mailbox: from a thread that is not a worker (those use the calls
        // lane, see `enqueue`), when nothing is queued (so this thread's earlier
        // submits have been popped and run first).
        let mailbox = self.shared.mailbox.mine();
        let ticket = if current_worker().is_null() && self.shared.queue.main_is_idle() {
            mailbox.post(&job)
        } else {
            None
        };
        if let Some(ticket) = ticket {
            self.shared.wake_worker(false);
            // A posted call counts as a queued job; its mailbox's first one is
            // enough for the high-water mark.
            if ticket.is_first() {
                self.shared.queue.note_depth(1);
            }
            return match mailbox.wait(ticket, same_cpu()) {
                Handoff::Done(r) => Ok(r),
                Handoff::Cancelled => Err(never_ran(&job)),
            };
        }
        let slot = pool::take().ok_or(Error::NoMemory)?;
        // SAFETY: fresh from the pool, exclusively ours. Call slots carry no
        // cancel hook (see Slot::cancel).
        unsafe {
            slot.arm(
                Job {
                    on_cancel: None,
                    ..job
                },
                Kind::Call,
                0,
                self.shared.id(),
                self.shared.fork_gen,
            )
        };
        let p = slot.as_ptr();
        let result = self
            .shared
            .enqueue(1, false, |_| p)
            .and_then(|()| wait_slot_on(p, None, same_cpu()));
        // The slot is resolved (or was never queued): nobody else touches it.
        pool::give(slot);
        match result? {
            Outcome::Done(r) => Ok(r),
            Outcome::Cancelled | Outcome::Expired => Err(never_ran(&job)),
        }
    }

    /// Stops the runtime: no new jobs; queued jobs run (`Drain`) or are cancelled
    /// (`Cancel`); `on_stop` runs on the worker; the worker is joined. Idempotent
    /// and safe from any thread but the worker (`WouldDeadlock` there, and
    /// nothing is done). A later `Cancel` upgrades a `Drain` in progress.
    ///
    /// Called from another runtime's worker whose own exit this runtime's worker
    /// is waiting for (two jobs shutting each other's runtimes down), it closes
    /// the queue as asked but returns `WouldDeadlock` instead of waiting: the
    /// worker stops once its running job returns.
    pub fn shutdown(&self, mode: ShutdownMode) -> Result<(), Error> {
        self.check_fork()?;
        if self.on_worker() {
            return Err(Error::WouldDeadlock);
        }
        self.begin_shutdown(mode);
        let me = current_worker();
        if !me.is_null() {
            // Called from another runtime's worker: its calls lane may get jobs
            // our draining jobs wait for, so keep serving it until our worker is
            // done -- unless our worker (transitively) waits for its exit.
            let target = &self.shared;
            let _waiting = ExitWait::enter(me as usize, target.id() as usize)?;
            let key = target.exited_key();
            let exited = || target.exited.load(Ordering::SeqCst);
            let park_on = |until: Option<Instant>, wanted: &dyn Fn() -> bool| {
                park::park(key, until, || !exited() && wanted());
            };
            // SAFETY: CURRENT is set only while this thread runs that worker
            // loop, which holds a reference to its Shared.
            unsafe { &*me }.wait_serving(None, key, exited, park_on);
        }
        let mut join = self.shared.join.lock();
        if let Some(handle) = join.take() {
            if handle.join().is_err() {
                log::error!("qthr '{}': the worker thread panicked", self.shared.name);
            }
            log::info!("qthr '{}': worker stopped", self.shared.name);
        }
        Ok(())
    }

    fn begin_shutdown(&self, mode: ShutdownMode) {
        if mode == ShutdownMode::Cancel {
            // SeqCst: ordered before the close below, which the worker observes
            // before it pops the jobs this mode must cancel.
            self.shared.cancel_mode.store(true, Ordering::SeqCst);
        }
        self.shared.queue.close();
        self.shared.mailbox.close();
        // Wake it unconditionally: a sleeping worker must notice the close.
        let key = self.shared.sleep_key.swap(0, Ordering::SeqCst);
        if key != 0 {
            park::unpark_all(key & !CALLS_ONLY);
        }
    }

    /// A snapshot of the counters.
    pub fn stats(&self) -> Result<Stats, Error> {
        self.check_fork()?;
        let q = &self.shared.queue;
        let posted = || self.shared.mailbox.posted();
        Ok(self
            .shared
            .counters
            .snapshot(|| q.len(), posted, q.high_water()))
    }

    /// True if this runtime was created before a `fork()` (this is the child).
    pub fn is_forked(&self) -> bool {
        self.check_fork().is_err()
    }
}

impl Drop for Executor {
    fn drop(&mut self) {
        if self.is_forked() {
            // Fork child: the worker thread does not exist. Release the memory
            // without joining anything or running any job.
            // try_lock: a parent thread may have held the lock at fork time, and
            // it never unlocks in this process.
            if let Some(handle) = self.shared.join.try_lock().and_then(|mut j| j.take()) {
                std::mem::forget(handle);
            }
            // Queued jobs are abandoned, not drained: a parent thread may have
            // been half-way through a push at fork time, and popping that ring
            // here would spin forever waiting for a writer that does not exist.
            // The runtime's memory (ring, slots) is leaked with it.
            std::mem::forget(self.shared.clone());
            // Acquire: pairs with the worker's release store before it drops
            // its Arc in the parent (the child inherited that memory).
            return;
        }
        if self.on_worker() {
            // Freed from inside a job: stop taking jobs; the worker drains, runs
            // on_stop and exits on its own, dropping the last reference.
            self.begin_shutdown(ShutdownMode::Drain);
            drop(self.shared.join.lock().take()); // detach
            return;
        }
        let _ = self.shutdown(ShutdownMode::Drain);
    }
}

/// Which worker waits, inside a job, for which runtime's worker to exit
/// (`shutdown` called on a worker): (waiter, target) runtime addresses. Both
/// are alive while their pair is listed: the waiter's worker is running the
/// job, and the target's handle is borrowed by the waiting `shutdown`. Cold
/// path: a plain lock.
static EXIT_WAITS: Mutex<Vec<(usize, usize)>> = Mutex::new(Vec::new());

/// One listed wait; unlisted on drop.
struct ExitWait(usize, usize);

impl ExitWait {
    /// Lists `waiter` as waiting for `target` to exit, unless `target` already
    /// waits (directly or through others) for `waiter` to exit: then waiting
    /// would deadlock. Checking and listing under one lock means that of two
    /// workers shutting each other down, the second one sees the cycle.
    fn enter(waiter: usize, target: usize) -> Result<ExitWait, Error> {
        let mut waits = EXIT_WAITS.lock();
        let mut cur = target;
        // Each worker waits for at most one exit, so this is a chain (cycle-free:
        // every entry passed this check).
        while let Some(&(_, next)) = waits.iter().find(|(w, _)| *w == cur) {
            if next == waiter {
                return Err(Error::WouldDeadlock);
            }
            cur = next;
        }
        waits.push((waiter, target));
        Ok(ExitWait(waiter, target))
    }
}

impl Drop for ExitWait {
    fn drop(&mut self) {
        let mut waits = EXIT_WAITS.lock();
        if let Some(i) = waits.iter().position(|&(w, t)| (w, t) == (self.0, self.1)) {
            waits.swap_remove(i);
        }
    }
}

/// The worker thread's body.
fn worker_main(
    shared: Arc<Shared>,
    cpu: Option<usize>,
    on_start: Option<StartHook>,
    on_stop: Option<StopHook>,
    ready: std::sync::mpsc::SyncSender<Result<(), String>>,
) {
    let _ = CURRENT.try_with(|c| c.set(Arc::as_ptr(&shared)));
    let started = (|| {
        if let Some(cpu) = cpu {
            pin_to_cpu(cpu)?;
        }
        match on_start {
            Some(hook) => match catch_unwind(AssertUnwindSafe(hook)) {
                Ok(r) => r,
                Err(_) => Err("on_start panicked".to_owned()),
            },
            None => Ok(()),
        }
    })();
    let ok = started.is_ok();
    let _ = ready.send(started);
    drop(ready);
    if ok {
        loop {
            let ran = shared.drain();
            if shared.queue.is_finished() {
                break;
            }
            if ran == 0 && shared.queue.len() != 0 {
                // Room reserved but not yet pushed: the submitter may have been
                // preempted in between. Let it run rather than spin hot.
                std::thread::yield_now();
            }
            shared.idle();
        }
        // A call posted before the close runs (or is cancelled) like a queued job.
        for m in shared.mailbox.all() {
            shared.served_call(m.finish(|func, arg| shared.run_call(func, arg)));
        }
        if let Some(hook) = on_stop {
            if catch_unwind(AssertUnwindSafe(hook)).is_err() {
                log::error!("qthr '{}': on_stop panicked", shared.name);
            }
        }
        // SeqCst store, then unpark: a waiter checks `exited` under the parking
        // lot's lock (see wait_serving), so it either sees it or is woken.
        shared.exited.store(true, Ordering::SeqCst);
        park::unpark_all(shared.exited_key());
    }
    let _ = CURRENT.try_with(|c| c.set(ptr::null()));
}

fn pin_to_cpu(cpu: usize) -> Result<(), String> {
    // SAFETY: cpu_set_t is plain data; CPU_SET is bounds-checked by `start`.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        if libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) != 0 {
            return Err(format!(
                "cannot pin to CPU {cpu}: {}",
                std::io::Error::last_os_error()
            ));
        }
    }
    Ok(())
}

/// Truncates to the OS limit on a character boundary and drops NULs.
fn os_thread_name(name: &str) -> String {
    let name = name.split('\0').next().unwrap_or("");
    let mut end = name.len().min(THREAD_NAME_MAX);
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    name[..end].to_owned()
}

/// A reference to a future's completion slot. Dropping it releases the
/// reference; it never cancels the job.
pub struct FutureRef(NonNull<Slot>);

// SAFETY: the slot is designed for cross-thread use (see future.rs).
unsafe impl Send for FutureRef {}
// SAFETY: every method takes &self and goes through the slot's atomics.
unsafe impl Sync for FutureRef {}

impl FutureRef {
    fn from_slot(p: *const Slot) -> FutureRef {
        FutureRef(NonNull::new(p as *mut Slot).expect("non-null slot"))
    }

    fn slot(&self) -> &Slot {
        // SAFETY: we hold a reference.
        unsafe { self.0.as_ref() }
    }

    /// Waits until resolved or `timeout_ns` passes (<0 forever, 0 poll).
    /// `Ok(result)` once done; `Err(Cancelled)` if the job never ran.
    pub fn wait(&self, timeout_ns: i64) -> Result<*mut c_void, Error> {
        self.wait_until(deadline_after(timeout_ns))
    }

    /// Waits until resolved or the deadline passes (None: forever). A job
    /// with a deadline of its own that has not started by then is expired by
    /// this wait (no timer thread: whoever waits, or the worker reaching it).
    pub fn wait_until(&self, deadline: Option<Instant>) -> Result<*mut c_void, Error> {
        let p = self.0.as_ptr();
        let mut expires = self.slot().deadline();
        loop {
            let until = match (deadline, expires) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            match wait_slot(p, until) {
                Ok(Outcome::Done(r)) => return Ok(r),
                Ok(Outcome::Cancelled) => return Err(Error::Cancelled),
                Ok(Outcome::Expired) => return Err(Error::Expired),
                Err(Error::Timeout) if expires.is_some_and(|e| Instant::now() >= e) => {
                    // SAFETY: we hold a reference. If the job started meanwhile
                    // this fails, and we wait for it with the caller's deadline.
                    unsafe { Slot::expire(p) };
                    expires = None;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// The outcome, if resolved (never blocks).
    pub fn outcome(&self) -> Option<Outcome> {
        self.slot().outcome()
    }

    /// Cancels the job if it has not started. `Ok` if it will never run.
    pub fn cancel(&self) -> Result<(), Error> {
        let s = self.slot();
        if s.outcome().is_none() && s.fork_gen() != fork::generation() {
            return Err(Error::Forked);
        }
        // SAFETY: we hold a reference.
        if unsafe { Slot::cancel(self.0.as_ptr()) } {
            Ok(())
        } else {
            Err(Error::NotCancellable)
        }
    }

    /// Withdraws the job if it has not started (like `cancel`); if it is
    /// running and its runtime has an interrupt hook, calls the hook on this
    /// thread. `Ok` in both cases; `NotCancellable` if it is running without a
    /// hook, or already resolved.
    pub fn interrupt(&self) -> Result<(), Error> {
        let s = self.slot();
        if s.outcome().is_none() && s.fork_gen() != fork::generation() {
            return Err(Error::Forked);
        }
        // SAFETY: we hold a reference.
        if unsafe { Slot::cancel(self.0.as_ptr()) } {
            return Ok(());
        }
        let owner = s.owner() as *const Shared;
        let mut hooked = false;
        let called = s.interrupt_running(|| {
            // SAFETY: the job is running and the worker will not move on before
            // this returns (see Slot::interrupt_running), so its runtime's
            // Shared, which the worker holds, is alive.
            if let Some(hook) = &unsafe { &*owner }.on_interrupt {
                hooked = true;
                if catch_unwind(AssertUnwindSafe(hook)).is_err() {
                    log::error!("qthr: on_interrupt panicked");
                }
            }
        });
        if called && hooked {
            Ok(())
        } else {
            Err(Error::NotCancellable)
        }
    }

    /// Attaches a continuation (runs exactly once; see `Slot::then`).
    pub fn then(&self, cont: Continuation) -> Result<(), Error> {
        let s = self.slot();
        if s.outcome().is_none() && s.fork_gen() != fork::generation() {
            return Err(Error::Forked);
        }
        s.then(cont)
    }

    /// Gives up the Rust handle, keeping its reference (for FFI).
    pub fn into_raw(self) -> *const c_void {
        let p = self.0.as_ptr() as *const c_void;
        std::mem::forget(self);
        p
    }

    /// # Safety
    /// `p` must come from `into_raw` and its reference must not be used again.
    pub unsafe fn from_raw(p: *const c_void) -> FutureRef {
        FutureRef::from_slot(p as *const Slot)
    }
}

impl Drop for FutureRef {
    fn drop(&mut self) {
        release(self.0.as_ptr());
    }
}
