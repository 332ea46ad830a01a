//! The safe Rust API placeholder (filled in below).
