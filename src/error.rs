//! The executor's error type. Each variant maps one-to-one onto a C status.

use std::fmt;

/// Why an operation did not succeed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
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
    /// The operation would wait for the calling thread itself.
    WouldDeadlock,
    /// Used in a child process after `fork()`: the worker is not there.
    Forked,
    /// `cancel` on a job that already started or finished.
    NotCancellable,
    /// An internal panic was caught.
    Panic,
}

impl Error {
    /// A static, human-readable description.
    pub const fn as_str(self) -> &'static str {
        match self {
            Error::Timeout => "timed out: the future is still pending",
            Error::Cancelled => "cancelled: the job never ran",
            Error::Shutdown => "the runtime is shut down: nothing was queued",
            Error::QueueFull => "the queue is full: nothing was queued",
            Error::InvalidArgument => "invalid argument (a NULL pointer or a bad configuration)",
            Error::StartFailed => "the worker could not start (on_start failed or no thread)",
            Error::WouldDeadlock => {
                "would deadlock: the calling thread is the one it would wait for"
            }
            Error::Forked => "this runtime belongs to the parent process (used after fork)",
            Error::NotCancellable => "not cancellable: the job already started or finished",
            Error::Panic => "internal error: a panic was caught at the API boundary",
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::error::Error for Error {}
