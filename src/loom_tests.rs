//! Loom models of the completion slot and the queue gate (RUSTFLAGS="--cfg loom"
//! cargo test --release --lib loom). Owned by the reliability work.
