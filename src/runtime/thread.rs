//! The worker's OS thread, started with `pthread_create` rather than
//! `std::thread`.
//!
//! Why: a `std::thread` takes a process-wide lock of the Rust standard library
//! when it exits (the lock of std's table of threads' stack guard pages, taken
//! in `stack_overflow::drop_handler` whether or not the table is in use). A
//! fork() taken while a parent thread held that lock (any std thread of the
//! parent exiting at that instant: a worker of a runtime being freed) left
//! every worker a child started hanging at its exit, and the child in
//! `qthr_free` (2 children in 20,000 forks under load; gdb showed both in
//! `drop_handler`). qthr cannot reset a lock private to std in its atfork
//! handlers, so its threads do not go through std's thread start and exit at
//! all. What std's thread would add is not needed here: the worker catches the
//! panics of jobs and hooks itself, names its thread with `pthread_setname_np`,
//! and gets the default pthread stack size (RLIMIT_STACK, usually 8 MiB, like
//! any C library's thread) instead of std's 2 MiB.

use std::ffi::{c_void, CString};
use std::io;
use std::panic::{catch_unwind, AssertUnwindSafe};

/// A joinable OS thread. Dropping it detaches the thread.
pub(crate) struct OsThread(libc::pthread_t);

// SAFETY: a pthread_t is an id; joining or detaching it from any thread is
// allowed (once, which `join` and `Drop` guarantee by consuming it).
unsafe impl Send for OsThread {}

/// What the new thread runs, boxed so that one pointer crosses pthread_create.
struct Start<F> {
    name: CString,
    main: F,
}

impl OsThread {
    /// Starts `main` on a new thread named `name`, as `config::os_thread_name`
    /// makes it (at most Linux's 15 bytes, no NUL; a name that is not is left
    /// unset). The error is pthread_create's.
    pub(crate) fn spawn<F: FnOnce() + Send + 'static>(name: &str, main: F) -> io::Result<OsThread> {
        let name = CString::new(name).unwrap_or_default();
        let start = crate::alloc::try_box(Start { name, main })
            .map_err(|_| io::Error::from(io::ErrorKind::OutOfMemory))?;
        let arg = Box::into_raw(start).cast::<c_void>();
        let mut id = std::mem::MaybeUninit::<libc::pthread_t>::uninit();
        // SAFETY: `arg` is a `Start<F>` that `run::<F>` takes ownership of; a
        // NULL attr gives the default attributes.
        let rc = unsafe { libc::pthread_create(id.as_mut_ptr(), std::ptr::null(), run::<F>, arg) };
        if rc != 0 {
            // SAFETY: the thread was not created, so `arg` is still ours.
            drop(unsafe { Box::from_raw(arg.cast::<Start<F>>()) });
            return Err(io::Error::from_raw_os_error(rc));
        }
        // SAFETY: pthread_create succeeded, so it wrote the id.
        Ok(OsThread(unsafe { id.assume_init() }))
    }

    /// Waits for the thread to end.
    pub(crate) fn join(self) {
        let id = self.0;
        std::mem::forget(self);
        // SAFETY: a thread we created, neither joined nor detached (consumed).
        let rc = unsafe { libc::pthread_join(id, std::ptr::null_mut()) };
        debug_assert_eq!(rc, 0, "pthread_join");
    }
}

impl Drop for OsThread {
    fn drop(&mut self) {
        // SAFETY: as `join`: a thread we created, neither joined nor detached.
        unsafe { libc::pthread_detach(self.0) };
    }
}

/// The thread's start routine.
extern "C" fn run<F: FnOnce() + Send + 'static>(arg: *mut c_void) -> *mut c_void {
    // Moved out and freed before `main` runs: a fork child of a process whose
    // worker is running must not find a block pointed to only from the stack
    // of a thread it does not have (leak checkers call it lost).
    let Start { name, main } = {
        // SAFETY: `spawn` passed a `Box<Start<F>>` and gave up ownership of it.
        let start = unsafe { Box::from_raw(arg.cast::<Start<F>>()) };
        *start
    };
    if !name.as_bytes().is_empty() {
        // SAFETY: a NUL-terminated name of at most 15 bytes (or it is refused
        // with ERANGE, harmlessly) for the calling thread.
        unsafe { libc::pthread_setname_np(libc::pthread_self(), name.as_ptr()) };
    }
    drop(name);
    // The worker catches the panics of everything it runs for its users; one
    // that still gets here is a qthr bug, and must not unwind into C.
    if catch_unwind(AssertUnwindSafe(main)).is_err() {
        log::error!("qthr: a worker thread panicked");
    }
    std::ptr::null_mut()
}
