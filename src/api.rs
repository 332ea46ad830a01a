//! The safe Rust API: typed closures and futures over the same executor the C
//! ABI uses.
//!
//! ```
//! let rt = qthr::Runtime::builder().thread_name("engine").build().unwrap();
//! let fut = rt.submit(|| 6 * 7).unwrap();
//! assert_eq!(fut.wait().unwrap(), 42);
//! let mut local = 1;
//! rt.call(|| local += 1).unwrap(); // `call` may borrow: it waits
//! assert_eq!(local, 2);
//! rt.shutdown(qthr::ShutdownMode::Drain).unwrap();
//! ```

use crate::error::Error;
use crate::future::{Job, Outcome};
use crate::runtime::{Config, Executor, FutureRef, ShutdownMode, SubmitOptions};
use crate::stats::Stats;
use std::cell::UnsafeCell;
use std::ffi::c_void;
use std::fmt::Display;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Builds a [`Runtime`].
#[derive(Default)]
pub struct RuntimeBuilder {
    config: Config,
}

impl RuntimeBuilder {
    /// Defaults: thread "qthr", capacity 4096, blocking submits, no pinning.
    pub fn new() -> RuntimeBuilder {
        RuntimeBuilder::default()
    }

    /// Names the worker thread (truncated to the OS limit).
    pub fn thread_name(mut self, name: impl Into<String>) -> Self {
        self.config.thread_name = name.into();
        self
    }

    /// How many jobs may be queued at once.
    pub fn queue_capacity(mut self, capacity: usize) -> Self {
        self.config.queue_capacity = capacity;
        self
    }

    /// With `true`, a full queue fails submits with [`Error::QueueFull`].
    pub fn nonblocking(mut self, nonblocking: bool) -> Self {
        self.config.nonblocking = nonblocking;
        self
    }

    /// Pins the worker to a CPU.
    pub fn cpu(mut self, cpu: usize) -> Self {
        self.config.cpu = Some(cpu);
        self
    }

    /// Runs on the worker before any job; an `Err` makes `build` fail with
    /// [`Error::StartFailed`] (the message is logged).
    pub fn on_start<E: Display>(
        mut self,
        f: impl FnOnce() -> Result<(), E> + Send + 'static,
    ) -> Self {
        self.config.on_start = Some(Box::new(move || f().map_err(|e| e.to_string())));
        self
    }

    /// Runs on the worker after the last job.
    pub fn on_stop(mut self, f: impl FnOnce() + Send + 'static) -> Self {
        self.config.on_stop = Some(Box::new(f));
        self
    }

    /// Runs on the thread that calls [`Future::interrupt`] while the job runs:
    /// ask the engine to stop (it must be safe to call from another thread).
    pub fn on_interrupt(mut self, f: impl Fn() + Send + Sync + 'static) -> Self {
        self.config.on_interrupt = Some(Box::new(f));
        self
    }

    /// Starts the worker; returns once `on_start` has finished.
    pub fn build(self) -> Result<Runtime, Error> {
        Ok(Runtime {
            exec: Executor::start(self.config)?,
        })
    }
}

/// A worker thread that owns an engine; every job runs there, in submission
/// order. Dropping the runtime drains its queue and joins the worker.
pub struct Runtime {
    exec: Executor,
}

impl Runtime {
    /// A runtime with default options.
    pub fn new() -> Result<Runtime, Error> {
        RuntimeBuilder::new().build()
    }

    /// Starts configuring a runtime.
    pub fn builder() -> RuntimeBuilder {
        RuntimeBuilder::new()
    }

    /// Queues `f` and returns a future of its result. A panic in `f` is caught
    /// on the worker and resumed by [`Future::wait`].
    pub fn submit<F, T>(&self, f: F) -> Result<Future<T>, Error>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        self.submit_with(SubmitOptions::default(), f)
    }

    /// As [`Runtime::submit`], with a deadline to start by (an expired job
    /// never runs: its future gives [`Error::Expired`]) or urgency (runs before
    /// every queued normal job).
    pub fn submit_with<F, T>(&self, opts: SubmitOptions, f: F) -> Result<Future<T>, Error>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let state = Arc::new(Boxed {
            f: UnsafeCell::new(Some(f)),
            result: UnsafeCell::new(None),
        });
        let job = Job {
            func: run_boxed::<F, T>,
            arg: Arc::into_raw(state.clone()) as *mut c_void,
            on_cancel: Some(drop_boxed::<F, T>),
        };
        match self.exec.submit_with(job, opts, true) {
            Ok(fut) => Ok(Future {
                fut: fut.expect("asked for a future"),
                state,
            }),
            Err(e) => {
                // SAFETY: never queued: the reference we gave the job is ours.
                unsafe { drop_boxed::<F, T>(job.arg) };
                Err(e)
            }
        }
    }

    /// Queues `f` without a future (fire and forget). A panic in `f` is caught
    /// and logged.
    pub fn spawn<F>(&self, f: F) -> Result<(), Error>
    where
        F: FnOnce() + Send + 'static,
    {
        let job = Job {
            func: run_detached::<F>,
            arg: Box::into_raw(Box::new(f)) as *mut c_void,
            on_cancel: Some(drop_detached::<F>),
        };
        self.exec.submit(job, false).map(drop).inspect_err(|_| {
            // SAFETY: never queued: the box is still ours.
            unsafe { drop_detached::<F>(job.arg) };
        })
    }

    /// Runs `f` on the worker and waits for its result (inline when called on
    /// the worker). `f` may borrow from the caller: the call does not return
    /// before `f` ran or was discarded. A panic in `f` resumes here.
    pub fn call<F, T>(&self, f: F) -> Result<T, Error>
    where
        F: FnOnce() -> T + Send,
        T: Send,
    {
        let mut state: Scoped<F, T> = Scoped {
            f: Some(f),
            result: None,
        };
        let job = Job {
            func: run_scoped::<F, T>,
            arg: &mut state as *mut Scoped<F, T> as *mut c_void,
            on_cancel: None,
        };
        self.exec.call(job)?;
        match state.result.take().expect("the job ran") {
            Ok(v) => Ok(v),
            Err(panic) => resume_unwind(panic),
        }
    }

    /// True on this runtime's worker thread.
    pub fn on_worker(&self) -> bool {
        self.exec.on_worker()
    }

    /// Stops the runtime (see [`Executor::shutdown`]).
    pub fn shutdown(&self, mode: ShutdownMode) -> Result<(), Error> {
        self.exec.shutdown(mode)
    }

    /// Begins a shutdown without waiting for the worker (see
    /// [`Executor::begin_shutdown`]).
    pub fn begin_shutdown(&self, mode: ShutdownMode) -> Result<(), Error> {
        self.exec.begin_shutdown(mode)
    }

    /// A snapshot of the runtime's counters.
    pub fn stats(&self) -> Result<Stats, Error> {
        self.exec.stats()
    }

    /// The underlying executor (raw jobs, batches).
    pub fn executor(&self) -> &Executor {
        &self.exec
    }
}

/// A job's state shared between the queue and its [`Future`].
struct Boxed<F, T> {
    f: UnsafeCell<Option<F>>,
    result: UnsafeCell<Option<std::thread::Result<T>>>,
}

// SAFETY: `f` is taken once, by the worker (or dropped by the cancel hook, which
// only runs if the worker never will); `result` is written by the worker before
// the completion slot publishes DONE and read by the future only after it has
// observed DONE (acquire). F and T are Send.
unsafe impl<F: Send, T: Send> Sync for Boxed<F, T> {}

unsafe extern "C" fn run_boxed<F: FnOnce() -> T, T>(arg: *mut c_void) -> *mut c_void {
    // SAFETY: `arg` is the Arc reference given to this job in `submit`.
    let state = unsafe { Arc::from_raw(arg as *const Boxed<F, T>) };
    // SAFETY: see `Boxed`'s Sync impl: only this job touches `f` and `result` now.
    let f = unsafe { (*state.f.get()).take() }.expect("a job runs once");
    let r = catch_unwind(AssertUnwindSafe(f));
    // SAFETY: as above.
    unsafe { *state.result.get() = Some(r) };
    std::ptr::null_mut()
}

unsafe fn drop_boxed<F, T>(arg: *mut c_void) {
    // SAFETY: `arg` is the job's Arc reference; the job never ran.
    drop(unsafe { Arc::from_raw(arg as *const Boxed<F, T>) });
}

unsafe extern "C" fn run_detached<F: FnOnce()>(arg: *mut c_void) -> *mut c_void {
    // SAFETY: `arg` is the box made in `spawn`.
    let f = unsafe { Box::from_raw(arg as *mut F) };
    if catch_unwind(AssertUnwindSafe(f)).is_err() {
        log::error!("qthr: a fire-and-forget job panicked");
    }
    std::ptr::null_mut()
}

unsafe fn drop_detached<F>(arg: *mut c_void) {
    // SAFETY: `arg` is the box made in `spawn`; the job never ran.
    drop(unsafe { Box::from_raw(arg as *mut F) });
}

struct Scoped<F, T> {
    f: Option<F>,
    result: Option<std::thread::Result<T>>,
}

unsafe extern "C" fn run_scoped<F: FnOnce() -> T, T>(arg: *mut c_void) -> *mut c_void {
    // SAFETY: `arg` points to the caller's `Scoped`, alive until `call` returns,
    // which it does only after this job resolved.
    let state = unsafe { &mut *(arg as *mut Scoped<F, T>) };
    let f = state.f.take().expect("a job runs once");
    state.result = Some(catch_unwind(AssertUnwindSafe(f)));
    std::ptr::null_mut()
}

/// The pending result of [`Runtime::submit`]. Dropping it never cancels the job.
pub struct Future<T> {
    fut: FutureRef,
    state: Arc<dyn ResultCell<T>>,
}

trait ResultCell<T>: Send + Sync {
    /// # Safety
    /// Only after the job's slot resolved as done, and only once.
    unsafe fn take(&self) -> Option<std::thread::Result<T>>;
}

impl<F: Send, T: Send> ResultCell<T> for Boxed<F, T> {
    unsafe fn take(&self) -> Option<std::thread::Result<T>> {
        // SAFETY: the caller observed DONE (acquire), so the worker's write is
        // visible and finished; `wait(self)` consumes the future: one take.
        unsafe { (*self.result.get()).take() }
    }
}

impl<T> Future<T> {
    /// Waits for the result. A panic in the job resumes here; `Err(Cancelled)`
    /// if the job never ran.
    pub fn wait(self) -> Result<T, Error> {
        self.fut.wait_until(None)?;
        self.take()
    }

    /// Waits at most `timeout`: `Err(Timeout)` leaves the future pending
    /// (call `wait` again later).
    pub fn wait_timeout(&self, timeout: Duration) -> Result<(), Error> {
        self.fut
            .wait_until(Some(Instant::now() + timeout))
            .map(drop)
    }

    /// True once the job finished or was cancelled.
    pub fn is_done(&self) -> bool {
        self.fut.outcome().is_some()
    }

    /// Cancels the job if it has not started; true if it will never run.
    pub fn cancel(&self) -> bool {
        self.fut.cancel().is_ok()
    }

    /// Withdraws the job if it has not started; if it runs, calls the
    /// runtime's `on_interrupt` hook on this thread. True in both cases; false
    /// if it finished, or runs and there is no hook.
    pub fn interrupt(&self) -> bool {
        self.fut.interrupt().is_ok()
    }

    fn take(self) -> Result<T, Error> {
        match self.fut.outcome() {
            Some(Outcome::Done(_)) => {}
            Some(Outcome::Cancelled) => return Err(Error::Cancelled),
            Some(Outcome::Expired) => return Err(Error::Expired),
            None => return Err(Error::Timeout),
        }
        // SAFETY: resolved as done (checked above); `self` is consumed.
        match unsafe { self.state.take() }.expect("the job stored its result") {
            Ok(v) => Ok(v),
            Err(panic) => resume_unwind(panic),
        }
    }
}

impl<T> std::fmt::Debug for Future<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Future")
            .field("done", &self.is_done())
            .finish()
    }
}
