//! Log records, status strings and the version.

use super::*;
use crate::log_bridge;

/// Sends qthr's log records (up to `max_level`; 0 or a NULL `cb` turns them
/// off, values above 5 mean 5) to `cb(ctx, level, message)`, process-wide.
/// Records come from any thread, the worker included; `message` is valid only
/// during the call.
///
/// Once this returns, the previous callback is not running and will not be
/// called again, so its ctx may be freed — except when this is called from
/// inside a callback (which cannot wait for itself), or from a job or hook on
/// a qthr worker (a callback in flight on another thread might be waiting for
/// that worker): then it returns without waiting for callbacks in flight.
///
/// A callback may call this function (to replace or remove itself) and may
/// call into qthr. Threads: any; in a fork child too, whatever the parent's
/// threads were logging. Lifetime: `ctx` must stay valid until the callback
/// is replaced (see above).
#[no_mangle]
pub unsafe extern "C" fn qthr_set_log_callback(
    max_level: LevelIn,
    cb: qthr_log_fn,
    ctx: *mut c_void,
) {
    boundary(|| {
        // SAFETY: qthr_log_level is repr(u32): identical ABI to log_bridge::LogFn.
        let cb: Option<log_bridge::LogFn> = unsafe { std::mem::transmute(cb) };
        log_bridge::set(max_level, cb, ctx);
    })
}

/// A static description of `st` (never NULL; unknown values get their own).
/// Threads: any. Lifetime: the string is static.
#[no_mangle]
pub extern "C" fn qthr_status_str(st: StatusIn) -> *const c_char {
    boundary(|| crate::error::describe(st).as_ptr())
}

/// The library's version: major << 16 | minor << 8 | patch. Compare with
/// QTHR_VERSION (or the QTHR_VERSION_* macros) of the header you compiled
/// against: the same major version is ABI-compatible. Threads: any.
#[no_mangle]
pub extern "C" fn qthr_version() -> u32 {
    boundary(|| (QTHR_VERSION_MAJOR << 16) | (QTHR_VERSION_MINOR << 8) | QTHR_VERSION_PATCH)
}
