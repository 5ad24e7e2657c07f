//! Integration tests of the `checkers` crate: one binary, one module per feature.

mod elle;
mod formats;
mod golden;
mod interop;
mod properties;
mod robustness;
mod serial_append;
mod support;
mod unique;
mod writer;
