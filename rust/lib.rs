//! `weir._native`: SSE framing, usage extraction and token counting for the Weir gateway.
//!
//! The algorithm modules are plain Rust; only `python.rs` (behind the `python` feature) knows
//! about PyO3, so `cargo test --no-default-features` runs without Python.

pub mod sse;
pub mod tap;
pub mod tokens;
pub mod usage;

#[cfg(feature = "python")]
mod python;
