//! How a runtime is configured, and per-job options.

use std::time::Instant;

/// The largest queue capacity accepted.
pub const MAX_QUEUE_CAPACITY: usize = 1 << 24;

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
    /// How many jobs may be queued at once (1..=MAX_QUEUE_CAPACITY); the urgent
    /// lane and the lane of jobs from other runtimes' workers hold as many each.
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
    /// Resolve every queued job as cancelled at once, then stop.
    Cancel,
}

/// Truncates to the OS limit on a character boundary and drops NULs.
pub(crate) fn os_thread_name(name: &str) -> String {
    let name = name.split('\0').next().unwrap_or("");
    let mut end = name.len().min(THREAD_NAME_MAX);
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    name[..end].to_owned()
}
