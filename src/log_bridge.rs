//! Forwards `log` records to a C callback (process-wide).
//!
//! The bridge installs itself as the `log` crate's logger the first time a
//! callback is set. If the host program (a Rust program using the rlib) already
//! installed its own logger, qthr's records go there instead.
//!
//! The sink is copied out under a short fork-safe lock and the callback runs
//! with no lock held, so a callback may replace or remove itself and call into
//! qthr; a fork child can set its own callback whatever the parent's threads
//! were logging at the time (fork.rs resets the lock and the in-flight count).

use crate::park::lock::ForkLock;
use std::cell::Cell;
use std::ffi::{c_void, CString};
use std::os::raw::c_char;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The C callback: `(ctx, level, message)`; level is 1 (error) ..= 5 (trace).
pub type LogFn = unsafe extern "C" fn(ctx: *mut c_void, level: u32, message: *const c_char);

#[derive(Clone, Copy)]
struct Sink {
    cb: LogFn,
    ctx: *mut c_void,
}

// SAFETY: the C caller of qthr_set_log_callback promises the callback and its
// context may be used from any thread.
unsafe impl Send for Sink {}
// SAFETY: as above.
unsafe impl Sync for Sink {}

static SINK: ForkLock<Option<Sink>> = ForkLock::new(None);

/// Log calls between announcing themselves and returning from the callback.
static IN_FLIGHT: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// True while this thread runs the callback.
    static IN_CALLBACK: Cell<bool> = const { Cell::new(false) };
}

struct Bridge;

static BRIDGE: Bridge = Bridge;

impl log::Log for Bridge {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &log::Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let text = record.args().to_string().replace('\0', " ");
        let msg = CString::new(text).unwrap_or_default();
        // Announce the call before reading the sink, so that `set` can wait for
        // calls that may still use the sink it replaces: if we read the old
        // sink, we took the lock before `set` did, so our increment
        // happens-before its load of the count.
        IN_FLIGHT.fetch_add(1, Ordering::SeqCst);
        // Copy the sink out: the callback runs without our lock held, so it may
        // itself call into qthr (or replace the callback).
        let sink = *SINK.lock();
        if let Some(sink) = sink {
            let was = IN_CALLBACK.with(|c| c.replace(true));
            // SAFETY: the callback was registered for exactly this use; the
            // message is valid for the duration of the call, as documented.
            unsafe { (sink.cb)(sink.ctx, record.level() as u32, msg.as_ptr()) };
            IN_CALLBACK.with(|c| c.set(was));
        }
        IN_FLIGHT.fetch_sub(1, Ordering::SeqCst);
    }

    fn flush(&self) {}
}

/// Sets (or, with `None`, removes) the process-wide callback and the most
/// verbose level it receives (1..=5; 0 turns logging off).
pub(crate) fn set(max_level: u32, cb: Option<LogFn>, ctx: *mut c_void) {
    crate::fork::install();
    *SINK.lock() = cb.map(|cb| Sink { cb, ctx });
    // Once this returns, the previous callback is not running and will not be
    // called again (so its context may be freed) -- except when `set` is called
    // from inside a callback, which cannot wait for itself, or on a qthr worker
    // (in a job or hook), where a callback in flight on another thread may be
    // waiting for this very worker (it called into qthr).
    let in_callback = IN_CALLBACK.try_with(Cell::get).unwrap_or(true);
    if !in_callback && crate::runtime::current_worker().is_null() {
        while IN_FLIGHT.load(Ordering::SeqCst) != 0 {
            std::thread::yield_now();
        }
    }
    let installed = log::set_logger(&BRIDGE).is_ok() || is_ours();
    if installed {
        let filter = match (cb, max_level) {
            (None, _) | (_, 0) => log::LevelFilter::Off,
            (_, 1) => log::LevelFilter::Error,
            (_, 2) => log::LevelFilter::Warn,
            (_, 3) => log::LevelFilter::Info,
            (_, 4) => log::LevelFilter::Debug,
            _ => log::LevelFilter::Trace,
        };
        log::set_max_level(filter);
    }
}

fn is_ours() -> bool {
    std::ptr::eq(
        log::logger() as *const dyn log::Log as *const u8,
        &BRIDGE as *const Bridge as *const u8,
    )
}

/// The atfork prepare handler's part: no thread holds the sink lock at fork.
pub(crate) fn fork_prepare() {
    SINK.fork_prepare();
}

/// After fork, in the parent.
pub(crate) fn fork_parent() {
    SINK.fork_parent();
}

/// After fork, in the child: callbacks in flight were the parent's threads'.
pub(crate) fn fork_child() {
    IN_FLIGHT.store(0, Ordering::Relaxed);
    SINK.fork_child(|_| {});
}
