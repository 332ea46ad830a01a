//! A slot's continuations (`qthr_future_then`): kept beside the slot, whose
//! second cache line holds them behind a mutex, because attaching one is the
//! only path that touches them.

use super::Continuation;

/// A slot's continuations: the first one inline (attaching one, as every C++
/// submit does, allocates nothing), the others in a list.
/// (The others' list is boxed so that a slot stays within its 128 bytes.)
pub(super) struct Thens {
    first: Option<Continuation>,
    #[allow(clippy::box_collection)] // 8 bytes in the slot instead of 24
    more: Option<Box<Vec<Continuation>>>,
}

impl Thens {
    pub(super) const fn new() -> Thens {
        Thens {
            first: None,
            more: None,
        }
    }

    pub(super) fn push(&mut self, c: Continuation) -> Result<(), crate::Error> {
        if self.first.is_none() {
            self.first = Some(c);
            return Ok(());
        }
        if self.more.is_none() {
            let list = crate::alloc::try_box(Vec::new()).map_err(|_| crate::Error::NoMemory)?;
            self.more = Some(list);
        }
        let more = self.more.as_mut().expect("made above");
        more.try_reserve(1).map_err(|_| crate::Error::NoMemory)?;
        more.push(c);
        Ok(())
    }

    /// Takes back the continuation pushed last.
    pub(super) fn pop(&mut self) -> Option<Continuation> {
        self.more
            .as_mut()
            .and_then(|m| m.pop())
            .or_else(|| self.first.take())
    }

    pub(super) fn take(&mut self) -> (Option<Continuation>, Vec<Continuation>) {
        let more = self.more.take().map(|b| *b).unwrap_or_default();
        (self.first.take(), more)
    }
}
