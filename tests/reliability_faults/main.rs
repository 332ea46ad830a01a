//! Faults in jobs and hooks, through the C ABI: a job that blocks for a long
//! time (waiters sleep instead of burning a CPU, timeouts work), jobs that call
//! back into their own runtime (qthr_call / qthr_wait / shutdown / submit to a
//! full queue), runtimes whose jobs call each other, on_start failing, and
//! on_stop running exactly once on every path (including qthr_free from a job).
//!
//! One module per feature:
//! - `timeouts`: a long job; waiters, callers and pollers sleep, timeouts work, an
//!   idle worker sleeps.
//! - `reentrancy`: a job calling back into its own runtime; continuations that call
//!   back in.
//! - `cross_runtime`: runtimes whose jobs call each other (deeply, into full queues,
//!   under load) without deadlock or unbounded nesting.
//! - `hooks`: on_start failing and slow; on_stop exactly once on every path.
//! - `shutdown`: shutdown from and under jobs: CANCEL while a job runs, a worker
//!   shutting down a runtime that calls back, cross-runtime shutdown under load,
//!   workers shutting each other down.
//! - `support`: the gate a job blocks on, used by several of them.

#[path = "../common/mod.rs"]
mod common;

mod cross_runtime;
mod hooks;
mod reentrancy;
mod shutdown;
mod support;
mod timeouts;
