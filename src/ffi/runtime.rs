//! Configuring, starting, stopping and inspecting a runtime.

use super::*;
use crate::runtime::{Config, ShutdownMode};
use std::ffi::CStr;

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
/// The header's `qthr_config_init(cfg)` macro calls this with `sizeof *(cfg)`,
/// so a program gets exactly the fields it was compiled with; call this
/// directly only from languages that cannot use the macro (ctypes, cffi, cgo).
///
/// Threads: any. NULL `cfg`: no-op. Lifetime: writes `cfg` during the call only.
#[no_mangle]
pub unsafe extern "C" fn qthr_config_init_sized(cfg: *mut qthr_config, size: usize) {
    boundary(|| {
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
    })
}

/// The 0.1 entry point, kept for binaries built against the 0.1 header: fills
/// exactly the 0.1 layout of qthr_config (its first 64 bytes on LP64, `size` =
/// 64) and never writes beyond it. Programs compiled against this header reach
/// qthr_config_init_sized through the `qthr_config_init` macro instead.
///
/// Threads: any. NULL `cfg`: no-op.
#[no_mangle]
pub unsafe extern "C" fn qthr_config_init(cfg: *mut qthr_config) {
    // SAFETY: a 0.1 caller provides a 0.1-sized qthr_config.
    unsafe { qthr_config_init_sized(cfg, CONFIG_V1_SIZE) };
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
/// Returns only after on_start has finished (so the engine is loaded).
///
/// - `cfg`: NULL for the defaults; else initialised by qthr_config_init (its
///   `size` is checked; only `size` bytes are read). Only read during the
///   call: thread_name is copied, the hooks and hook_ctx are kept for the
///   runtime's life.
/// - `out`: receives the runtime on QTHR_OK; untouched otherwise.
///
/// Returns QTHR_OK; QTHR_INVALID_ARGUMENT (NULL out, bad size, capacity 0 or
/// above 16777216, nonblocking not 0/1, cpu < -1 or above the OS limit);
/// QTHR_NO_MEMORY (the queue's ring could not be allocated, or no memory for
/// the thread); QTHR_START_FAILED (on_start returned non-zero, or the thread
/// could not be started or pinned — a cpu that exists but is not allowed
/// fails here; the thread has been joined and on_stop does not run).
///
/// Threads: any, a job included: there it serves the calling runtime's
/// callbacks while it waits (on_start may call back into that runtime), and a
/// job nested 64 deep in waits across runtimes gets QTHR_WOULD_DEADLOCK.
/// Lifetime: the runtime lives until qthr_free.
#[no_mangle]
pub unsafe extern "C" fn qthr_init(
    cfg: *const qthr_config,
    out: *mut *mut qthr_runtime,
) -> qthr_status {
    status(|| {
        if out.is_null() {
            return Err(Error::InvalidArgument);
        }
        let config = if cfg.is_null() {
            config_from_c(None)?
        } else {
            // SAFETY: a non-null cfg points to a caller-owned qthr_config of
            // at least cfg->size bytes (the header's contract).
            config_from_c(Some(&unsafe {
                read_sized(cfg, &CONFIG_SIZES, default_config())
            }?))?
        };
        let exec = Executor::start(config)?;
        let Ok(boxed) = crate::alloc::try_box(exec) else {
            return Err(Error::NoMemory); // `exec` was dropped: shut down, joined
        };
        // SAFETY: out is non-null and writable (checked above).
        unsafe { *out = Box::into_raw(boxed) as *mut qthr_runtime };
        Ok(())
    })
}

/// 1 if the calling thread is `rt`'s worker (inside one of its jobs or
/// hooks), else 0; NULL: 0. Threads: any.
#[no_mangle]
pub unsafe extern "C" fn qthr_on_worker(rt: *const qthr_runtime) -> c_int {
    boundary(|| {
        // SAFETY: a non-null rt comes from qthr_init.
        unsafe { runtime(rt) }.map_or(0, |r| c_int::from(r.on_worker()))
    })
}

/// Shuts a runtime down: new submits (and submitters waiting for room) get
/// QTHR_SHUTDOWN; QTHR_DRAIN runs every queued job; QTHR_CANCEL resolves every
/// queued job as QTHR_CANCELLED at once, on this thread, even while the
/// running job is blocked (their then-callbacks run here too). A running job
/// always finishes; then on_stop runs on the worker and the worker is joined.
/// No future is left pending. Idempotent, and safe to race with submitters
/// and other qthr_shutdown calls (a later QTHR_CANCEL upgrades a drain in
/// progress); every caller returns once the worker is joined.
///
/// Returns QTHR_OK; QTHR_INVALID_ARGUMENT (NULL, mode other than QTHR_DRAIN
/// and QTHR_CANCEL); QTHR_FORKED; QTHR_WOULD_DEADLOCK (see Threads).
///
/// Threads: any but `rt`'s worker: there it returns QTHR_WOULD_DEADLOCK and
/// does nothing. From another runtime's worker it serves that runtime's
/// callbacks while it waits; if the target's worker itself waits (directly or
/// through other runtimes) for the caller's runtime to shut down, or the job
/// is nested 64 deep in waits across runtimes, it closes the queue as asked
/// but returns QTHR_WOULD_DEADLOCK instead of waiting.
#[no_mangle]
pub unsafe extern "C" fn qthr_shutdown(
    rt: *mut qthr_runtime,
    mode: qthr_shutdown_mode,
) -> qthr_status {
    status(|| {
        // SAFETY: a non-null rt comes from qthr_init.
        let rt = unsafe { runtime(rt) }?;
        rt.shutdown(shutdown_mode(mode)?)
    })
}

/// Begins a shutdown and returns without waiting for the worker: when it
/// returns, new submits (and submitters waiting for room) get QTHR_SHUTDOWN,
/// and with QTHR_CANCEL every job that was queued has been resolved as
/// QTHR_CANCELLED, on this thread. The worker finishes its running job (with
/// QTHR_DRAIN, every queued job too), runs on_stop and exits; a later
/// qthr_shutdown or qthr_free waits for that. For stopping several runtimes at
/// once, or for refusing new work before waiting elsewhere. Idempotent, and a
/// later QTHR_CANCEL upgrades a drain in progress.
///
/// Returns QTHR_OK; QTHR_INVALID_ARGUMENT (NULL, mode other than QTHR_DRAIN
/// and QTHR_CANCEL); QTHR_FORKED.
///
/// Threads: any, `rt`'s worker included (nothing here waits).
#[no_mangle]
pub unsafe extern "C" fn qthr_shutdown_begin(
    rt: *mut qthr_runtime,
    mode: qthr_shutdown_mode,
) -> qthr_status {
    status(|| {
        // SAFETY: a non-null rt comes from qthr_init.
        let rt = unsafe { runtime(rt) }?;
        rt.begin_shutdown(shutdown_mode(mode)?)
    })
}

fn shutdown_mode(mode: qthr_shutdown_mode) -> Result<ShutdownMode, Error> {
    match mode {
        QTHR_DRAIN => Ok(ShutdownMode::Drain),
        QTHR_CANCEL => Ok(ShutdownMode::Cancel),
        _ => Err(Error::InvalidArgument),
    }
}

/// Shuts down with QTHR_DRAIN if needed, then frees the runtime. NULL: no-op.
///
/// Lifetime: `rt` is invalid afterwards; its futures stay valid (they are all
/// resolved) until qthr_future_free. No other thread may be using `rt` during
/// or after this call: that is undefined behaviour (the handle's memory is
/// freed), even though its submits would otherwise get QTHR_SHUTDOWN.
///
/// Threads: any. Called on the worker (from a job) it stops the runtime
/// without waiting: the worker drains, runs on_stop and frees the memory when
/// it exits. In a fork child it returns at once and touches nothing the
/// parent's threads may have been using: the inherited runtime's memory stays
/// allocated (and reachable, for leak checkers); its worker does not exist.
#[no_mangle]
pub unsafe extern "C" fn qthr_free(rt: *mut qthr_runtime) {
    boundary(|| {
        if !rt.is_null() {
            // SAFETY: rt comes from qthr_init (Box<Executor>); consumed here.
            drop(unsafe { Box::from_raw(rt as *mut Executor) });
        }
    })
}

/// Copies a snapshot of the counters into `out`, whose `size` the caller sets
/// to sizeof(qthr_stats) (the 0.1 size, 48, is accepted and gets the 0.1
/// fields). Exact when the runtime is quiescent; under load, fields are read
/// one by one (completed + cancelled never exceeds submitted).
///
/// Returns QTHR_OK; QTHR_INVALID_ARGUMENT (NULL rt or out, a size of no
/// released version); QTHR_FORKED. Threads: any. Lifetime: writes `out`
/// during the call only.
#[no_mangle]
pub unsafe extern "C" fn qthr_get_stats(
    rt: *const qthr_runtime,
    out: *mut qthr_stats,
) -> qthr_status {
    status(|| {
        // SAFETY: a non-null rt comes from qthr_init.
        let rt = unsafe { runtime(rt) }?;
        if out.is_null() {
            return Err(Error::InvalidArgument);
        }
        // SAFETY: a non-null out points to a caller-owned qthr_stats of some
        // version; every version starts with `size`. (No reference to the
        // whole struct: the caller's may be an older, shorter one.)
        let size = unsafe { std::ptr::addr_of!((*out).size).read() };
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
