//! Behaviour (not speed): an idle runtime sleeps. Alone in its own test binary
//! because it measures the CPU time of the whole process.

use std::time::Duration;

fn cpu_time() -> Duration {
    // SAFETY: getrusage writes into a live, zeroed struct.
    let u = unsafe {
        let mut u: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut u);
        u
    };
    let us = |t: libc::timeval| t.tv_sec as u64 * 1_000_000 + t.tv_usec as u64;
    Duration::from_micros(us(u.ru_utime) + us(u.ru_stime))
}

#[test]
fn an_idle_runtime_and_a_waiting_caller_use_no_cpu() {
    let rt = qthr::Runtime::new().unwrap();
    for _ in 0..10_000 {
        rt.call(|| ()).unwrap();
    }
    std::thread::sleep(Duration::from_millis(20));
    let before = cpu_time();
    std::thread::sleep(Duration::from_millis(500));
    let idle = cpu_time() - before;
    assert!(
        idle < Duration::from_millis(25),
        "idle runtime used {idle:?} of CPU in 500 ms"
    );

    // A caller waiting for a long job sleeps too (and so does the worker's job).
    let before = cpu_time();
    rt.call(|| std::thread::sleep(Duration::from_millis(500)))
        .unwrap();
    let waiting = cpu_time() - before;
    assert!(
        waiting < Duration::from_millis(50),
        "waiting for a 500 ms job used {waiting:?} of CPU"
    );
}
