//! Bad input everywhere, through the C ABI: every call with NULL for every
//! pointer, bad config sizes and values, absurd capacities and counts, use after
//! shutdown, double shutdown, shutdown from the worker, futures outliving their
//! runtime, and a fork child. Each must give its documented status: never a
//! crash, never a hang (calls that could crash run in a forked child).
//! This crate is the authoritative check of the README's "Bad input: call -> status"
//! table: every row is checked here (tests/c/test_badinput.c adds what needs a C compiler).
//!
//! One module per kind of bad input:
//! - `null_pointers`: NULL for every pointer of every call.
//! - `configs`: bad config sizes and values; the largest queue capacity.
//! - `counts`: absurd batch counts, shutdown modes, stats sizes and timeouts.
//! - `status_and_log`: status strings and version; log levels out of range.
//! - `shutdown`: use after shutdown, double shutdown, shutdown from the worker,
//!   futures outliving their runtime.
//! - `fork`: a fork child, also under load and while parent threads exit.
//! - `support`: what several of them share: the fork and log-callback locks,
//!   small jobs and callbacks, a bogus non-NULL pointer.

#[path = "../common/mod.rs"]
mod common;

mod configs;
mod counts;
mod fork;
mod null_pointers;
mod shutdown;
mod status_and_log;
mod support;
