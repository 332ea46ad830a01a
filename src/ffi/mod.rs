//! The C ABI (`include/qthr.h`, generated from these files by cbindgen): the
//! only module with `extern "C"` functions.
//!
//! - `types.rs`: the types and constants of the header;
//! - `runtime.rs`: configuring, starting, stopping and inspecting a runtime;
//! - `job.rs`: submitting jobs (one, with options, a batch, a call);
//! - `future.rs`: waiting for, cancelling, interrupting and continuing futures;
//! - `log.rs`: log records, status strings, the version.
//!
//! Conventions (after rustls-ffi): every function runs inside one panic
//! boundary (`boundary`: a panic becomes `QTHR_PANIC`, or the "nothing
//! happened" value of the function's return type), checks every pointer
//! (`QTHR_INVALID_ARGUMENT`), and writes its out-parameters only on success.
//! Enumerations that C passes *in* are received as plain `uint32_t` and
//! validated, since an out-of-range Rust enum is undefined behaviour.
//!
//! Safety contract of every `unsafe extern "C"` function here (stated once, in
//! the header's "Memory and lifetimes", instead of per function): non-NULL
//! pointers point to live objects of the documented type (runtimes from
//! `qthr_init` not yet freed, futures from a submit call not yet freed,
//! writable out-parameters, structs of at least their `size` field's bytes).
#![allow(non_camel_case_types)]
#![allow(clippy::missing_safety_doc)]

mod future;
mod job;
mod log;
mod runtime;
mod types;

pub use self::future::*;
pub use self::job::*;
pub use self::log::*;
pub use self::runtime::*;
pub use self::types::*;

use crate::error::Error;
use crate::future::FutureRef;
use crate::runtime::Executor;
use std::ffi::c_void;
use std::mem::ManuallyDrop;
use std::os::raw::{c_char, c_int};
use std::panic::{catch_unwind, AssertUnwindSafe};

/// What an extern function returns when a panic was caught at its boundary.
trait PanicValue {
    fn on_panic() -> Self;
}

impl PanicValue for qthr_status {
    fn on_panic() -> Self {
        qthr_status::QTHR_PANIC
    }
}

impl PanicValue for () {
    fn on_panic() -> Self {}
}

impl PanicValue for c_int {
    fn on_panic() -> Self {
        0
    }
}

impl PanicValue for u32 {
    fn on_panic() -> Self {
        0
    }
}

impl PanicValue for *const c_char {
    fn on_panic() -> Self {
        c"internal error".as_ptr()
    }
}

/// The one panic boundary: every extern function's body runs inside it.
fn boundary<T: PanicValue>(f: impl FnOnce() -> T) -> T {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(v) => v,
        Err(_) => {
            ::log::error!("qthr: internal panic caught at the C boundary");
            T::on_panic()
        }
    }
}

/// The boundary for functions that return a status.
fn status(f: impl FnOnce() -> Result<(), Error>) -> qthr_status {
    boundary(|| match f() {
        Ok(()) => qthr_status::QTHR_OK,
        Err(e) => e.into(),
    })
}

/// Converts a non-null pointer to a reference, or fails with InvalidArgument.
///
/// # Safety
/// A non-null `p` must point to a live `T` for `'a`.
unsafe fn arg<'a, T>(p: *const T) -> Result<&'a T, Error> {
    // SAFETY: the caller vouches for non-null pointers.
    unsafe { p.as_ref() }.ok_or(Error::InvalidArgument)
}

/// # Safety
/// A non-null `rt` must come from `qthr_init` and not be freed.
unsafe fn runtime<'a>(rt: *const qthr_runtime) -> Result<&'a Executor, Error> {
    // SAFETY: qthr_runtime pointers are Box<Executor> (see qthr_init).
    unsafe { arg(rt as *const Executor) }
}

/// A borrowed future handle (does not take the caller's reference).
///
/// # Safety
/// A non-null `f` must come from a submit call and not be freed.
unsafe fn future(f: *const qthr_future) -> Result<ManuallyDrop<FutureRef>, Error> {
    if f.is_null() {
        return Err(Error::InvalidArgument);
    }
    // SAFETY: ManuallyDrop keeps the caller's reference.
    Ok(ManuallyDrop::new(unsafe {
        FutureRef::from_raw(f as *const c_void)
    }))
}

/// Reads a caller's size-versioned struct (`qthr_config`, `qthr_submit_opts`):
/// only its first `size` bytes, over `defaults` (fields of later versions keep
/// their defaults), and only the sizes of released versions (`sizes`).
///
/// # Safety
/// `T` is `repr(C)` and starts with its `size: usize`; `p` points to at least
/// `p->size` readable bytes.
unsafe fn read_sized<T>(p: *const T, sizes: &[usize], defaults: T) -> Result<T, Error> {
    // SAFETY: every version starts with the size field (contract). No reference
    // to the whole struct: the caller's may be an older, shorter one.
    let size = unsafe { (p as *const usize).read_unaligned() };
    if !sizes.contains(&size) || size > std::mem::size_of::<T>() {
        return Err(Error::InvalidArgument);
    }
    let mut v = std::mem::MaybeUninit::new(defaults);
    // SAFETY: `size` readable bytes (contract) into a local of at least that
    // size; every bit pattern the caller could have written through the C
    // header is a valid value of these repr(C) structs (integers, pointers,
    // nullable function pointers).
    unsafe {
        std::ptr::copy_nonoverlapping(p as *const u8, v.as_mut_ptr() as *mut u8, size);
        Ok(v.assume_init())
    }
}

/// A C pointer handed to other threads on purpose.
#[derive(Clone, Copy)]
struct SendPtr(*mut c_void);
// SAFETY: the C caller hands this pointer to the worker (and, for
// on_interrupt, to interrupting threads) on purpose: the header says so.
unsafe impl Send for SendPtr {}
// SAFETY: as above.
unsafe impl Sync for SendPtr {}
