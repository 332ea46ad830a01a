//! Behaviour (not speed): an idle runtime sleeps. Alone in its own test binary
//! because it measures the CPU time of the whole process.

mod common;

use std::time::Duration;

#[test]
fn an_idle_runtime_and_a_waiting_caller_use_no_cpu() {
    let rt = qthr::Runtime::new().unwrap();
    for _ in 0..10_000 {
        rt.call(|| ()).unwrap();
    }
    std::thread::sleep(Duration::from_millis(20));
    let before = common::cpu_time();
    std::thread::sleep(Duration::from_millis(500));
    let idle = common::cpu_time() - before;
    assert!(
        idle < Duration::from_millis(25),
        "idle runtime used {idle:?} of CPU in 500 ms"
    );

    // A caller waiting for a long job sleeps too (and so does the worker's job).
    let before = common::cpu_time();
    rt.call(|| std::thread::sleep(Duration::from_millis(500)))
        .unwrap();
    let waiting = common::cpu_time() - before;
    assert!(
        waiting < Duration::from_millis(50),
        "waiting for a 500 ms job used {waiting:?} of CPU"
    );
}
