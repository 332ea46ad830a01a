//! The executor's error type. Each variant maps one-to-one onto a C status, and
//! this file holds the one table of status codes and their descriptions.

use std::ffi::CStr;
use std::fmt;

/// Why an operation did not succeed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Error {
    /// The wait ran out of time; the future is still pending.
    Timeout,
    /// The job never ran: cancelled, or the runtime shut down with `Cancel`.
    Cancelled,
    /// The runtime is shut down (or shutting down): nothing was queued.
    Shutdown,
    /// Non-blocking runtime (or a submit from the worker itself) and the queue is
    /// full: nothing was queued.
    QueueFull,
    /// A required pointer was null, or the configuration is invalid.
    InvalidArgument,
    /// `on_start` failed, or the worker thread could not be started.
    StartFailed,
    /// The operation would wait for the calling thread itself (or past the
    /// nesting cap of waits across runtimes).
    WouldDeadlock,
    /// Used in a child process after `fork()`: the worker is not there.
    Forked,
    /// `cancel` or `interrupt` on a job that already started (without an
    /// interrupt hook) or finished.
    NotCancellable,
    /// An internal panic was caught.
    Panic,
    /// An allocation failed: nothing was queued or started.
    NoMemory,
    /// The job's deadline passed before it started: it never ran.
    Expired,
}

/// Status codes and descriptions, indexed by the C status value (`qthr_status`);
/// `Error`'s variants are entries 1 and up.
const TABLE: [(Option<Error>, &CStr); 13] = [
    (None, c"ok"),
    (
        Some(Error::Timeout),
        c"timed out: the future is still pending",
    ),
    (Some(Error::Cancelled), c"cancelled: the job never ran"),
    (
        Some(Error::Shutdown),
        c"the runtime is shut down: nothing was queued",
    ),
    (
        Some(Error::QueueFull),
        c"the queue is full: nothing was queued",
    ),
    (
        Some(Error::InvalidArgument),
        c"invalid argument (a NULL pointer or a bad configuration)",
    ),
    (
        Some(Error::StartFailed),
        c"the worker could not start (on_start failed or no thread)",
    ),
    (
        Some(Error::WouldDeadlock),
        c"would deadlock: the calling thread is the one it would wait for",
    ),
    (
        Some(Error::Forked),
        c"this runtime belongs to the parent process (used after fork)",
    ),
    (
        Some(Error::NotCancellable),
        c"not cancellable: the job already started or finished",
    ),
    (
        Some(Error::Panic),
        c"internal error: a panic was caught at the API boundary",
    ),
    (
        Some(Error::NoMemory),
        c"out of memory: nothing was queued or started",
    ),
    (
        Some(Error::Expired),
        c"expired: the job's deadline passed before it started; it never ran",
    ),
];

const UNKNOWN: &CStr = c"unknown qthr status";

impl Error {
    /// The C status value (`qthr_status`) of this error.
    pub const fn code(self) -> u32 {
        match self {
            Error::Timeout => 1,
            Error::Cancelled => 2,
            Error::Shutdown => 3,
            Error::QueueFull => 4,
            Error::InvalidArgument => 5,
            Error::StartFailed => 6,
            Error::WouldDeadlock => 7,
            Error::Forked => 8,
            Error::NotCancellable => 9,
            Error::Panic => 10,
            Error::NoMemory => 11,
            Error::Expired => 12,
        }
    }

    /// The error of a C status value; `None` for `QTHR_OK` and unknown values.
    pub fn from_code(code: u32) -> Option<Error> {
        TABLE.get(code as usize).and_then(|(e, _)| *e)
    }

    /// A static, human-readable description.
    pub fn as_str(self) -> &'static str {
        describe(self.code()).to_str().unwrap_or("")
    }
}

/// The description of a C status value (never fails: unknown values get one too).
pub(crate) fn describe(code: u32) -> &'static CStr {
    TABLE.get(code as usize).map_or(UNKNOWN, |(_, s)| *s)
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::error::Error for Error {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_and_the_codes_agree() {
        for (code, (e, _)) in TABLE.iter().enumerate() {
            if let Some(e) = e {
                assert_eq!(e.code() as usize, code);
                assert_eq!(Error::from_code(code as u32), Some(*e));
            }
        }
        assert_eq!(Error::from_code(0), None);
        assert_eq!(Error::from_code(13), None);
        assert_eq!(describe(99), UNKNOWN);
    }
}
