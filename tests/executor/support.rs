//! Shared by several modules: a job that blocks the worker until the test
//! releases it.

use qthr::Runtime;
use std::sync::{Arc, Barrier};

/// Submits a job that blocks the worker until the test releases it; returns once
/// it runs, with its future and its two barriers (`started`, passed; `release`).
pub(crate) fn blocker(rt: &Runtime) -> (qthr::Future<()>, Arc<Barrier>, Arc<Barrier>) {
    let started = Arc::new(Barrier::new(2));
    let release = Arc::new(Barrier::new(2));
    let (s, r) = (started.clone(), release.clone());
    let f = rt
        .submit(move || {
            s.wait();
            r.wait();
        })
        .unwrap();
    started.wait();
    (f, started, release)
}
