//! qthr: confine a single-threaded "engine" library (embedded q, an SQLite
//! connection opened without mutexes, a Lua state...) to one dedicated worker
//! thread, and call into it from any thread through futures.
//!
//! - [`runtime`]: the executor (worker lifecycle, submit, wait, shutdown).
//! - [`api`]: the safe, typed Rust API over it ([`Runtime`], [`Future`]).
//! - `ffi`: the C ABI (`include/qthr.h`), a thin layer over the executor.
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

mod alloc;
pub mod api;
mod error;
pub mod ffi;
mod fork;
mod future;
mod log_bridge;
#[cfg(all(test, loom))]
mod loom_tests;
mod mailbox;
mod park;
mod pool;
mod queue;
mod ring;
pub mod runtime;
mod stats;
mod sync;

pub use api::{Future, Runtime, RuntimeBuilder};
pub use error::Error;
pub use future::{Continuation, Job, JobFn, Outcome};
pub use runtime::{Config, Executor, FutureRef, ShutdownMode, SubmitOptions};
pub use stats::Stats;
