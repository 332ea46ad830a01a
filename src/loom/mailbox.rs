//! Loom models of the call mailbox (mailbox.rs).

use super::*;
use crate::mailbox::Mailbox;
use loom::thread;

pub(super) fn mailbox_job(probe: &Arc<Probe>) -> Job {
    // SAFETY: (model) the probe outlives the call.
    unsafe { Job::new(job, Arc::as_ptr(probe) as *mut c_void, None) }
}

pub(super) fn run_job(job: Job) -> Option<*mut c_void> {
    Some(job.run())
}

fn cancel_job(_: Job) -> Option<*mut c_void> {
    None
}

/// Checks a caller's outcome: a result carries the job's writes.
pub(super) fn check_handoff(h: Outcome, probe: &Probe) {
    match h {
        Outcome::Done(r) => check_outcome(Outcome::Done(r), probe),
        _ => assert_eq!(probe.ran.load(Relaxed), 0),
    }
}

/// A mailbox job that returns its argument (a probe), so each caller can
/// tell its own result from another's.
unsafe extern "C" fn echo_job(arg: *mut c_void) -> *mut c_void {
    // SAFETY: (model) arg is a live Probe.
    let p = unsafe { &*(arg as *const Probe) };
    p.data.store(DATA, Relaxed);
    p.ran.fetch_add(1, Relaxed);
    arg
}

/// Two callers race for the mailbox while the worker serves it; then the
/// worker closes it. Each caller either posts (and then gets its own result,
/// with the job's writes visible, parked or not) or is turned away; no
/// wake-up is lost; every posted job runs exactly once. (Preemption bound 2:
/// with 3 the four threads take minutes.)
#[test]
fn loom_mailbox_two_callers_vs_worker() {
    model_bounded(2, || {
        let m = Arc::new(Mailbox::new());
        let stop = Arc::new(AtomicUsize::new(0));
        let probes: Vec<Arc<Probe>> = (0..2).map(|_| Arc::new(Probe::default())).collect();
        let callers: Vec<_> = probes
            .iter()
            .map(|probe| {
                let (m, probe) = (m.clone(), probe.clone());
                thread::spawn(move || {
                    let arg = Arc::as_ptr(&probe) as *mut c_void;
                    // SAFETY: (model) the probe outlives the call.
                    let j = unsafe { Job::new(echo_job, arg, None) };
                    let Some(t) = m.post(&j) else {
                        return 0;
                    };
                    match m.wait(t, crate::park::WorkerCpu::Other) {
                        Outcome::Done(r) => assert_eq!(r, arg, "another caller's result"),
                        _ => panic!("nothing cancels here"),
                    }
                    assert_eq!(probe.data.load(Relaxed), DATA, "stale job write");
                    1
                })
            })
            .collect();
        let (mw, sw) = (m.clone(), stop.clone());
        let worker = thread::spawn(move || {
            let mut n = 0;
            while sw.load(Acquire) == 0 {
                if mw.serve(run_job) {
                    n += 1;
                } else {
                    thread::yield_now();
                }
            }
            n
        });
        let posted: usize = callers.into_iter().map(|c| c.join().unwrap()).sum();
        stop.store(1, Release);
        let served = worker.join().unwrap();
        m.close();
        m.finish(run_job);
        assert_eq!(served, posted);
        let ran: usize = probes.iter().map(|p| p.ran.load(Relaxed)).sum();
        assert_eq!(ran, posted);
    });
}

/// A caller posts while a shutdown closes the mailbox and the worker finishes
/// it (run or cancel mode): a post either fails or is served by `finish`, and
/// the caller always wakes.
#[test]
fn loom_mailbox_post_vs_close_and_finish() {
    for cancelling in [false, true] {
        model(move || {
            let m = Arc::new(Mailbox::new());
            let probe = Arc::new(Probe::default());
            let (mc, pc) = (m.clone(), probe.clone());
            let caller = thread::spawn(move || {
                let t = mc.post(&mailbox_job(&pc))?;
                let h = mc.wait(t, crate::park::WorkerCpu::Other);
                let cancelled = h == Outcome::Cancelled;
                check_handoff(h, &pc);
                Some(cancelled)
            });
            let ms = m.clone();
            let closer = thread::spawn(move || ms.close());
            let serve: fn(Job) -> Option<*mut c_void> =
                if cancelling { cancel_job } else { run_job };
            m.finish(serve);
            closer.join().unwrap();
            match caller.join().unwrap() {
                None => assert_eq!(probe.ran.load(Relaxed), 0),
                Some(cancelled) => {
                    assert_eq!(cancelled, cancelling);
                    assert_eq!(probe.ran.load(Relaxed), usize::from(!cancelling));
                }
            }
        });
    }
}
