//! `Kv`: the small key-value API a target's client implements for the register
//! workload (and any other workload over keys and string values).
//!
//! A target maps its own errors onto [`KvError`] in one table (see each target's
//! module): `Definite` only when the operation certainly did not take effect.

use std::future::Future;

/// How a key-value call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KvError {
    /// The operation certainly had no effect (refused, not the leader, bad request).
    #[error("{0}")]
    Definite(String),
    /// The operation may or may not have taken effect (timeout, connection lost,
    /// leadership lost before commit).
    #[error("{0}")]
    Indeterminate(String),
}

/// A read that says which state it saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PositionedRead {
    /// The value read, `None` if the key was never written.
    pub value: Option<String>,
    /// The position (log index, zxid) of the state the read was served from.
    pub position: u64,
    /// The node that served it, when known.
    pub node: Option<String>,
}

/// A linearizable key-value store as the register workload sees it.
pub trait Kv: Send + Sync + 'static {
    /// The value of `key`, `None` if it was never written.
    fn read(&self, key: &str) -> impl Future<Output = Result<Option<String>, KvError>> + Send;
    /// A read that also says at which position it was served, for systems whose reads
    /// are weaker than linearizable (a session's monotonic reads are checked on these).
    /// Systems that cannot say return a definite error: nothing was read.
    fn read_positioned(
        &self,
        key: &str,
    ) -> impl Future<Output = Result<PositionedRead, KvError>> + Send {
        let _ = key;
        async {
            Err(KvError::Definite(
                "this system does not report the position of a read".into(),
            ))
        }
    }
    /// Sets `key` to `value`.
    fn write(&self, key: &str, value: &str) -> impl Future<Output = Result<(), KvError>> + Send;
    /// Sets `key` to `to` if its value is `from`; `Ok(false)` when it was not (a
    /// definite failure: nothing changed).
    fn cas(
        &self,
        key: &str,
        from: &str,
        to: &str,
    ) -> impl Future<Output = Result<bool, KvError>> + Send;
}
