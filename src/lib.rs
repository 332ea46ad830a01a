//! qthr: confine a single-threaded "engine" library (embedded q, an SQLite
//! connection opened without mutexes, a Lua state...) to one dedicated worker
//! thread, and call into it from any thread through futures.
//!
//! - [`Runtime`] / [`Future`] ([`api`]): the safe, typed Rust API.
//! - [`Executor`] ([`runtime`]): the executor under it, with raw [`Job`]s
//!   (made by the `unsafe` [`Job::new`]), batches and continuations.
//! - `ffi`: the C ABI (`include/qthr.h`), a thin layer over the executor.
//!
//! How the pieces fit (docs/design.md has the whole story): a job travels
//! through a lane of the `queue` (a gate counter plus a `ring`) or a call
//! `mailbox` to the worker (`runtime::worker`), which resolves its
//! completion slot (`future`); every sleep goes through one protocol
//! (`waiter`) on qthr's own fork-safe parking lot (`park`); the worker is woken
//! through its `doorbell`.
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]
#![warn(clippy::undocumented_unsafe_blocks)]

mod alloc;
pub mod api;
mod doorbell;
mod error;
#[doc(hidden)]
pub mod ffi;
mod fork;
mod future;
mod log_bridge;
mod mailbox;
mod park;
mod pool;
mod queue;
mod ring;
pub mod runtime;
mod stats;
mod sync;
mod waiter;

#[cfg(all(test, loom))]
mod loom;

pub use api::{Future, Runtime, RuntimeBuilder};
pub use error::Error;
pub use future::{Continuation, DropFn, FutureRef, Job, JobFn, Outcome};
pub use runtime::{Config, Executor, ShutdownMode, SubmitOptions};
pub use stats::Stats;
