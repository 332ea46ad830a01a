//! The one test-support module of the Rust suites: every `tests/*.rs` that needs it says
//! `mod common;` (and `use common::*;` for the C ABI helpers), the crates in directories
//! (`tests/stress/` and the like) include it with `#[path]` from their `main.rs`, and so
//! does benches/qthr/main.rs for the measurement helpers.
//!
//! - [`harness`]: a watchdog per test (a hang aborts instead of hanging CI), scaling of
//!   the amount of work, a deterministic RNG.
//! - [`capi`]: the C ABI (`qthr::ffi`) as a C host sees it, and helpers over it: configs,
//!   `init`, `stats`, a `Send` raw pointer, the status list, an identity job.
//! - [`measure`]: an allocation-counting global allocator, process and thread CPU time.
//!
//! Environment knobs (the same in the C helper header, tests/common/testutil.h):
//! `QTHR_STRESS_SCALE` (factor on the work of [`scaled`], default 1), `QTHR_WATCHDOG_SCALE`
//! (factor on every watchdog limit, default 1), `QTHR_SKIP_HUGE` (skip the 2^24-slot queue
//! under sanitizers).
#![allow(dead_code, unused_imports)]

pub mod capi;
pub mod harness;
pub mod measure;

pub use capi::*;
pub use harness::*;
pub use measure::*;
