//! The executor: one worker thread per runtime. This module is its owning
//! handle (start, submit, call, shutdown, stats); `config.rs` says how it is
//! configured, `worker.rs` what the worker thread does, `reentry.rs` what
//! happens when jobs wait for runtimes (their own or others).
//!
//! It knows nothing of the C ABI: `ffi/` and `api.rs` are thin layers over it.

mod config;
mod reentry;
mod thread;
mod worker;

/// The future handle (defined with the futures; here for `runtime::FutureRef` users).
pub use crate::future::FutureRef;
pub use config::{
    Config, InterruptHook, ShutdownMode, StartHook, StopHook, SubmitOptions, MAX_QUEUE_CAPACITY,
};
pub(crate) use reentry::{current_worker, fork_hooks};
pub(crate) use worker::Shared;

use crate::error::Error;
use crate::fork;
use crate::future::{self, Job, Kind, Outcome};
use crate::park;
use crate::pool::{self, SlotBox};
use crate::stats::Stats;
use std::ffi::c_void;
use std::sync::atomic::AtomicPtr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use thread::OsThread;

/// A running runtime (the owning handle). Dropping it shuts the runtime down
/// with `Drain` and joins the worker (see `Drop`).
pub struct Executor {
    shared: Arc<Shared>,
}

impl Executor {
    /// Starts the worker and runs `on_start` on it. Returns once `on_start` has
    /// finished; if it fails, the worker is joined and `StartFailed` returned.
    /// Called from a job, it serves the calling worker's calls lane meanwhile
    /// (`on_start` may call back into that runtime).
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
        if !reentry::current_worker().is_null() {
            // Past the nesting cap, a job cannot wait for the new worker.
            reentry::may_wait()?;
        }
        fork::install();
        park::init();
        let name = config::os_thread_name(&thread_name);
        let Some(queue) = crate::queue::JobQueue::new(queue_capacity) else {
            log::error!("qthr '{name}': no memory for a queue of {queue_capacity} jobs");
            return Err(Error::NoMemory);
        };
        let shared = Arc::new(Shared::new(queue, nonblocking, name.clone(), on_interrupt));
        let worker = shared.clone();
        let spawned = OsThread::spawn(&name, move || {
            worker::worker_main(worker, cpu, on_start, on_stop)
        });
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
        let waited = reentry::with_current(|me| match me {
            Some(me) => shared.wait_start_from_worker(me),
            None => {
                shared.wait_start();
                Ok(())
            }
        });
        if let Err(e) = waited {
            // Only a fork() in a job of the calling runtime gets here: the
            // child's copy of that worker cannot wait for a new thread.
            std::mem::forget(handle);
            return Err(e);
        }
        match shared.start_result() {
            Ok(()) => {
                *shared.join.lock() = Some(handle);
                log::info!("qthr '{name}': worker started (queue capacity {queue_capacity})");
                Ok(Executor { shared })
            }
            Err(why) => {
                handle.join();
                log::error!("qthr '{name}': start failed: {why}");
                Err(Error::StartFailed)
            }
        }
    }

    fn check_fork(&self) -> Result<(), Error> {
        self.shared.check_not_forked()
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
            let r = job.run();
            self.shared.counters.inline();
            return Ok(r);
        }
        let on_a_worker = !reentry::current_worker().is_null();
        if on_a_worker {
            // Another runtime's worker: past the nesting cap it could not wait.
            reentry::may_wait()?;
        }
        // Relaxed: a hint (see Shared::worker_cpu). `queued`: the jobs in the
        // queue when the caller's own is the only one.
        let worker = |queued: usize| {
            let cpu = self.shared.worker_cpu.load(Ordering::Relaxed);
            park::WorkerCpu::seen(cpu, || self.shared.queue.len() <= queued)
        };
        // The mailbox: from a thread that is not a worker (those use the calls
        // lane, see `enqueue`), when nothing is queued (so this thread's earlier
        // submits, urgent or not, have been popped and run first).
        let mailbox = self.shared.mailbox.mine();
        let ticket = if !on_a_worker && self.shared.queue.main_is_idle() {
            mailbox.post(&job)
        } else {
            None
        };
        if let Some(ticket) = ticket {
            self.shared.doorbell.ring(false);
            // A posted call counts as a queued job; its mailbox's first one is
            // enough for the high-water mark.
            if ticket.is_first() {
                self.shared.queue.note_depth(1);
            }
            return match mailbox.wait(ticket, worker(0)) {
                Outcome::Done(r) => Ok(r),
                _ => Err(future::never_ran(&job)),
            };
        }
        let slot = pool::take().ok_or(Error::NoMemory)?;
        // SAFETY: fresh from the pool, exclusively ours. Call slots carry no
        // cancel hook (see Slot::cancel): `never_ran` releases the argument.
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
            // SAFETY: we own the call slot until it resolves.
            .and_then(|()| unsafe { future::wait_slot_on(p, None, worker(1)) });
        // The slot is resolved (or was never queued): nobody else touches it.
        pool::give(slot);
        match result? {
            Outcome::Done(r) => Ok(r),
            _ => Err(future::never_ran(&job)),
        }
    }

    /// Stops the runtime: no new jobs; queued jobs run (`Drain`) or are cancelled
    /// at once (`Cancel`); `on_stop` runs on the worker; the worker is joined.
    /// Idempotent and safe from any thread but the worker (`WouldDeadlock`
    /// there, and nothing is done). A later `Cancel` upgrades a `Drain` in
    /// progress.
    ///
    /// Called from another runtime's worker whose own exit this runtime's worker
    /// is waiting for (two jobs shutting each other's runtimes down), or past
    /// the nesting cap, it closes the queue as asked but returns `WouldDeadlock`
    /// instead of waiting: the worker stops once its running job returns.
    pub fn shutdown(&self, mode: ShutdownMode) -> Result<(), Error> {
        self.check_fork()?;
        if self.on_worker() {
            return Err(Error::WouldDeadlock);
        }
        self.begin_shutdown(mode)?;
        // Called from another runtime's worker: its calls lane may get jobs our
        // draining jobs wait for, so keep serving it until our worker is done.
        reentry::with_current(|me| match me {
            Some(me) => self.shared.wait_exit_from_worker(me),
            None => Ok(()),
        })?;
        let mut join = self.shared.join.lock();
        if let Some(handle) = join.take() {
            handle.join();
            log::info!("qthr '{}': worker stopped", self.shared.name);
        }
        Ok(())
    }

    /// Begins a shutdown without waiting for the worker: from its return on,
    /// new submits get `Shutdown`, and with `Cancel` every job that was queued
    /// has been resolved as cancelled (on this thread). The worker finishes its
    /// running job (and with `Drain` the queue), runs `on_stop` and exits;
    /// [`shutdown`](Self::shutdown) or dropping the executor joins it.
    /// Idempotent; a later `Cancel` upgrades a `Drain`. Safe from any thread,
    /// the worker included (nothing here waits).
    pub fn begin_shutdown(&self, mode: ShutdownMode) -> Result<(), Error> {
        self.check_fork()?;
        self.shared.begin_shutdown(mode == ShutdownMode::Cancel);
        Ok(())
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
            // Fork child: the worker thread does not exist. Release nothing,
            // join nothing, run no job: a parent thread may have been half-way
            // through a push at fork time, and touching that ring here could
            // spin forever on a writer that does not exist. The state stays
            // reachable (leak checkers see it as such, not as lost).
            let handle = self.shared.join.try_lock().and_then(|mut j| j.take());
            abandon(self.shared.clone(), handle);
            return;
        }
        if self.on_worker() {
            // Freed from inside a job: stop taking jobs; the worker drains, runs
            // on_stop and exits on its own, dropping the last reference.
            self.shared.begin_shutdown(false);
            drop(self.shared.join.lock().take()); // detach
            return;
        }
        let _ = self.shutdown(ShutdownMode::Drain);
    }
}

/// Runtimes a fork child gave up (see `Executor::drop`), kept reachable from
/// this static: a lock-free stack of leaked nodes.
struct Abandoned {
    _shared: Arc<Shared>,
    /// The parent's worker thread's handle (never joined: not in this process).
    _handle: Option<OsThread>,
    next: *mut Abandoned,
}

static ABANDONED: AtomicPtr<Abandoned> = AtomicPtr::new(std::ptr::null_mut());

fn abandon(shared: Arc<Shared>, handle: Option<OsThread>) {
    let node = match crate::alloc::try_box(Abandoned {
        _shared: shared,
        _handle: handle,
        next: std::ptr::null_mut(),
    }) {
        Ok(node) => node,
        Err(a) => {
            // No memory: forget it all (never join or detach a parent's thread).
            std::mem::forget(a);
            return;
        }
    };
    let node = Box::into_raw(node);
    // Relaxed: the initial load; the CAS below re-validates.
    let mut head = ABANDONED.load(Ordering::Relaxed);
    loop {
        // SAFETY: our node, not published yet.
        unsafe { (*node).next = head };
        // Release: the node's contents are published with it (nobody reads
        // them: the list only keeps them reachable).
        match ABANDONED.compare_exchange_weak(head, node, Ordering::Release, Ordering::Relaxed) {
            Ok(_) => return,
            Err(h) => head = h,
        }
    }
}
