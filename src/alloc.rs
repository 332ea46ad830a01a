//! Fallible heap allocation: qthr returns `QTHR_NO_MEMORY` where std would
//! abort the process (`Box::new` has no fallible form on stable Rust).

use std::alloc::{alloc, Layout};

/// `Box::new(value)`, or the value back if the allocator has no memory.
pub(crate) fn try_box<T>(value: T) -> Result<Box<T>, T> {
    let layout = Layout::new::<T>();
    if layout.size() == 0 {
        return Ok(Box::new(value));
    }
    // SAFETY: the layout has a non-zero size.
    let p = unsafe { alloc(layout) } as *mut T;
    if p.is_null() {
        return Err(value);
    }
    // SAFETY: `p` is a fresh allocation of T's layout; Box frees it with the
    // same layout through the global allocator.
    unsafe {
        p.write(value);
        Ok(Box::from_raw(p))
    }
}
