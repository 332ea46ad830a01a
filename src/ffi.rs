//! The C ABI: the only module with `extern "C"` functions.
//!
//! Conventions (after rustls-ffi): every function catches panics at its boundary
//! (`QTHR_PANIC`), checks every pointer (`QTHR_INVALID_ARGUMENT`), and writes its
//! out-parameters only on success. Enumerations that C passes *in* are received
//! as plain `uint32_t` and validated, since an out-of-range Rust enum is UB.
//!
//! Safety contract of every `unsafe extern "C"` function here (stated once, in
//! the header's preamble, instead of per function): non-NULL pointers must point
//! to live objects of the documented type (runtimes from `qthr_init` not yet
//! freed, futures from a submit call not yet freed, writable out-parameters).
#![allow(non_camel_case_types)]
#![allow(clippy::missing_safety_doc)]

use crate::error::Error;
use crate::future::{Continuation, Job, Outcome};
use crate::log_bridge;
use crate::runtime::{Config, Executor, FutureRef, ShutdownMode, SubmitOptions};
use std::ffi::{c_void, CStr};
use std::mem::ManuallyDrop;
use std::os::raw::{c_char, c_int};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::{Duration, Instant};

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
    /// the worker, or a job waiting for its own future).
    QTHR_WOULD_DEADLOCK = 7,
    /// Used in a child process after fork(): the worker is not there.
    QTHR_FORKED = 8,
    /// qthr_cancel on a job that already started or finished.
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

/// Runtime configuration. Initialise with `qthr_config_init`, then change fields.
#[repr(C)]
pub struct qthr_config {
    /// sizeof(qthr_config), set by qthr_config_init.
    pub size: usize,
    /// The worker thread's name; NULL means "qthr". Truncated to the OS limit
    /// (15 bytes on Linux). Copied by qthr_init.
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
const CONFIG_V1_SIZE: usize = std::mem::offset_of!(qthr_config, on_interrupt);
const CONFIG_SIZES: [usize; 2] = [CONFIG_V1_SIZE, std::mem::size_of::<qthr_config>()];
const STATS_SIZES: [usize; 2] = [
    std::mem::offset_of!(qthr_stats, expired),
    std::mem::size_of::<qthr_stats>(),
];
const OPTS_SIZES: [usize; 1] = [std::mem::size_of::<qthr_submit_opts>()];

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

/// The panic boundary every fallible function goes through.
fn guard(f: impl FnOnce() -> Result<(), Error>) -> qthr_status {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(())) => QTHR_OK,
        Ok(Err(e)) => e.into(),
        Err(_) => {
            log::error!("qthr: internal panic caught at the C boundary");
            QTHR_PANIC
        }
    }
}

/// Converts a non-null pointer to a reference, or fails with InvalidArgument.
///
/// # Safety
/// A non-null `p` must point to a live `T` for `'a`.
unsafe fn arg<'a, T>(p: *const T) -> Result<&'a T, Error> {
    // SAFETY: the caller vouches for non-null pointers.
    unsafe { p.as_ref() }.ok_or(Error::InvalidArgument)
}

/// # Safety
/// A non-null `rt` must come from `qthr_init` and not be freed.
unsafe fn runtime<'a>(rt: *const qthr_runtime) -> Result<&'a Executor, Error> {
    // SAFETY: qthr_runtime pointers are Box<Executor> (see qthr_init).
    unsafe { arg(rt as *const Executor) }
}

/// A borrowed future handle (does not take the caller's reference).
///
/// # Safety
/// A non-null `f` must come from a submit call and not be freed.
unsafe fn future(f: *const qthr_future) -> Result<ManuallyDrop<FutureRef>, Error> {
    if f.is_null() {
        return Err(Error::InvalidArgument);
    }
    // SAFETY: ManuallyDrop keeps the caller's reference.
    Ok(ManuallyDrop::new(unsafe {
        FutureRef::from_raw(f as *const c_void)
    }))
}

#[derive(Clone, Copy)]
struct SendPtr(*mut c_void);
// SAFETY: the C caller hands this pointer to the worker (and, for on_interrupt,
// to interrupting threads) on purpose.
unsafe impl Send for SendPtr {}
// SAFETY: as above.
unsafe impl Sync for SendPtr {}

static DEFAULT_NAME: &[u8] = b"qthr\0";

fn default_config() -> qthr_config {
    qthr_config {
        size: std::mem::size_of::<qthr_config>(),
        thread_name: DEFAULT_NAME.as_ptr() as *const c_char,
        queue_capacity: 4096,
        nonblocking: 0,
        on_start: None,
        on_stop: None,
        hook_ctx: std::ptr::null_mut(),
        cpu: -1,
        on_interrupt: None,
    }
}

/// Fills the first `size` bytes of `cfg` with the defaults (bytes beyond this
/// library's qthr_config are zeroed) and sets `cfg->size = size` when the size
/// field fits. Defaults: thread_name "qthr", queue_capacity 4096, blocking
/// submits, no hooks, cpu -1, no on_interrupt.
///
/// Do not call the exported `qthr_config_init` symbol from new code: the
/// header's `qthr_config_init(cfg)` macro calls this function with
/// `sizeof *(cfg)`, so a program gets exactly the fields it was compiled with.
///
/// Threads: any. NULL: no-op.
#[no_mangle]
pub unsafe extern "C" fn qthr_config_init_sized(cfg: *mut qthr_config, size: usize) {
    let _ = catch_unwind(|| {
        if cfg.is_null() {
            return;
        }
        let mut defaults = default_config();
        defaults.size = size;
        let known = size.min(std::mem::size_of::<qthr_config>());
        // SAFETY: the caller provides `size` writable bytes at cfg; we write
        // `known` bytes from a live local, then zero the rest.
        unsafe {
            let dst = cfg as *mut u8;
            std::ptr::copy_nonoverlapping(&defaults as *const qthr_config as *const u8, dst, known);
            std::ptr::write_bytes(dst.add(known), 0, size - known);
        }
    });
}

/// The 0.1 entry point, kept for binaries built against the 0.1 header: fills
/// exactly the 0.1 layout of qthr_config (its first 64 bytes on LP64, with
/// `size` = 64) and never writes beyond it. Programs compiled against this
/// header reach qthr_config_init_sized through the `qthr_config_init` macro.
///
/// Threads: any. NULL: no-op.
#[no_mangle]
pub unsafe extern "C" fn qthr_config_init(cfg: *mut qthr_config) {
    // SAFETY: a 0.1 caller provides a 0.1-sized qthr_config.
    unsafe { qthr_config_init_sized(cfg, CONFIG_V1_SIZE) };
}

/// Reads a caller's qthr_config: only its first `size` bytes (the rest take
/// their defaults).
///
/// # Safety
/// `cfg` points to at least `cfg->size` readable bytes.
unsafe fn read_config(cfg: *const qthr_config) -> Result<qthr_config, Error> {
    // SAFETY: the size field comes first and every version has it.
    let size = unsafe { std::ptr::addr_of!((*cfg).size).read() };
    if !CONFIG_SIZES.contains(&size) {
        return Err(Error::InvalidArgument);
    }
    let mut c = default_config();
    // SAFETY: `size` readable bytes (contract) into a local of at least that size.
    unsafe {
        std::ptr::copy_nonoverlapping(
            cfg as *const u8,
            &mut c as *mut qthr_config as *mut u8,
            size,
        )
    };
    Ok(c)
}

fn config_from_c(cfg: Option<&qthr_config>) -> Result<Config, Error> {
    let Some(c) = cfg else {
        return Ok(Config::default());
    };
    let thread_name = if c.thread_name.is_null() {
        "qthr".to_owned()
    } else {
        // SAFETY: the caller provides a NUL-terminated string.
        unsafe { CStr::from_ptr(c.thread_name) }
            .to_string_lossy()
            .into_owned()
    };
    let nonblocking = match c.nonblocking {
        0 => false,
        1 => true,
        _ => return Err(Error::InvalidArgument),
    };
    let cpu = match c.cpu {
        -1 => None,
        n if n >= 0 => Some(n as usize),
        _ => return Err(Error::InvalidArgument),
    };
    let ctx = SendPtr(c.hook_ctx);
    let on_start = c.on_start.map(|f| {
        Box::new(move || {
            let ctx = ctx;
            // SAFETY: the C caller supplied this hook for this context.
            match unsafe { f(ctx.0) } {
                0 => Ok(()),
                rc => Err(format!("on_start returned {rc}")),
            }
        }) as crate::runtime::StartHook
    });
    let on_stop = c.on_stop.map(|f| {
        Box::new(move || {
            let ctx = ctx;
            // SAFETY: the C caller supplied this hook for this context.
            unsafe { f(ctx.0) }
        }) as crate::runtime::StopHook
    });
    let on_interrupt = c.on_interrupt.map(|f| {
        Box::new(move || {
            let ctx = ctx;
            // SAFETY: the C caller supplied this hook for this context, to be
            // called from interrupting threads.
            unsafe { f(ctx.0) }
        }) as crate::runtime::InterruptHook
    });
    Ok(Config {
        thread_name,
        queue_capacity: c.queue_capacity,
        nonblocking,
        cpu,
        on_start,
        on_stop,
        on_interrupt,
    })
}

/// Starts a runtime: spawns its worker thread and runs `cfg->on_start` on it.
/// Returns only after on_start has finished.
///
/// - `cfg`: NULL for the defaults; else initialised by qthr_config_init (its
///   `size` is checked). Only read during the call.
/// - `out`: receives the runtime on QTHR_OK; untouched otherwise.
///
/// Returns QTHR_OK, QTHR_INVALID_ARGUMENT (NULL out, bad size, capacity 0 or
/// too large, nonblocking not 0/1, cpu < -1), or QTHR_START_FAILED (on_start
/// returned non-zero, or the thread could not be started or pinned; the thread
/// has been joined). Any thread.
#[no_mangle]
pub unsafe extern "C" fn qthr_init(
    cfg: *const qthr_config,
    out: *mut *mut qthr_runtime,
) -> qthr_status {
    guard(|| {
        if out.is_null() {
            return Err(Error::InvalidArgument);
        }
        let config = if cfg.is_null() {
            config_from_c(None)?
        } else {
            // SAFETY: a non-null cfg points to a caller-owned qthr_config of
            // at least cfg->size bytes.
            config_from_c(Some(&unsafe { read_config(cfg) }?))?
        };
        let exec = Executor::start(config)?;
        // SAFETY: out is non-null and writable (checked above).
        unsafe { *out = Box::into_raw(Box::new(exec)) as *mut qthr_runtime };
        Ok(())
    })
}

/// Queues `fn(arg)` to run on the worker.
///
/// - `out`: receives a future on QTHR_OK (release it with qthr_future_free);
///   NULL makes the job fire-and-forget.
///
/// Returns QTHR_OK; QTHR_SHUTDOWN (shut down: nothing queued); QTHR_QUEUE_FULL
/// (nonblocking runtime, or called on the worker, and the queue is full);
/// QTHR_INVALID_ARGUMENT (NULL rt or fn); QTHR_FORKED. A blocking runtime waits
/// for room (and returns QTHR_SHUTDOWN if a shutdown starts meanwhile).
/// Jobs run in submission order. Any thread, the worker included.
#[no_mangle]
pub unsafe extern "C" fn qthr_submit(
    rt: *mut qthr_runtime,
    func: qthr_fn,
    arg: *mut c_void,
    out: *mut *mut qthr_future,
) -> qthr_status {
    guard(|| {
        // SAFETY: a non-null rt comes from qthr_init.
        let rt = unsafe { runtime(rt) }?;
        let func = func.ok_or(Error::InvalidArgument)?;
        let job = Job {
            func,
            arg,
            on_cancel: None,
        };
        if let Some(f) = rt.submit(job, !out.is_null())? {
            // SAFETY: out is non-null (we asked for a future only then).
            unsafe { *out = f.into_raw() as *mut qthr_future };
        }
        Ok(())
    })
}

/// (0.2) Queues `fn(arg)` with per-job options: a deadline to start by and a
/// priority. `opts` NULL is exactly qthr_submit.
///
/// - `opts->deadline_ns` > 0: a job that has not STARTED that many nanoseconds
///   (CLOCK_MONOTONIC) after this call never runs and resolves QTHR_EXPIRED
///   (waiters and then-callbacks see it; it counts in the stats). It costs the
///   worker no engine time: it is resolved when the worker reaches it, or
///   earlier by a thread waiting on its future (qthr_wait returns QTHR_EXPIRED
///   as soon as the deadline passes); there is no timer thread.
/// - `opts->priority` 1 (urgent): runs before every queued normal job, FIFO
///   among urgent jobs; it has room of its own (queue_capacity jobs), so a
///   full main queue does not hold it up. Submitted from another runtime's
///   worker, it goes to the calls lane like any such job (served first too).
///
/// Returns as qthr_submit; also QTHR_INVALID_ARGUMENT (nothing queued) for a
/// bad `opts->size`, a negative deadline or a priority other than 0 and 1, and
/// QTHR_NO_MEMORY if the urgent lane's ring cannot be allocated (on its first
/// use). Any thread, the worker included.
#[no_mangle]
pub unsafe extern "C" fn qthr_submit_ex(
    rt: *mut qthr_runtime,
    func: qthr_fn,
    arg: *mut c_void,
    opts: *const qthr_submit_opts,
    out: *mut *mut qthr_future,
) -> qthr_status {
    guard(|| {
        // SAFETY: a non-null rt comes from qthr_init.
        let rt = unsafe { runtime(rt) }?;
        let func = func.ok_or(Error::InvalidArgument)?;
        let opts = if opts.is_null() {
            SubmitOptions::default()
        } else {
            // SAFETY: a non-null opts points to at least opts->size bytes.
            submit_options(unsafe { read_opts(opts) }?)?
        };
        let job = Job {
            func,
            arg,
            on_cancel: None,
        };
        if let Some(f) = rt.submit_with(job, opts, !out.is_null())? {
            // SAFETY: out is non-null (we asked for a future only then).
            unsafe { *out = f.into_raw() as *mut qthr_future };
        }
        Ok(())
    })
}

/// Reads only the first `opts->size` bytes of a caller's options.
///
/// # Safety
/// `opts` points to at least `opts->size` readable bytes.
unsafe fn read_opts(opts: *const qthr_submit_opts) -> Result<qthr_submit_opts, Error> {
    // SAFETY: the size field comes first.
    let size = unsafe { std::ptr::addr_of!((*opts).size).read() };
    if !OPTS_SIZES.contains(&size) {
        return Err(Error::InvalidArgument);
    }
    let mut o = qthr_submit_opts {
        size,
        deadline_ns: 0,
        priority: 0,
    };
    // SAFETY: `size` readable bytes into a local of at least that size.
    unsafe {
        std::ptr::copy_nonoverlapping(
            opts as *const u8,
            &mut o as *mut qthr_submit_opts as *mut u8,
            size,
        )
    };
    Ok(o)
}

fn submit_options(o: qthr_submit_opts) -> Result<SubmitOptions, Error> {
    let deadline = match o.deadline_ns {
        0 => None,
        ns if ns > 0 => Instant::now().checked_add(Duration::from_nanos(ns as u64)),
        _ => return Err(Error::InvalidArgument),
    };
    let urgent = match o.priority {
        0 => false,
        1 => true,
        _ => return Err(Error::InvalidArgument),
    };
    Ok(SubmitOptions { deadline, urgent })
}

/// Queues `n` jobs `fns[i](args[i])` at once, in order, with a single wake-up
/// of the worker. All or nothing: either every job is queued or none is.
///
/// - `fns`: n non-NULL functions; `args`: n arguments (NULL: every arg NULL).
/// - `outs`: NULL (fire and forget) or n slots receiving the futures on QTHR_OK.
///
/// Returns as qthr_submit; also QTHR_INVALID_ARGUMENT if n exceeds the queue
/// capacity or any fns[i] is NULL. n == 0 is a no-op returning QTHR_OK.
#[no_mangle]
pub unsafe extern "C" fn qthr_submit_batch(
    rt: *mut qthr_runtime,
    n: usize,
    fns: *const qthr_fn,
    args: *const *mut c_void,
    outs: *mut *mut qthr_future,
) -> qthr_status {
    guard(|| {
        // SAFETY: a non-null rt comes from qthr_init.
        let rt = unsafe { runtime(rt) }?;
        if n == 0 {
            return Ok(());
        }
        // Before touching the arrays: n may be absurd.
        if fns.is_null() || n > rt.queue_capacity() {
            return Err(Error::InvalidArgument);
        }
        // SAFETY: the caller provides n readable entries.
        let fns = unsafe { std::slice::from_raw_parts(fns, n) };
        if fns.iter().any(Option::is_none) {
            return Err(Error::InvalidArgument);
        }
        let args = if args.is_null() {
            None
        } else {
            // SAFETY: the caller provides n readable entries.
            Some(unsafe { std::slice::from_raw_parts(args, n) })
        };
        let job = |i: usize| Job {
            func: fns[i].expect("checked above"),
            arg: args.map_or(std::ptr::null_mut(), |a| a[i]),
            on_cancel: None,
        };
        rt.submit_batch(n, job, !outs.is_null(), |i, f| {
            // SAFETY: outs is non-null and has n writable slots.
            unsafe { *outs.add(i) = f.into_raw() as *mut qthr_future };
        })
    })
}

/// Waits for a future.
///
/// - `timeout_ns`: < 0 waits forever, 0 polls, > 0 waits at most that long.
/// - `result`: receives the job's return value on QTHR_OK; may be NULL.
///
/// Returns QTHR_OK (again and again, from any number of threads at once, with
/// the same result); QTHR_TIMEOUT (still pending); QTHR_CANCELLED (the job never
/// ran); QTHR_INVALID_ARGUMENT (NULL f); QTHR_FORKED (pending future from the
/// parent process). Long waits sleep instead of burning a CPU.
///
/// On the worker thread: waiting for a queued job of the same runtime runs the
/// queued jobs inline until it is done; waiting for the running job itself
/// returns QTHR_WOULD_DEADLOCK; waiting for another runtime's job keeps running
/// the jobs that other runtimes' workers submit to this runtime (callbacks)
/// meanwhile, so runtimes calling each other (A -> B -> A) do not deadlock.
#[no_mangle]
pub unsafe extern "C" fn qthr_wait(
    f: *mut qthr_future,
    timeout_ns: i64,
    result: *mut *mut c_void,
) -> qthr_status {
    guard(|| {
        // SAFETY: a non-null f comes from a submit call.
        let f = unsafe { future(f) }?;
        let r = f.wait(timeout_ns)?;
        if !result.is_null() {
            // SAFETY: non-null and writable.
            unsafe { *result = r };
        }
        Ok(())
    })
}

/// (0.2) Stops a job: a queued one is withdrawn exactly as by qthr_cancel
/// (QTHR_OK; waiters get QTHR_CANCELLED); a running one, if its runtime has
/// `on_interrupt`, is asked to stop: the hook is called ON THIS THREAD and this
/// returns QTHR_OK (the job ends as the engine decides; its future resolves as
/// usual, with whatever the job returns). QTHR_NOT_CANCELLABLE if it is running
/// and the runtime has no on_interrupt, or if it already finished (or
/// expired). QTHR_INVALID_ARGUMENT for NULL; QTHR_FORKED for a pending future
/// inherited from the parent process.
///
/// The hook is called only while the job runs, and it never overlaps a later
/// job: the worker, once the job returned, waits for a hook still in flight
/// before it starts anything else. A hook that saw the job running may still
/// be returning just after the job did; so an engine flag the hook sets should
/// be cleared by the engine when its next call starts (SQLite does) or by each
/// job when it starts. Any thread.
#[no_mangle]
pub unsafe extern "C" fn qthr_interrupt(f: *mut qthr_future) -> qthr_status {
    guard(|| {
        // SAFETY: a non-null f comes from a submit call.
        unsafe { future(f) }?.interrupt()
    })
}

/// Cancels a job that has not started: returns QTHR_OK and the job will never
/// run (waiters get QTHR_CANCELLED; continuations run on this thread, now).
/// QTHR_OK again if it was already cancelled; QTHR_NOT_CANCELLABLE if it started
/// or finished; QTHR_INVALID_ARGUMENT for NULL. Any thread.
#[no_mangle]
pub unsafe extern "C" fn qthr_cancel(f: *mut qthr_future) -> qthr_status {
    guard(|| {
        // SAFETY: a non-null f comes from a submit call.
        unsafe { future(f) }?.cancel()
    })
}

unsafe fn run_then(data: [*mut c_void; 2], outcome: Outcome) {
    // SAFETY: data[0] was made from a non-null qthr_then_fn in qthr_future_then.
    let cb: unsafe extern "C" fn(*mut c_void, qthr_status, *mut c_void) =
        unsafe { std::mem::transmute(data[0]) };
    let (st, result) = match outcome {
        Outcome::Done(r) => (QTHR_OK, r),
        Outcome::Cancelled => (QTHR_CANCELLED, std::ptr::null_mut()),
        Outcome::Expired => (QTHR_EXPIRED, std::ptr::null_mut()),
    };
    // SAFETY: the C caller registered this callback with this context.
    unsafe { cb(data[1], st, result) };
}

/// Attaches `cb(ctx, status, result)` to a future; it runs exactly once:
/// on the worker right after the job finishes (status QTHR_OK); at once on the
/// calling thread if the future is already resolved; on the cancelling thread
/// if qthr_cancel resolves it; on the worker if qthr_shutdown(QTHR_CANCEL)
/// discards it (status QTHR_CANCELLED, result NULL). May be called several
/// times per future (each cb runs once). cb must not unwind and should be
/// short: it runs on the worker between jobs.
/// Returns QTHR_OK, QTHR_INVALID_ARGUMENT (NULL f or cb), QTHR_FORKED.
#[no_mangle]
pub unsafe extern "C" fn qthr_future_then(
    f: *mut qthr_future,
    cb: qthr_then_fn,
    ctx: *mut c_void,
) -> qthr_status {
    guard(|| {
        // SAFETY: a non-null f comes from a submit call.
        let f = unsafe { future(f) }?;
        let cb = cb.ok_or(Error::InvalidArgument)?;
        f.then(Continuation {
            call: run_then,
            data: [cb as *mut c_void, ctx],
        })
    })
}

/// Releases a future. Any time: before the job ran (it still runs unless
/// cancelled), after qthr_free of its runtime. Never cancels. NULL is a no-op.
/// No other thread may use `f` during or after this call.
#[no_mangle]
pub unsafe extern "C" fn qthr_future_free(f: *mut qthr_future) {
    let _ = catch_unwind(|| {
        if !f.is_null() {
            // SAFETY: f comes from a submit call; this consumes its reference.
            drop(unsafe { FutureRef::from_raw(f as *const c_void) });
        }
    });
}

/// Runs `fn(arg)` on the worker and waits for it (submit + wait) with no heap
/// allocation. On the worker itself it runs inline. From an ordinary thread,
/// when nothing is queued, the job goes through the runtime's one-call mailbox
/// (about one cache-line round trip); otherwise through the queue. Either way
/// it runs after every job this thread submitted before.
///
/// - `result`: receives the return value on QTHR_OK; may be NULL.
///
/// Returns QTHR_OK; QTHR_CANCELLED (shut down with QTHR_CANCEL before it ran);
/// QTHR_SHUTDOWN; QTHR_QUEUE_FULL (nonblocking and full); QTHR_INVALID_ARGUMENT;
/// QTHR_FORKED. Any thread.
#[no_mangle]
pub unsafe extern "C" fn qthr_call(
    rt: *mut qthr_runtime,
    func: qthr_fn,
    arg: *mut c_void,
    result: *mut *mut c_void,
) -> qthr_status {
    guard(|| {
        // SAFETY: a non-null rt comes from qthr_init.
        let rt = unsafe { runtime(rt) }?;
        let func = func.ok_or(Error::InvalidArgument)?;
        let r = rt.call(Job {
            func,
            arg,
            on_cancel: None,
        })?;
        if !result.is_null() {
            // SAFETY: non-null and writable.
            unsafe { *result = r };
        }
        Ok(())
    })
}

/// 1 if the calling thread is `rt`'s worker, else 0 (also for NULL).
#[no_mangle]
pub unsafe extern "C" fn qthr_on_worker(rt: *const qthr_runtime) -> c_int {
    catch_unwind(|| {
        // SAFETY: a non-null rt comes from qthr_init.
        unsafe { runtime(rt) }.map_or(0, |r| c_int::from(r.on_worker()))
    })
    .unwrap_or(0)
}

/// Shuts a runtime down: new submits (and submitters waiting for room) get
/// QTHR_SHUTDOWN; QTHR_DRAIN runs every queued job, QTHR_CANCEL resolves them
/// as QTHR_CANCELLED; a running job always finishes; then on_stop runs on the
/// worker and the worker is joined. No future is left pending. Idempotent, and
/// safe to race with submitters and other qthr_shutdown calls (a later
/// QTHR_CANCEL upgrades a drain in progress); every caller returns once the
/// worker is joined. Any thread but the worker: there it returns
/// QTHR_WOULD_DEADLOCK and does nothing. Called from another runtime's worker,
/// it runs the callbacks other workers submit to that runtime while it waits;
/// if the target's worker itself waits (directly or through other runtimes)
/// for the caller's runtime to shut down, it closes the queue as asked but
/// returns QTHR_WOULD_DEADLOCK instead of waiting. Also QTHR_INVALID_ARGUMENT
/// (NULL, bad mode), QTHR_FORKED.
#[no_mangle]
pub unsafe extern "C" fn qthr_shutdown(
    rt: *mut qthr_runtime,
    mode: qthr_shutdown_mode,
) -> qthr_status {
    guard(|| {
        // SAFETY: a non-null rt comes from qthr_init.
        let rt = unsafe { runtime(rt) }?;
        let mode = match mode {
            QTHR_DRAIN => ShutdownMode::Drain,
            QTHR_CANCEL => ShutdownMode::Cancel,
            _ => return Err(Error::InvalidArgument),
        };
        rt.shutdown(mode)
    })
}

/// Shuts down with QTHR_DRAIN if needed, then frees the runtime. Futures stay
/// valid (they are all resolved). NULL is a no-op. Called on the worker (from a
/// job), it stops the runtime without waiting: the worker drains, runs on_stop
/// and frees the memory when it exits. In a fork child it returns at once and
/// touches nothing the parent's threads may have been using: the inherited
/// runtime's memory is abandoned (its worker thread does not exist there).
#[no_mangle]
pub unsafe extern "C" fn qthr_free(rt: *mut qthr_runtime) {
    let _ = catch_unwind(|| {
        if !rt.is_null() {
            // SAFETY: rt comes from qthr_init (Box<Executor>); consumed here.
            drop(unsafe { Box::from_raw(rt as *mut Executor) });
        }
    });
}

/// Copies a snapshot of the counters into `out`, whose `size` the caller sets
/// to sizeof(qthr_stats). Exact when the runtime is quiescent.
/// Returns QTHR_OK, QTHR_INVALID_ARGUMENT (NULL, bad size), QTHR_FORKED.
#[no_mangle]
pub unsafe extern "C" fn qthr_get_stats(
    rt: *const qthr_runtime,
    out: *mut qthr_stats,
) -> qthr_status {
    guard(|| {
        // SAFETY: a non-null rt comes from qthr_init.
        let rt = unsafe { runtime(rt) }?;
        // SAFETY: a non-null out points to a caller-owned qthr_stats.
        let size = unsafe { arg(out) }?.size;
        if !STATS_SIZES.contains(&size) {
            return Err(Error::InvalidArgument);
        }
        let s = rt.stats()?;
        let snapshot = qthr_stats {
            size,
            submitted: s.submitted,
            completed: s.completed,
            cancelled: s.cancelled,
            queue_len: s.queue_len,
            queue_high_water: s.queue_high_water,
            expired: s.expired,
        };
        // SAFETY: non-null, with `size` writable bytes (the size of a known
        // version, at most ours: checked above).
        unsafe {
            std::ptr::copy_nonoverlapping(
                &snapshot as *const qthr_stats as *const u8,
                out as *mut u8,
                size,
            )
        };
        Ok(())
    })
}

/// A static description of `st` (never NULL; unknown values get their own).
#[no_mangle]
pub extern "C" fn qthr_status_str(st: StatusIn) -> *const c_char {
    crate::error::describe(st).as_ptr()
}

/// The library's version: major << 16 | minor << 8 | patch. Compare with the
/// QTHR_VERSION_* macros of the header you compiled against.
#[no_mangle]
pub extern "C" fn qthr_version() -> u32 {
    (QTHR_VERSION_MAJOR << 16) | (QTHR_VERSION_MINOR << 8) | QTHR_VERSION_PATCH
}

/// Sends qthr's log records (up to `max_level`) to `cb(ctx, level, message)`,
/// process-wide; NULL cb turns it off. Records come from any thread, the worker
/// included; `message` is valid only during the call. Once this returns, the
/// previous callback is not running and will not be called again, so its ctx
/// may be freed (unless this is called from inside that callback).
#[no_mangle]
pub unsafe extern "C" fn qthr_set_log_callback(
    max_level: LevelIn,
    cb: qthr_log_fn,
    ctx: *mut c_void,
) {
    let _ = catch_unwind(|| {
        // SAFETY: qthr_log_level is repr(u32): identical ABI to log_bridge::LogFn.
        let cb: Option<log_bridge::LogFn> = unsafe { std::mem::transmute(cb) };
        log_bridge::set(max_level, cb, ctx);
    });
}

/// A ready-made qthr_future_then callback: writes the 8-byte integer 1 to the
/// file descriptor `(int)(intptr_t)ctx` (an eventfd, or a pipe's write end), so
/// another thread or an event loop learns of the completion without any code of
/// its own running on the worker.
///
/// It never blocks the worker: if the descriptor could not take the 8 bytes at
/// once (a full pipe, or a blocking descriptor that is not ready), the
/// notification is dropped. So the reader must treat a notification as "some
/// futures resolved": drain the descriptor, then check every future it waits
/// for (an eventfd accumulates, and never fills in practice). Other errors are
/// ignored too.
#[no_mangle]
pub unsafe extern "C" fn qthr_then_notify_fd(
    ctx: *mut c_void,
    st: qthr_status,
    result: *mut c_void,
) {
    let _ = (st, result);
    let fd = ctx as isize as c_int;
    let one: u64 = 1;
    let mut ready = libc::pollfd {
        fd,
        events: libc::POLLOUT,
        revents: 0,
    };
    loop {
        // A zero-timeout poll first: on a blocking descriptor a write could
        // otherwise stall the worker until the reader catches up.
        // SAFETY: one live pollfd.
        let n = unsafe { libc::poll(&mut ready, 1, 0) };
        if n < 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
            continue;
        }
        if n != 1 || ready.revents & libc::POLLOUT == 0 {
            return; // not writable now: drop it
        }
        // SAFETY: writes 8 bytes from a live local.
        let n = unsafe { libc::write(fd, &one as *const u64 as *const c_void, 8) };
        if n >= 0 || std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
            return;
        }
    }
}
