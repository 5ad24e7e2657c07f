//! Integration tests of the `checkers` crate: one binary, one module per feature.

mod formats;
mod golden;
mod interop;
mod properties;
mod robustness;
mod support;
mod writer;
