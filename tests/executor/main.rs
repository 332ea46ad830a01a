//! Behaviour of the executor through the safe Rust API and the raw `Executor`.
//!
//! One module per feature:
//! - `ordering`: every job runs on the one worker and none is lost; per-thread
//!   submission order, also with calls mixed with submits.
//! - `hooks`: on_start / on_stop around all jobs, a failing on_start, bad configs,
//!   long thread names.
//! - `reentrancy`: a call on the worker runs inline, a job waiting for a job queued
//!   behind it or for its own future, runtimes calling each other.
//! - `panics`: panics in jobs come back to the caller; the worker survives.
//! - `cancel`: cancelling before and after a job starts; timed-out waits.
//! - `queue`: a full queue: refused (nonblocking) or waited for (blocking), and
//!   never waited for by the worker itself.
//! - `shutdown`: Drain and Cancel, shutdown from the worker, dropping the runtime.
//! - `continuations`: continuations run exactly once, on the right thread.
//! - `batches`: batches are all or nothing and in order.
//! - `calls`: calls waiting behind a busy worker, from one and from many threads,
//!   as the stats count them.
//! - `support`: what several of them share: a job that blocks the worker until
//!   released.

#[path = "../common/mod.rs"]
mod common;

mod batches;
mod calls;
mod cancel;
mod continuations;
mod hooks;
mod ordering;
mod panics;
mod queue;
mod reentrancy;
mod shutdown;
mod support;
