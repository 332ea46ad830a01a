//! Hooks and configuration: on_start / on_stop run on the worker around all jobs,
//! a failing on_start fails the build, bad configs are rejected, long thread
//! names are truncated.

use crate::common;

use qthr::{Error, Runtime, ShutdownMode};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

#[test]
fn hooks_run_on_the_worker_around_all_jobs() {
    let log = Arc::new(Mutex::new(Vec::new()));
    let (l1, l2) = (log.clone(), log.clone());
    let rt = Runtime::builder()
        .on_start(move || {
            l1.lock()
                .unwrap()
                .push(format!("start {:?}", common::os_thread_name()));
            Ok::<(), String>(())
        })
        .on_stop(move || l2.lock().unwrap().push("stop".into()))
        .build()
        .unwrap();
    let l3 = log.clone();
    rt.spawn(move || l3.lock().unwrap().push("job".into()))
        .unwrap();
    rt.shutdown(ShutdownMode::Drain).unwrap();
    rt.shutdown(ShutdownMode::Drain).unwrap(); // idempotent
    drop(rt);
    assert_eq!(
        *log.lock().unwrap(),
        vec!["start Some(\"qthr\")", "job", "stop"]
    );
}

#[test]
fn failing_on_start_fails_the_build() {
    let stopped = Arc::new(AtomicUsize::new(0));
    let s = stopped.clone();
    let r = Runtime::builder()
        .on_start(|| Err("no engine"))
        .on_stop(move || {
            s.fetch_add(1, Ordering::SeqCst);
        })
        .build();
    assert_eq!(r.err(), Some(Error::StartFailed));
    assert_eq!(stopped.load(Ordering::SeqCst), 0);
    let r = Runtime::builder()
        .on_start(|| -> Result<(), String> { panic!("boom") })
        .build();
    assert_eq!(r.err(), Some(Error::StartFailed));
}

#[test]
fn bad_configs_are_rejected() {
    assert_eq!(
        Runtime::builder().queue_capacity(0).build().err(),
        Some(Error::InvalidArgument)
    );
    assert_eq!(
        Runtime::builder().queue_capacity(usize::MAX).build().err(),
        Some(Error::InvalidArgument)
    );
    assert_eq!(
        Runtime::builder().cpu(1 << 20).build().err(),
        Some(Error::InvalidArgument)
    );
}

#[test]
fn long_thread_names_are_truncated() {
    let rt = Runtime::builder()
        .thread_name("a-very-long-engine-name")
        .build()
        .unwrap();
    let name = rt.call(|| common::os_thread_name().unwrap()).unwrap();
    assert_eq!(name, "a-very-long-eng");
}
