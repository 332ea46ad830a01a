//! Stress and shutdown-under-load tests through the C ABI.
//!
//! - `stress_mixed_api_16_threads`: 16 threads push >= 1 M jobs (2^20 by default)
//!   through two runtimes (a blocking one with a small queue, a nonblocking one),
//!   mixing qthr_call, submit + wait, submit + polling/timed waits, cancel,
//!   fire-and-forget, batches (with and without futures), future_then (before
//!   and after resolution) and early future_free. Every job is accounted for
//!   exactly once (ran xor cancelled), every result is the job's own, per-thread
//!   FIFO order holds on the worker, every continuation runs exactly once, and
//!   the runtimes' stats agree with the accounting.
//! - `shutdown_under_load_{drain,cancel}`: submitters keep submitting (blocking
//!   and nonblocking queues, calls, batches) while waiters wait with random
//!   timeouts and two threads shut the runtime down at once: every future
//!   resolves, late submitters get QTHR_SHUTDOWN, on_stop runs once after the
//!   last job, nothing hangs (watchdog).
//!
//! QTHR_STRESS_SCALE (e.g. 0.05) scales the work down for sanitizers/valgrind.
//!
//! One module per feature:
//! - `mixed`: `stress_mixed_api_16_threads` and its per-thread driver.
//! - `shutdown`: `shutdown_under_load_{drain,cancel}` and their rounds.
//! - `waiters`: many threads waiting on the same futures at once.
//! - `stats`: stats snapshots under load.
//! - `support`: what they share: the job record and test context, the job, its
//!   continuation and on_stop hook, and submit/wait helpers that check them.

#[path = "../common/mod.rs"]
mod common;

mod mixed;
mod shutdown;
mod stats;
mod support;
mod waiters;
