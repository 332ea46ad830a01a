//! Deadlines as nanoseconds since a process-wide epoch (plus one, so that 0
//! means none): 8 bytes in the slot instead of an `Option<Instant>`'s 16.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

/// The slot's encoding of `d` (never 0).
pub(crate) fn encode(d: Instant) -> u64 {
    let ns = d.saturating_duration_since(epoch()).as_nanos();
    u64::try_from(ns).unwrap_or(u64::MAX - 1) + 1
}

/// The deadline an encoded value stands for; `None` for 0.
pub(crate) fn decode(v: u64) -> Option<Instant> {
    (v != 0).then(|| epoch() + Duration::from_nanos(v - 1))
}

/// Now, encoded: a slot's deadline has passed once this reaches it.
pub(crate) fn now() -> u64 {
    encode(Instant::now())
}
