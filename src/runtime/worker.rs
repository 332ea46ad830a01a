//! The worker: the state a runtime's handle shares with its worker thread,
//! the worker's loop (serve the mailboxes and the lanes, sleep when idle), and
//! how a job is submitted to it.

use super::config::{InterruptHook, StartHook, StopHook};
use super::reentry;
use super::thread::OsThread;
use crate::doorbell::Doorbell;
use crate::error::Error;
use crate::fork;
use crate::future::{self, Job, Kind, Outcome, OwnerId, Slot};
use crate::mailbox::Mailboxes;
use crate::park;
use crate::queue::{JobQueue, Lane, Refused};
use crate::stats::WorkerCounters;
use crate::sync::Mutex;
use crate::waiter;
use crossbeam_utils::CachePadded;
use std::ffi::c_void;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU32, Ordering};
use std::sync::Arc;

/// After this many jobs in a row from the calls lane, the worker takes one
/// from its main lane if it has one: another runtime's worker flooding the
/// calls lane cannot hold up the main lane for long (the calls lane is still
/// served first otherwise, and inside waits it is the only one served).
pub(crate) const FAIR_EVERY: u32 = 16;

const STARTING: u32 = 0;
const STARTED: u32 = 1;
const START_FAILED: u32 = 2;

/// State shared by the handle and the worker thread.
pub(crate) struct Shared {
    pub(crate) queue: JobQueue,
    /// The fast lane of synchronous calls from non-worker threads.
    pub(crate) mailbox: Mailboxes,
    pub(crate) doorbell: Doorbell,
    /// Set by `shutdown(Cancel)`: queued jobs are cancelled instead of run.
    pub(crate) cancel_mode: AtomicBool,
    pub(crate) nonblocking: bool,
    pub(crate) fork_gen: u64,
    pub(crate) name: String,
    pub(crate) counters: WorkerCounters,
    pub(crate) join: Mutex<Option<OsThread>>,
    /// The CPU the worker last went idle on (-1: unknown). Callers on that
    /// CPU yield instead of spinning (a spinning caller would keep the worker
    /// it waits for off the CPU). Written only when it changes.
    pub(crate) worker_cpu: CachePadded<AtomicI32>,
    /// STARTING until on_start returned, then STARTED or START_FAILED (its
    /// address is the parking key `qthr_init` waits on).
    started: CachePadded<AtomicU32>,
    start_error: Mutex<Option<String>>,
    /// Set by the worker once its loop and on_stop are done (its address is a
    /// parking key): lets another runtime's worker wait for it while serving
    /// its own calls lane, instead of blocking in `join`.
    exited: CachePadded<AtomicU32>,
    /// The address of this word is the worker's idle parking key.
    idle_key: u64,
    pub(crate) on_interrupt: Option<InterruptHook>,
}

/// Where the worker is in its fairness count (see `FAIR_EVERY`).
#[derive(Default)]
pub(crate) struct Fairness(u32);

impl Shared {
    pub(crate) fn new(
        queue: JobQueue,
        nonblocking: bool,
        name: String,
        on_interrupt: Option<InterruptHook>,
    ) -> Shared {
        Shared {
            queue,
            mailbox: Mailboxes::new(),
            doorbell: Doorbell::new(),
            cancel_mode: AtomicBool::new(false),
            nonblocking,
            fork_gen: fork::generation(),
            name,
            counters: WorkerCounters::default(),
            join: Mutex::new(None),
            worker_cpu: CachePadded::new(AtomicI32::new(-1)),
            started: CachePadded::new(AtomicU32::new(STARTING)),
            start_error: Mutex::new(None),
            exited: CachePadded::new(AtomicU32::new(0)),
            idle_key: 0,
            on_interrupt,
        }
    }

    pub(crate) fn id(&self) -> OwnerId {
        self as *const Shared as OwnerId
    }

    pub(crate) fn exited_key(&self) -> usize {
        &*self.exited as *const AtomicU32 as usize
    }

    pub(crate) fn start_key(&self) -> usize {
        &*self.started as *const AtomicU32 as usize
    }

    fn idle_key(&self) -> usize {
        &self.idle_key as *const u64 as usize
    }

    pub(crate) fn has_exited(&self) -> bool {
        // SeqCst: read under the parking lot's lock by waiters (waiter.rs).
        self.exited.load(Ordering::SeqCst) != 0
    }

    pub(crate) fn start_signalled(&self) -> bool {
        // SeqCst: as `has_exited`.
        self.started.load(Ordering::SeqCst) != STARTING
    }

    /// The start's result, once `start_signalled`.
    pub(crate) fn start_result(&self) -> Result<(), String> {
        if self.started.load(Ordering::SeqCst) == STARTED {
            Ok(())
        } else {
            Err(self.start_error.lock().take().unwrap_or_default())
        }
    }

    /// Waits (on an ordinary thread) for the worker to have run on_start.
    pub(crate) fn wait_start(&self) {
        let started = || self.start_signalled();
        if park::spin_then_yield(park::CALLER_SPIN, None, started) {
            return;
        }
        while !started() {
            // No announcement needed: the worker always wakes the start key.
            waiter::sleep(self.start_key(), None, || !started());
        }
    }

    fn signal_start(&self, result: Result<(), String>) {
        let state = match result {
            Ok(()) => STARTED,
            Err(why) => {
                *self.start_error.lock() = Some(why);
                START_FAILED
            }
        };
        // SeqCst store, then wake: a waiter checks the word under the parking
        // lot's lock (waiter.rs), so it either sees it or is woken.
        self.started.store(state, Ordering::SeqCst);
        waiter::wake_all(self.start_key());
    }

    /// `Forked` in a fork child: the worker this state belongs to is the
    /// parent's (or, after fork() in a job, this thread's copy must stop).
    pub(crate) fn check_not_forked(&self) -> Result<(), Error> {
        if self.fork_gen == fork::generation() {
            Ok(())
        } else {
            Err(Error::Forked)
        }
    }

    pub(crate) fn is_current_worker(&self) -> bool {
        ptr::eq(reentry::current_worker(), self)
    }

    /// The next job: urgent first, then the calls lane, then the main lane —
    /// except that the main lane gets a turn every `FAIR_EVERY` calls-lane jobs.
    pub(crate) fn next_job(&self, fair: &mut Fairness) -> Option<*const Slot> {
        if let Some(p) = self.queue.pop_urgent() {
            return Some(p);
        }
        if fair.0 >= FAIR_EVERY {
            fair.0 = 0;
            if let Some(p) = self.queue.pop_main() {
                return Some(p);
            }
        }
        if let Some(p) = self.queue.pop_call() {
            fair.0 += 1;
            return Some(p);
        }
        fair.0 = 0;
        self.queue.pop_main()
    }

    /// Runs (or, in cancel mode, cancels; past its deadline, expires) one
    /// popped job. Worker thread only.
    pub(crate) fn process(&self, p: *const Slot) {
        // SAFETY: a queued slot is alive: Call slots until their waiting caller
        // sees them resolved, Shared slots until the queue's reference is dropped.
        let (kind, missed) = unsafe { ((*p).kind(), (*p).missed_deadline()) };
        self.counters.popped();
        // Each job is counted before its slot resolves: a thread whose wait
        // returned sees it in the stats.
        if self.cancel_mode.load(Ordering::Relaxed) {
            self.counters.cancelled();
            // SAFETY: alive (above). Only the worker starts jobs, so this can
            // only fail for a job already resolved without running.
            unsafe { Slot::cancel(p) };
        } else if missed {
            // Missed its deadline: resolve it without running it.
            self.counters.expired();
            // SAFETY: alive (above); fails only if it was already resolved.
            unsafe { Slot::expire(p) };
        } else {
            // SAFETY: alive (above).
            match unsafe { (*p).start() } {
                Ok(job) => {
                    let result = job.run();
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
            // SAFETY: the queue's reference, given up here.
            unsafe { future::release(p) };
        }
    }

    /// Runs (or, in cancel mode, cancels) the jobs posted to the mailboxes;
    /// false if there was none. Worker thread only.
    fn serve_mailbox(&self) -> bool {
        let mut served = false;
        for m in self.mailbox.all() {
            served |= self.served_call(m.serve(|job| self.run_call(job)));
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
    fn run_call(&self, job: Job) -> Option<*mut c_void> {
        self.counters.begin_call();
        self.counters.popped();
        if self.cancel_mode.load(Ordering::Relaxed) {
            self.counters.cancelled();
            return None;
        }
        let r = job.run();
        self.counters.completed();
        Some(r)
    }

    /// Drains queued jobs and mailbox calls. Worker thread only. Returns how
    /// many it processed.
    fn drain(&self, fair: &mut Fairness) -> usize {
        let mut n = 0;
        loop {
            // fork() in a job: in the child, this copy of the worker stops.
            if self.check_not_forked().is_err() {
                return n;
            }
            // The mailbox between two queued jobs: a call waits for at most one.
            if self.serve_mailbox() {
                n += 1;
            }
            match self.next_job(fair) {
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
        self.doorbell.sleep(key, false, has_work, |rung| {
            waiter::sleep(key, None, || !rung());
        });
    }

    /// Reserves room and pushes slots made by `make` (called once per job, after
    /// the reservation succeeded, so a batch is queued all-or-nothing).
    pub(crate) fn enqueue(
        &self,
        n: usize,
        urgent: bool,
        mut make: impl FnMut(usize) -> *const Slot,
    ) -> Result<(), Error> {
        if n > self.queue.capacity() {
            return Err(Error::InvalidArgument);
        }
        let lane = reentry::with_current(|me| -> Result<Lane, Error> {
            let lane = match me {
                // Jobs from another runtime's worker go to the calls lane, which
                // this runtime's worker serves even while it waits for another
                // runtime (and before its main lane: urgent or not, early).
                Some(me) if !ptr::eq(me, self) => Lane::Calls,
                _ if urgent => Lane::Urgent,
                _ => Lane::Main,
            };
            // The worker never waits for its own queue to make room: it is the
            // one that would make it. Another runtime's worker waits, but keeps
            // serving its own calls lane meanwhile (two workers filling each
            // other's queues would otherwise wait for each other forever).
            match me {
                _ if self.nonblocking => self.queue.try_reserve(n, lane)?,
                Some(me) if ptr::eq(me, self) => self.queue.try_reserve(n, lane)?,
                Some(me) => self.reserve_from_worker(me, n)?,
                None => self.queue.reserve(n, lane)?,
            }
            Ok(lane)
        })?;
        for i in 0..n {
            self.queue.push(make(i), lane);
        }
        self.doorbell.ring(lane == Lane::Calls);
        Ok(())
    }

    /// Closes the lanes and mailboxes and wakes the worker. With `cancel`,
    /// every job still queued is resolved as cancelled now, on this thread
    /// (even while the worker is blocked in a job).
    pub(crate) fn begin_shutdown(&self, cancel: bool) {
        if cancel {
            // SeqCst: ordered before the close below, which the worker observes
            // before it pops the jobs this mode must cancel.
            self.cancel_mode.store(true, Ordering::SeqCst);
        }
        self.queue.close();
        self.mailbox.close();
        self.doorbell.ring_always();
        if cancel {
            // The ring is multi-consumer: the worker may be popping too.
            while let Some(p) = self.queue.pop_any() {
                self.counters.swept();
                // SAFETY: a popped slot is alive (see `process`); its queue
                // reference is ours now.
                let kind = unsafe { (*p).kind() };
                // SAFETY: alive; a job popped here never starts.
                unsafe { Slot::cancel(p) };
                if kind == Kind::Shared {
                    // SAFETY: the queue's reference, given up here.
                    unsafe { future::release(p) };
                }
            }
        }
    }
}

impl From<Refused> for Error {
    fn from(r: Refused) -> Error {
        match r {
            Refused::Closed => Error::Shutdown,
            Refused::Full => Error::QueueFull,
            Refused::NoMemory => Error::NoMemory,
        }
    }
}

/// The worker thread's body.
pub(crate) fn worker_main(
    shared: Arc<Shared>,
    cpu: Option<usize>,
    on_start: Option<StartHook>,
    on_stop: Option<StopHook>,
) {
    reentry::enter_worker(Arc::as_ptr(&shared));
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
    shared.signal_start(started);
    if !ok {
        reentry::leave_worker();
        return;
    }
    let mut fair = Fairness::default();
    loop {
        let ran = shared.drain(&mut fair);
        if shared.check_not_forked().is_err() {
            // fork() was called in a job, and this is the child's copy of the
            // worker: nothing inherited runs again (no queued job, no mailbox
            // call, no on_stop). The thread ends, and with it the child, unless
            // the job exec'd or exited.
            return;
        }
        if shared.queue.is_finished() {
            break;
        }
        if ran == 0 && shared.queue.len() != 0 {
            // Room reserved but not yet pushed: the submitter is between the
            // two, usually arming the next slot of a batch on another core
            // (tens of nanoseconds), sometimes preempted there. Wait briefly
            // for the push, then let it run rather than spin hot (a yield per
            // batch was ~15 ns per job of a 64-job batch).
            if !park::spin_briefly(|| shared.queue.has_pushed() || shared.queue.is_closed()) {
                std::thread::yield_now();
            }
        }
        shared.idle();
    }
    // A call posted before the close runs (or is cancelled) like a queued job.
    for m in shared.mailbox.all() {
        shared.served_call(m.finish(|job| shared.run_call(job)));
    }
    if let Some(hook) = on_stop {
        if catch_unwind(AssertUnwindSafe(hook)).is_err() {
            log::error!("qthr '{}': on_stop panicked", shared.name);
        }
    }
    // SeqCst store, then wake: a waiter checks `exited` under the parking
    // lot's lock (waiter.rs), so it either sees it or is woken.
    shared.exited.store(1, Ordering::SeqCst);
    waiter::wake_all(shared.exited_key());
    reentry::leave_worker();
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
