//! A typed HTTP client for one bundled node's API (see [`super::api`]); `S` is the
//! protocol's status type (`RaftClient`, `ZabClient`).
//!
//! Every error is classified ([`ClientError::is_definite`]): *definite* means the operation
//! certainly had no effect (the server refused it, or the connection was never made);
//! *indeterminate* means it may or may not have taken effect (timeouts, resets, leadership
//! lost before commit). Reads have no effect, so a failed read is always safe to record
//! as a failure; [`Client::read`] documents this.
//!
//! The client talks to exactly one node and never follows leader hints by itself: the
//! caller decides (a `NotLeader` error carries the hint).

use std::marker::PhantomData;
use std::time::Duration;

use serde::de::DeserializeOwned;

use super::api::{
    AcquireBody, CasBody, ErrorBody, GrantedReply, ReadReply, ReleaseBody, ReleasedReply, TxnBody,
    TxnReply, WriteBody, WrittenReply,
};
use super::committed::CommittedLog;
use super::op::TxnOp;
use super::request::{ReadLevel, RequestError};
use super::types::{NodeId, Position};

/// Why a client call did not succeed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ClientError {
    /// The node answered with a typed refusal (see [`RequestError::is_definite`]).
    #[error("{0}")]
    Rejected(RequestError),
    /// The node (or this client) gave up waiting: the operation may still happen.
    #[error("timed out: {0}")]
    Timeout(String),
    /// The node accepted the request but could not finish it (shutting down, dropped).
    #[error("unavailable: {0}")]
    Unavailable(String),
    /// No connection could be made: the request was never sent.
    #[error("cannot connect: {0}")]
    Connect(String),
    /// The connection failed after the request may have been sent.
    #[error("transport error: {0}")]
    Transport(String),
    /// The HTTP layer refused the request as malformed: it never reached the node logic.
    #[error("bad request: {0}")]
    BadRequest(String),
    /// An answer this client does not understand.
    #[error("unexpected answer: {0}")]
    Protocol(String),
}

impl ClientError {
    /// True when the operation certainly had no effect.
    pub fn is_definite(&self) -> bool {
        match self {
            ClientError::Rejected(e) => e.is_definite(),
            ClientError::Connect(_) | ClientError::BadRequest(_) => true,
            ClientError::Timeout(_)
            | ClientError::Unavailable(_)
            | ClientError::Transport(_)
            | ClientError::Protocol(_) => false,
        }
    }

    /// The leader hint, when the node said it is not the leader.
    pub fn leader_hint(&self) -> Option<&NodeId> {
        match self {
            ClientError::Rejected(RequestError::NotLeader { leader }) => leader.as_ref(),
            _ => None,
        }
    }
}

/// A read's answer: the value, and the position of the state it was read from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReadResult {
    pub value: Option<String>,
    pub position: Position,
}

/// A client for one node, e.g. `RaftClient::new("http://127.0.0.1:8001", timeout)`.
pub struct Client<S> {
    http: reqwest::Client,
    base: String,
    _status: PhantomData<fn() -> S>,
}

impl<S> Clone for Client<S> {
    fn clone(&self) -> Self {
        Client {
            http: self.http.clone(),
            base: self.base.clone(),
            _status: PhantomData,
        }
    }
}

impl<S> std::fmt::Debug for Client<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client").field("base", &self.base).finish()
    }
}

impl<S: DeserializeOwned> Client<S> {
    /// `base` is the node's API root (`http://host:port`); `timeout` bounds every call.
    pub fn new(base: impl Into<String>, timeout: Duration) -> Result<Client<S>, reqwest::Error> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(1)))
            .build()?;
        let base = base.into().trim_end_matches('/').to_string();
        Ok(Client {
            http,
            base,
            _status: PhantomData,
        })
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    /// Linearizable read. Any error means "no value observed"; a read has no effect, so
    /// callers may record every error as a definite failure.
    pub async fn read(&self, key: &str) -> Result<Option<String>, ClientError> {
        let r: ReadReply = self.send(self.http.get(self.url(&["kv", key]))).await?;
        Ok(r.value)
    }

    /// A read at `level` by a client that has already seen `after`; the answer says which
    /// position it was read at. As [`Client::read`], any error is safe to record as a
    /// definite failure.
    pub async fn read_at(
        &self,
        key: &str,
        level: ReadLevel,
        after: Position,
    ) -> Result<ReadResult, ClientError> {
        let query = [
            ("level", level.name().to_string()),
            ("after", after.to_string()),
        ];
        let req = self.http.get(self.url(&["kv", key])).query(&query);
        let r: ReadReply = self.send(req).await?;
        Ok(ReadResult {
            value: r.value,
            position: r.position,
        })
    }

    pub async fn write(&self, key: &str, value: &str) -> Result<(), ClientError> {
        let req = self.http.put(self.url(&["kv", key])).json(&WriteBody {
            value: value.into(),
        });
        let _: WrittenReply = self.send(req).await?;
        Ok(())
    }

    /// Compare-and-set; a mismatch is `Rejected(PreconditionFailed { actual })` (definite).
    pub async fn cas(&self, key: &str, from: &str, to: &str) -> Result<(), ClientError> {
        let req = self
            .http
            .post(self.url(&["kv", key, "cas"]))
            .json(&CasBody {
                from: from.into(),
                to: to.into(),
            });
        let _: WrittenReply = self.send(req).await?;
        Ok(())
    }

    /// Runs a list-append transaction; returns, for each read in `ops`, the list it saw.
    pub async fn txn(&self, ops: &[TxnOp]) -> Result<Vec<Vec<i64>>, ClientError> {
        let req = self
            .http
            .post(self.url(&["txn"]))
            .json(&TxnBody { ops: ops.to_vec() });
        let r: TxnReply = self.send(req).await?;
        Ok(r.reads)
    }

    /// Acquires `name` for `client` with a lease of `ttl`; returns the fencing token.
    pub async fn acquire(
        &self,
        name: &str,
        client: &str,
        ttl: Duration,
    ) -> Result<Position, ClientError> {
        let body = AcquireBody {
            client: client.into(),
            ttl_ms: ttl.as_millis() as u64,
        };
        let req = self
            .http
            .post(self.url(&["lock", name, "acquire"]))
            .json(&body);
        let r: GrantedReply = self.send(req).await?;
        Ok(r.token)
    }

    pub async fn release(
        &self,
        name: &str,
        client: &str,
        token: Position,
    ) -> Result<(), ClientError> {
        let body = ReleaseBody {
            client: client.into(),
            token,
        };
        let req = self
            .http
            .post(self.url(&["lock", name, "release"]))
            .json(&body);
        let _: ReleasedReply = self.send(req).await?;
        Ok(())
    }

    /// The node's own view (role, term or epoch, leader, …): not linearizable.
    pub async fn status(&self) -> Result<S, ClientError> {
        self.send(self.http.get(self.url(&["status"]))).await
    }

    /// The node's committed entries at positions >= `from`, for replica agreement.
    pub async fn committed(&self, from: Position) -> Result<CommittedLog, ClientError> {
        let req = self
            .http
            .get(self.url(&["committed"]))
            .query(&[("from", from.to_string())]);
        self.send(req).await
    }

    fn url(&self, segments: &[&str]) -> String {
        let mut url = self.base.clone();
        for s in segments {
            url.push('/');
            url.push_str(&encode_segment(s));
        }
        url
    }

    async fn send<T: DeserializeOwned>(
        &self,
        req: reqwest::RequestBuilder,
    ) -> Result<T, ClientError> {
        let resp = req.send().await.map_err(classify)?;
        let status = resp.status();
        let bytes = resp.bytes().await.map_err(classify)?;
        if status.is_success() {
            return serde_json::from_slice(&bytes)
                .map_err(|e| ClientError::Protocol(format!("{status}: {e}")));
        }
        match serde_json::from_slice::<ErrorBody>(&bytes) {
            Ok(body) => Err(from_error_body(body)),
            // Refused by the HTTP layer before reaching the node logic (bad JSON, route).
            Err(_) if status.is_client_error() => Err(ClientError::BadRequest(format!(
                "{status}: {}",
                String::from_utf8_lossy(&bytes)
            ))),
            Err(_) => Err(ClientError::Protocol(format!(
                "{status}: {}",
                String::from_utf8_lossy(&bytes)
            ))),
        }
    }
}

fn from_error_body(b: ErrorBody) -> ClientError {
    match b.request_error() {
        Some(e) => ClientError::Rejected(e),
        None if b.error == super::api::ErrorKind::Timeout => ClientError::Timeout(b.message),
        None => ClientError::Unavailable(b.message),
    }
}

fn classify(e: reqwest::Error) -> ClientError {
    if e.is_connect() {
        ClientError::Connect(e.to_string())
    } else if e.is_timeout() {
        ClientError::Timeout(e.to_string())
    } else {
        ClientError::Transport(e.to_string())
    }
}

/// Percent-encodes a path segment (keys and lock names are arbitrary strings).
fn encode_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classification_table() {
        let definite = [
            ClientError::Rejected(RequestError::NotLeader { leader: None }),
            ClientError::Rejected(RequestError::PreconditionFailed {
                actual: Some("1".into()),
            }),
            ClientError::Rejected(RequestError::LockHeld { holder: "c".into() }),
            ClientError::Rejected(RequestError::NotHolder),
            ClientError::Rejected(RequestError::NotServing),
            ClientError::Rejected(RequestError::Behind {
                applied: 1,
                wanted: 2,
            }),
            ClientError::Connect("refused".into()),
        ];
        let indeterminate = [
            ClientError::Rejected(RequestError::LeadershipLost),
            ClientError::Timeout("t".into()),
            ClientError::Unavailable("u".into()),
            ClientError::Transport("reset".into()),
            ClientError::Protocol("?".into()),
        ];
        assert!(definite.iter().all(ClientError::is_definite));
        assert!(!indeterminate.iter().any(ClientError::is_definite));
    }

    #[test]
    fn path_segments_are_encoded() {
        assert_eq!(encode_segment("a b/c"), "a%20b%2Fc");
        assert_eq!(encode_segment("key-1_x.y~"), "key-1_x.y~");
    }
}
