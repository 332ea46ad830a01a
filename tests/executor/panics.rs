//! Panics in jobs come back to the caller, and the worker survives them.

use qthr::Runtime;

#[test]
fn panics_in_jobs_come_back_to_the_caller_and_the_worker_survives() {
    let rt = Runtime::new().unwrap();
    let f = rt.submit(|| -> i32 { panic!("job failed") }).unwrap();
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f.wait()));
    let msg = caught.unwrap_err();
    assert_eq!(msg.downcast_ref::<&str>(), Some(&"job failed"));
    let caught =
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| rt.call(|| panic!("again"))));
    assert!(caught.is_err());
    rt.spawn(|| panic!("detached")).unwrap();
    assert_eq!(rt.call(|| 3).unwrap(), 3);
}
