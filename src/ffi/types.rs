//! The types and constants of the C header.

use crate::error::Error;
use std::ffi::c_void;
use std::os::raw::{c_char, c_int};

/// Major version of this header; matches `qthr_version() >> 16`.
pub const QTHR_VERSION_MAJOR: u32 = 0;
/// Minor version of this header; matches `(qthr_version() >> 8) & 0xff`.
pub const QTHR_VERSION_MINOR: u32 = 2;
/// Patch version of this header; matches `qthr_version() & 0xff`.
pub const QTHR_VERSION_PATCH: u32 = 0;

/// A runtime: one worker thread and its queue. Opaque; create with `qthr_init`,
/// destroy with `qthr_free`.
pub struct qthr_runtime {
    _opaque: [u8; 0],
}

/// A future: the pending or final outcome of one submitted job. Opaque; release
/// with `qthr_future_free`.
pub struct qthr_future {
    _opaque: [u8; 0],
}

/// A job: runs on the worker thread with `arg`; its return value becomes the
/// future's result. It must not unwind (no C++ exception, no longjmp) out.
/// NULL is rejected with QTHR_INVALID_ARGUMENT.
pub type qthr_fn = Option<unsafe extern "C" fn(arg: *mut c_void) -> *mut c_void>;

/// Status of every fallible call. Fixed width (`uint32_t`) in the header.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum qthr_status {
    /// Success.
    QTHR_OK = 0,
    /// The wait ran out of time; the future is still pending.
    QTHR_TIMEOUT = 1,
    /// The job never ran: cancelled, or shut down with QTHR_CANCEL.
    QTHR_CANCELLED = 2,
    /// The runtime is shut down (or shutting down): nothing was queued.
    QTHR_SHUTDOWN = 3,
    /// Non-blocking runtime (or a submit from the worker to its own queue) and
    /// the queue is full: nothing was queued.
    QTHR_QUEUE_FULL = 4,
    /// NULL where a pointer is required, or a bad configuration / size field.
    QTHR_INVALID_ARGUMENT = 5,
    /// on_start returned non-zero, or the thread could not start (or be pinned).
    QTHR_START_FAILED = 6,
    /// The call would wait for the calling thread itself (e.g. qthr_shutdown on
    /// the worker, a job waiting for its own future, workers shutting each other
    /// down), or a job nested 64 deep in waits across runtimes would wait again.
    QTHR_WOULD_DEADLOCK = 7,
    /// Used in a child process after fork(): the worker is not there.
    QTHR_FORKED = 8,
    /// qthr_cancel on a job that already started or finished; qthr_interrupt
    /// on one that finished, or runs on a runtime without on_interrupt.
    QTHR_NOT_CANCELLABLE = 9,
    /// An internal Rust panic was caught at the boundary.
    QTHR_PANIC = 10,
    /// An allocation failed (queue ring, lane, completion slot, continuation
    /// list): nothing was queued or started.
    QTHR_NO_MEMORY = 11,
    /// The job's deadline (qthr_submit_ex) passed before it started: it never
    /// ran.
    QTHR_EXPIRED = 12,
}

use qthr_status::*;

/// How `qthr_shutdown` treats jobs still queued. Fixed width (`uint32_t`) in
/// the header; out-of-range values are rejected with QTHR_INVALID_ARGUMENT.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ShutdownModeC {
    /// Run every queued job, then stop.
    QTHR_DRAIN = 0,
    /// Resolve every queued job as QTHR_CANCELLED at once, then stop.
    QTHR_CANCEL = 1,
}

/// A `qthr_shutdown_mode` as C passes it: validated, never trusted to be in range.
pub type qthr_shutdown_mode = u32;
/// `QTHR_DRAIN` as the raw value C passes.
pub const QTHR_DRAIN: qthr_shutdown_mode = ShutdownModeC::QTHR_DRAIN as u32;
/// `QTHR_CANCEL` as the raw value C passes.
pub const QTHR_CANCEL: qthr_shutdown_mode = ShutdownModeC::QTHR_CANCEL as u32;

/// A `qthr_status` received from C: validated, never trusted to be in range.
pub type StatusIn = u32;
/// A `qthr_log_level` received from C: validated, never trusted to be in range.
pub type LevelIn = u32;

/// Severity of a log record.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum qthr_log_level {
    /// Something failed.
    QTHR_LOG_ERROR = 1,
    /// Something looks wrong.
    QTHR_LOG_WARN = 2,
    /// Lifecycle events (start, stop).
    QTHR_LOG_INFO = 3,
    /// Details.
    QTHR_LOG_DEBUG = 4,
    /// Everything.
    QTHR_LOG_TRACE = 5,
}

/// Receives log records: `message` is valid only during the call. Called from
/// any thread, including the worker; must not unwind.
pub type qthr_log_fn =
    Option<unsafe extern "C" fn(ctx: *mut c_void, level: qthr_log_level, message: *const c_char)>;

/// A continuation for `qthr_future_then`.
pub type qthr_then_fn =
    Option<unsafe extern "C" fn(ctx: *mut c_void, st: qthr_status, result: *mut c_void)>;

/// Runtime configuration. Initialise with `qthr_config_init` (which sets
/// `size` and every default), then change fields. Size-versioned: fields are
/// only ever appended, and the library reads only `size` bytes.
#[repr(C)]
pub struct qthr_config {
    /// sizeof(qthr_config), set by qthr_config_init.
    pub size: usize,
    /// The worker thread's name; NULL means "qthr". Truncated to the OS limit
    /// (15 bytes on Linux). Copied by qthr_init. The worker is a pthread with
    /// the default attributes (its stack size is the process's default for
    /// new threads: RLIMIT_STACK, usually 8 MiB).
    pub thread_name: *const c_char,
    /// How many jobs may be queued at once: 1 ..= 16777216 (default 4096).
    pub queue_capacity: usize,
    /// 0 (default): a full queue makes submitters wait for room;
    /// 1: they get QTHR_QUEUE_FULL instead. Other values are invalid.
    pub nonblocking: c_int,
    /// Runs on the worker before any job, with hook_ctx; non-zero makes
    /// qthr_init fail with QTHR_START_FAILED. May be NULL.
    pub on_start: Option<unsafe extern "C" fn(hook_ctx: *mut c_void) -> c_int>,
    /// Runs on the worker after the last job, with hook_ctx. May be NULL.
    pub on_stop: Option<unsafe extern "C" fn(hook_ctx: *mut c_void)>,
    /// Passed to on_start and on_stop.
    pub hook_ctx: *mut c_void,
    /// -1 (default): no pinning; otherwise pin the worker to this CPU.
    pub cpu: c_int,
    /// (0.2) NULL (default): running jobs cannot be interrupted. Otherwise
    /// qthr_interrupt calls it, with hook_ctx, ON THE INTERRUPTING THREAD while
    /// a job runs: it must only do what the engine allows from another thread
    /// (sqlite3_interrupt, lua_sethook, setting a flag the engine polls) and
    /// return quickly (the worker waits for it before starting another job).
    pub on_interrupt: Option<unsafe extern "C" fn(hook_ctx: *mut c_void)>,
}

/// (0.2) Per-job options for `qthr_submit_ex`. Set `size` to
/// sizeof(qthr_submit_opts); zero the rest for the defaults.
#[repr(C)]
pub struct qthr_submit_opts {
    /// sizeof(qthr_submit_opts).
    pub size: usize,
    /// Positive: a job not STARTED within this many nanoseconds of its submit
    /// never runs and resolves QTHR_EXPIRED; 0: no deadline; negative: invalid.
    pub deadline_ns: i64,
    /// 0: normal; 1: urgent, runs before every queued normal job (FIFO among
    /// urgent jobs); other values are invalid.
    pub priority: u32,
}

/// Counters of a runtime (see `qthr_get_stats`).
#[repr(C)]
pub struct qthr_stats {
    /// Set by the caller to sizeof(qthr_stats).
    pub size: usize,
    /// Jobs accepted (queued, or run inline on the worker).
    pub submitted: u64,
    /// Jobs that ran.
    pub completed: u64,
    /// Jobs that never ran (cancelled, or discarded by QTHR_CANCEL shutdown).
    pub cancelled: u64,
    /// Jobs queued now.
    pub queue_len: u64,
    /// The most jobs ever queued at once.
    pub queue_high_water: u64,
    /// (0.2) Jobs that never ran because their deadline passed first (they
    /// are counted in `cancelled` too).
    pub expired: u64,
}

/// The `size` of each version of the versioned structs: a caller compiled
/// against any released header passes one of these; anything else is a bad
/// size (QTHR_INVALID_ARGUMENT).
pub(crate) const CONFIG_V1_SIZE: usize = std::mem::offset_of!(qthr_config, on_interrupt);
pub(crate) const CONFIG_SIZES: [usize; 2] = [CONFIG_V1_SIZE, std::mem::size_of::<qthr_config>()];
pub(crate) const STATS_SIZES: [usize; 2] = [
    std::mem::offset_of!(qthr_stats, expired),
    std::mem::size_of::<qthr_stats>(),
];
pub(crate) const OPTS_SIZES: [usize; 1] = [std::mem::size_of::<qthr_submit_opts>()];

impl From<Error> for qthr_status {
    fn from(e: Error) -> qthr_status {
        match e {
            Error::Timeout => QTHR_TIMEOUT,
            Error::Cancelled => QTHR_CANCELLED,
            Error::Shutdown => QTHR_SHUTDOWN,
            Error::QueueFull => QTHR_QUEUE_FULL,
            Error::InvalidArgument => QTHR_INVALID_ARGUMENT,
            Error::StartFailed => QTHR_START_FAILED,
            Error::WouldDeadlock => QTHR_WOULD_DEADLOCK,
            Error::Forked => QTHR_FORKED,
            Error::NotCancellable => QTHR_NOT_CANCELLABLE,
            Error::Panic => QTHR_PANIC,
            Error::NoMemory => QTHR_NO_MEMORY,
            Error::Expired => QTHR_EXPIRED,
        }
    }
}
