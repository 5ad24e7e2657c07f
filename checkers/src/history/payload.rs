//! [`Payload`]: how a workload's typed operation travels as Jepsen's `f` + `value`.
//!
//! The same payload type serves the invocation and its completion, as in Jepsen: a
//! read is invoked with no value and completes with the value read.

use std::fmt::Debug;

use super::Kind;

/// Why a record's `f`/`value` is not a valid payload.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct PayloadError(pub String);

impl PayloadError {
    /// `what` was expected but `value` was found.
    pub fn expected(what: &str, value: &serde_json::Value) -> Self {
        PayloadError(format!("expected {what}, found {value}"))
    }
}

/// A typed client operation that can be written as (and read from) `f` + `value`.
pub trait Payload: Sized + Clone + Debug + Send + Sync {
    /// Jepsen's `:f`, e.g. `"cas"`.
    fn f(&self) -> &'static str;
    /// Jepsen's `:value`, e.g. `[1, 2]` for a cas from 1 to 2.
    fn value(&self) -> serde_json::Value;
    /// The inverse of `f`/`value`. `kind` tells invocations (where a read's value is
    /// `null`) from completions.
    fn decode(f: &str, value: &serde_json::Value, kind: Kind) -> Result<Self, PayloadError>;
}
