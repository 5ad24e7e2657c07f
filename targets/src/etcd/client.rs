//! A client of etcd's JSON gateway (grpc-gateway over the client port), one node at a
//! time, and [`EtcdKv`]: the workloads' [`Kv`] and [`Lock`] over the whole cluster.
//!
//! ```text
//! EtcdKv (worker k) ─► home node k mod n ─► POST /v3/kv/range | put | txn, /v3/lease/*, /v3/lock/*
//!                      └─ connection refused (never sent) ─► next node
//! ```
//!
//! Keys and values travel base64-encoded; 64-bit integers arrive as JSON strings.
//!
//! ## Error table (the one place etcd's errors are classified)
//!
//! | error | write / cas / lock | read |
//! |---|---|---|
//! | connection refused, connect timeout (request never sent) | definite | definite |
//! | `etcdserver: no leader`, `too many requests`, `not capable`, `unhealthy cluster`, `requested lease not found`, gRPC InvalidArgument / FailedPrecondition / NotFound / PermissionDenied / Unauthenticated, HTTP 4xx other than 408 | definite | definite |
//! | `request timed out` (also "… due to previous leader failure" / "… due to connection lost"), `leader changed`, `server stopped`, deadline exceeded, canceled, any other gRPC error, HTTP 5xx | indeterminate | definite |
//! | client-side timeout, reset or broken body after sending | indeterminate | definite |
//! | a body this client cannot parse | indeterminate | definite |
//!
//! A read has no effect, so every failed read is a definite failure.
//!
//! ## List-append transactions ([`Lists`])
//!
//! A list is a key whose value is a JSON array (`[1,2,3]`; no key is the empty list).
//! One transaction, as Jepsen's etcd append test does it:
//!
//! 1. **read**: one `kv/txn` whose success branch ranges every key the transaction
//!    touches: each list and its `mod_revision` (0 when absent) at one revision, a
//!    quorum read;
//! 2. the micro-ops run on those lists in the client (a read sees the transaction's own
//!    earlier appends) and give the reads;
//! 3. **commit** (only when it appends): one `kv/txn` comparing every touched key's
//!    `mod_revision` with what step 1 saw (reads included, so the reads are still true
//!    when the appends land: serializable) and putting each appended list.
//!
//! | outcome | recorded |
//! |---|---|
//! | a read-only transaction's step 1 succeeds | `ok` (one linearizable snapshot) |
//! | step 3 `succeeded` | `ok` |
//! | step 3 not `succeeded` (another transaction changed a key in between) | retried from step 1, at most [`TXN_ATTEMPTS`] times in all; then `fail` (nothing was written) |
//! | any error in step 1, or a list that is not a JSON array of integers | `fail` (nothing was written) |
//! | an error in step 3 | the table above: definite → `fail`, otherwise `info` |
//! A cas whose compare failed (`succeeded` absent or false) is `Ok(false)`.
//! Lock: a lock call that did not return within [`LOCK_WAIT`] means another client
//! holds it; its lease is then revoked (which deletes the waiting key) and, if the
//! revoke succeeded, the acquire is `Busy` (definite: this client can no longer become
//! the holder). If the revoke failed, the acquire is indeterminate.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::Duration;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use serde::Deserialize;
use serde_json::{json, Value};
use workloads::kv::{Kv, KvError};
use workloads::list_append::{self, ListOp, Lists};
use workloads::lock::{Lock, LockError};

pub use crate::read_mode::ReadMode;

/// Attempts of one list-append transaction before a conflict is a failure.
pub const TXN_ATTEMPTS: usize = 5;

/// How long an acquire waits for a held lock before giving up (`Busy`).
pub const LOCK_WAIT: Duration = Duration::from_millis(500);

/// Why a call to one etcd member failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EtcdError {
    /// The request was never sent (refused, or no connection within the timeout).
    #[error("cannot connect: {0}")]
    Connect(String),
    /// etcd answered with an error (gRPC code and message).
    #[error("etcd error (code {code}): {message}")]
    Server { code: i64, message: String },
    /// HTTP status without an etcd error body.
    #[error("HTTP {0}")]
    Http(u16, String),
    /// This client stopped waiting for the answer: the request may still take effect.
    #[error("timed out: {0}")]
    Timeout(String),
    /// Reset or broken body after the request may have been sent.
    #[error("transport: {0}")]
    Transport(String),
    /// An answer this client cannot parse.
    #[error("unexpected answer: {0}")]
    Protocol(String),
}

/// etcd messages that mean the request certainly was not applied.
const DEFINITE_MESSAGES: &[&str] = &[
    "etcdserver: no leader",
    "etcdserver: too many requests",
    "etcdserver: not capable",
    "etcdserver: unhealthy cluster",
    "etcdserver: requested lease not found",
];

/// gRPC codes that refuse a request before it is proposed: InvalidArgument (3),
/// NotFound (5), PermissionDenied (7), FailedPrecondition (9), Unauthenticated (16).
const DEFINITE_CODES: &[i64] = &[3, 5, 7, 9, 16];

impl EtcdError {
    /// True when the operation certainly had no effect (see the module's table).
    pub fn is_definite(&self) -> bool {
        match self {
            EtcdError::Connect(_) => true,
            EtcdError::Server { code, message } => {
                DEFINITE_CODES.contains(code)
                    || DEFINITE_MESSAGES.iter().any(|m| message.contains(m))
            }
            EtcdError::Http(status, _) => (400..500).contains(status) && *status != 408,
            EtcdError::Timeout(_) | EtcdError::Transport(_) | EtcdError::Protocol(_) => false,
        }
    }

    pub fn lease_not_found(&self) -> bool {
        matches!(self, EtcdError::Server { message, .. } if message.contains("requested lease not found"))
    }
}

fn from_reqwest(e: reqwest::Error) -> EtcdError {
    // The message with its causes ("… : connection refused").
    let mut text = e.to_string();
    let mut cause = std::error::Error::source(&e);
    while let Some(c) = cause {
        text.push_str(&format!(": {c}"));
        cause = c.source();
    }
    if e.is_connect() {
        EtcdError::Connect(text)
    } else if e.is_timeout() {
        EtcdError::Timeout(text)
    } else {
        EtcdError::Transport(text)
    }
}

fn b64(s: &str) -> String {
    B64.encode(s.as_bytes())
}

fn unb64(s: &str) -> Result<String, EtcdError> {
    let bytes = B64
        .decode(s)
        .map_err(|e| EtcdError::Protocol(format!("base64 {s:?}: {e}")))?;
    String::from_utf8(bytes).map_err(|e| EtcdError::Protocol(format!("utf-8: {e}")))
}

/// A JSON integer that grpc-gateway may send as a string.
fn int(v: &Value) -> Option<u64> {
    match v {
        Value::String(s) => s.parse().ok(),
        Value::Number(n) => n.as_u64(),
        _ => None,
    }
}

/// `field` of `v` under either its proto name or its JSON (camelCase) name.
fn field<'a>(v: &'a Value, proto: &str, camel: &str) -> Option<&'a Value> {
    v.get(proto).or_else(|| v.get(camel))
}

/// One member's Raft state, from the `raft.status` expvar of `/debug/vars`.
///
/// Not `/v3/maintenance/status`: its `raftTerm` is the term of the last *applied*
/// entry, so a freshly elected leader reports the previous term until its first entry
/// applies, which looks like two leaders in one term.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberStatus {
    pub member_id: u64,
    /// 0 when the member knows no leader.
    pub leader: u64,
    pub raft_term: u64,
    /// 0 when the member has not voted in this term.
    pub vote: u64,
    /// `StateLeader`, `StateFollower`, `StateCandidate`, `StatePreCandidate`.
    pub state: String,
}

impl MemberStatus {
    /// Parses the `raft.status` object (ids in hex, as etcd's raft prints them).
    pub fn from_vars(vars: &Value) -> Result<MemberStatus, String> {
        let raft = vars
            .get("raft.status")
            .ok_or_else(|| "no raft.status in /debug/vars".to_string())?;
        let hex = |k: &str| {
            raft.get(k)
                .and_then(Value::as_str)
                .and_then(|h| u64::from_str_radix(h, 16).ok())
                .ok_or_else(|| format!("raft.status without {k}: {raft}"))
        };
        Ok(MemberStatus {
            member_id: hex("id")?,
            leader: hex("lead")?,
            vote: hex("vote")?,
            raft_term: raft
                .get("term")
                .and_then(Value::as_u64)
                .ok_or_else(|| format!("raft.status without term: {raft}"))?,
            state: raft
                .get("raftState")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
        })
    }
}

/// A member as `/v3/cluster/member/list` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Member {
    #[serde(rename = "ID", deserialize_with = "de_int")]
    pub id: u64,
    #[serde(default)]
    pub name: String,
}

fn de_int<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    let v = Value::deserialize(d)?;
    int(&v).ok_or_else(|| serde::de::Error::custom(format!("not an integer: {v}")))
}

/// A client for one etcd member's gateway.
#[derive(Clone, Debug)]
pub struct EtcdNode {
    http: reqwest::Client,
    base: String,
}

impl EtcdNode {
    /// `addr` is the member's client address; `timeout` bounds every call.
    pub fn new(addr: SocketAddr, timeout: Duration) -> Result<EtcdNode, String> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(1)))
            .no_proxy()
            .build()
            .map_err(|e| format!("HTTP client for {addr}: {e}"))?;
        Ok(EtcdNode {
            http,
            base: format!("http://{addr}"),
        })
    }

    /// POSTs `body` to `/v3/<path>` and returns the JSON answer (errors classified).
    pub async fn call(&self, path: &str, body: Value) -> Result<Value, EtcdError> {
        self.call_with(path, body, None).await
    }

    async fn call_with(
        &self,
        path: &str,
        body: Value,
        timeout: Option<Duration>,
    ) -> Result<Value, EtcdError> {
        let mut req = self
            .http
            .post(format!("{}/v3/{path}", self.base))
            .json(&body);
        if let Some(t) = timeout {
            req = req.timeout(t);
        }
        let resp = req.send().await.map_err(from_reqwest)?;
        let status = resp.status();
        let text = resp.text().await.map_err(from_reqwest)?;
        let value: Option<Value> = serde_json::from_str(&text).ok();
        if let Some(v) = &value {
            // grpc-gateway error bodies: {"error": …, "code": n, "message": …}
            if let (Some(code), Some(msg)) = (
                v.get("code").and_then(Value::as_i64),
                v.get("message")
                    .or_else(|| v.get("error"))
                    .and_then(Value::as_str),
            ) {
                if code != 0 {
                    return Err(EtcdError::Server {
                        code,
                        message: msg.to_string(),
                    });
                }
            }
            // Streaming endpoints wrap answers: {"result": …} or {"error": {…}}.
            if let Some(err) = v.get("error").filter(|e| e.is_object()) {
                return Err(EtcdError::Server {
                    code: err.get("grpc_code").and_then(Value::as_i64).unwrap_or(2),
                    message: err
                        .get("message")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_string(),
                });
            }
        }
        if !status.is_success() {
            return Err(EtcdError::Http(status.as_u16(), text));
        }
        value.ok_or(EtcdError::Protocol(text))
    }

    /// The value of `key` (`None` when absent).
    pub async fn get(&self, key: &str, mode: ReadMode) -> Result<Option<String>, EtcdError> {
        let r = self
            .call(
                "kv/range",
                json!({ "key": b64(key), "serializable": mode == ReadMode::Serializable }),
            )
            .await?;
        match r
            .get("kvs")
            .and_then(Value::as_array)
            .and_then(|a| a.first())
        {
            None => Ok(None),
            Some(kv) => kv
                .get("value")
                .and_then(Value::as_str)
                .map(unb64)
                .transpose()
                .map(|v| v.or(Some(String::new()))),
        }
    }

    pub async fn put(&self, key: &str, value: &str) -> Result<(), EtcdError> {
        self.call("kv/put", json!({ "key": b64(key), "value": b64(value) }))
            .await
            .map(drop)
    }

    /// Sets `key` to `to` if its value is `from`: a txn comparing the value.
    pub async fn cas(&self, key: &str, from: &str, to: &str) -> Result<bool, EtcdError> {
        let r = self
            .call(
                "kv/txn",
                json!({
                    "compare": [{ "key": b64(key), "target": "VALUE", "result": "EQUAL", "value": b64(from) }],
                    "success": [{ "request_put": { "key": b64(key), "value": b64(to) } }],
                }),
            )
            .await?;
        Ok(r.get("succeeded").and_then(Value::as_bool).unwrap_or(false))
    }

    /// Each key's list and `mod_revision` (0: absent), all at one revision.
    pub async fn lists(&self, keys: &[&str]) -> Result<Vec<(Vec<i64>, u64)>, EtcdError> {
        let ranges: Vec<Value> = keys
            .iter()
            .map(|k| json!({ "request_range": { "key": b64(k) } }))
            .collect();
        let r = self.call("kv/txn", json!({ "success": ranges })).await?;
        let responses = r
            .get("responses")
            .and_then(Value::as_array)
            .filter(|a| a.len() == keys.len())
            .ok_or_else(|| EtcdError::Protocol(format!("txn of {} ranges: {r}", keys.len())))?;
        responses
            .iter()
            .map(|resp| {
                let range = field(resp, "response_range", "responseRange")
                    .ok_or_else(|| EtcdError::Protocol(format!("not a range answer: {resp}")))?;
                match range
                    .get("kvs")
                    .and_then(Value::as_array)
                    .and_then(|a| a.first())
                {
                    None => Ok((Vec::new(), 0)),
                    Some(kv) => {
                        let text = kv.get("value").and_then(Value::as_str).map(unb64);
                        let list = match text.transpose()? {
                            None => Vec::new(),
                            Some(t) => serde_json::from_str::<Vec<i64>>(&t).map_err(|e| {
                                EtcdError::Protocol(format!(
                                    "a list that is not [ints]: {t:?}: {e}"
                                ))
                            })?,
                        };
                        let rev = field(kv, "mod_revision", "modRevision")
                            .and_then(int)
                            .ok_or_else(|| {
                                EtcdError::Protocol(format!("kv without mod_revision: {kv}"))
                            })?;
                        Ok((list, rev))
                    }
                }
            })
            .collect()
    }

    /// Puts `puts` if every key in `seen` still has the `mod_revision` it had; `Ok(false)`
    /// when a compare failed (nothing was written).
    pub async fn put_if_unchanged(
        &self,
        seen: &[(&str, u64)],
        puts: &[(&str, String)],
    ) -> Result<bool, EtcdError> {
        let compare: Vec<Value> = seen
            .iter()
            .map(|(k, rev)| {
                json!({ "key": b64(k), "target": "MOD", "result": "EQUAL", "mod_revision": rev.to_string() })
            })
            .collect();
        let success: Vec<Value> = puts
            .iter()
            .map(|(k, v)| json!({ "request_put": { "key": b64(k), "value": b64(v) } }))
            .collect();
        let r = self
            .call("kv/txn", json!({ "compare": compare, "success": success }))
            .await?;
        Ok(r.get("succeeded").and_then(Value::as_bool).unwrap_or(false))
    }

    /// Grants a lease of `ttl_s` seconds; returns its id.
    pub async fn grant(&self, ttl_s: u64) -> Result<u64, EtcdError> {
        let r = self.call("lease/grant", json!({ "TTL": ttl_s })).await?;
        field(&r, "ID", "id")
            .and_then(int)
            .filter(|id| *id != 0)
            .ok_or_else(|| EtcdError::Protocol(format!("lease grant without an ID: {r}")))
    }

    pub async fn revoke(&self, lease: u64) -> Result<(), EtcdError> {
        self.call("lease/revoke", json!({ "ID": lease.to_string() }))
            .await
            .map(drop)
    }

    /// Creates `key` = `value` under `lease` if no such key exists (a transaction on
    /// its create revision being 0): `Some(revision)` of the creation, `None` when the
    /// key exists (nothing was written).
    pub async fn create_if_absent(
        &self,
        key: &str,
        value: &str,
        lease: u64,
    ) -> Result<Option<u64>, EtcdError> {
        let r = self
            .call(
                "kv/txn",
                json!({
                    "compare": [{ "key": b64(key), "target": "CREATE", "result": "EQUAL", "create_revision": "0" }],
                    "success": [{ "request_put": { "key": b64(key), "value": b64(value), "lease": lease.to_string() } }],
                }),
            )
            .await?;
        if !r.get("succeeded").and_then(Value::as_bool).unwrap_or(false) {
            return Ok(None);
        }
        r.get("header")
            .and_then(|h| h.get("revision"))
            .and_then(int)
            .map(Some)
            .ok_or_else(|| EtcdError::Protocol(format!("txn answer without a revision: {r}")))
    }

    /// One keepalive of `lease` (`/v3/lease/keepalive`, one request on the stream): the
    /// TTL left, in seconds; 0 when the lease has expired.
    pub async fn keepalive(&self, lease: u64) -> Result<u64, EtcdError> {
        let r = self
            .call("lease/keepalive", json!({ "ID": lease.to_string() }))
            .await?;
        let result = r.get("result").unwrap_or(&r);
        Ok(field(result, "TTL", "ttl").and_then(int).unwrap_or(0))
    }

    /// `/v3/lock/lock` with `lease`, waiting at most `wait`: the revision of the
    /// answer's header (see [`EtcdKv`]'s fencing note).
    pub async fn lock(&self, name: &str, lease: u64, wait: Duration) -> Result<u64, EtcdError> {
        let r = self
            .call_with(
                "lock/lock",
                json!({ "name": b64(name), "lease": lease.to_string() }),
                Some(wait),
            )
            .await?;
        r.get("header")
            .and_then(|h| h.get("revision"))
            .and_then(int)
            .ok_or_else(|| EtcdError::Protocol(format!("lock answer without a revision: {r}")))
    }

    /// The member's Raft state (see [`MemberStatus`]).
    pub async fn status(&self) -> Result<MemberStatus, EtcdError> {
        let resp = self
            .http
            .get(format!("{}/debug/vars", self.base))
            .send()
            .await
            .map_err(from_reqwest)?;
        let status = resp.status().as_u16();
        let text = resp.text().await.map_err(from_reqwest)?;
        if status != 200 {
            return Err(EtcdError::Http(status, text));
        }
        let vars: Value = serde_json::from_str(&text)
            .map_err(|e| EtcdError::Protocol(format!("/debug/vars: {e}")))?;
        MemberStatus::from_vars(&vars).map_err(EtcdError::Protocol)
    }

    pub async fn members(&self) -> Result<Vec<Member>, EtcdError> {
        let r = self.call("cluster/member/list", json!({})).await?;
        serde_json::from_value(r.get("members").cloned().unwrap_or(Value::Array(vec![])))
            .map_err(|e| EtcdError::Protocol(format!("member list: {e}")))
    }
}

/// A client of the whole etcd cluster for one worker: requests go to the worker's home
/// member; only a request that was never sent moves on to the next member. Implements
/// the workloads' [`Kv`], [`Lists`] and [`Lock`].
///
/// Fencing token: the revision in the header of the `lock` answer. The lock key of a
/// later holder is created, or its wait ends, only after the earlier holder's key was
/// deleted, so that revision is above every revision the earlier holder was granted at.
pub struct EtcdKv {
    nodes: Vec<EtcdNode>,
    home: usize,
    mode: ReadMode,
    /// Leases of the locks this client holds: (lock, client) → lease id.
    leases: Mutex<BTreeMap<(String, String), u64>>,
}

impl EtcdKv {
    pub fn new(
        addrs: &[SocketAddr],
        home: usize,
        timeout: Duration,
        mode: ReadMode,
    ) -> Result<EtcdKv, String> {
        if addrs.is_empty() {
            return Err("an etcd client needs at least one member".into());
        }
        let nodes = addrs
            .iter()
            .map(|a| EtcdNode::new(*a, timeout))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(EtcdKv {
            home: home % nodes.len(),
            nodes,
            mode,
            leases: Mutex::new(BTreeMap::new()),
        })
    }

    /// Runs `call` at the home member, then the others while the request was never sent.
    /// Calls the home member, moving on only when a request was never sent.
    pub async fn each<T, F, Fut>(&self, call: F) -> Result<T, EtcdError>
    where
        F: Fn(EtcdNode) -> Fut,
        Fut: std::future::Future<Output = Result<T, EtcdError>>,
    {
        crate::failover::from_home(
            &self.nodes,
            self.home,
            |e| matches!(e, EtcdError::Connect(_)),
            call,
        )
        .await
    }

    fn leases(&self) -> std::sync::MutexGuard<'_, BTreeMap<(String, String), u64>> {
        self.leases.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn kv_error(e: EtcdError) -> KvError {
    if e.is_definite() {
        KvError::Definite(e.to_string())
    } else {
        KvError::Indeterminate(e.to_string())
    }
}

fn lock_error(e: EtcdError) -> LockError {
    if e.is_definite() {
        LockError::Definite(e.to_string())
    } else {
        LockError::Indeterminate(e.to_string())
    }
}

impl Kv for EtcdKv {
    async fn read(&self, key: &str) -> Result<Option<String>, KvError> {
        let mode = self.mode;
        self.each(|n| async move { n.get(key, mode).await })
            .await
            // A read has no effect: every failure is definite.
            .map_err(|e| KvError::Definite(e.to_string()))
    }

    async fn write(&self, key: &str, value: &str) -> Result<(), KvError> {
        self.each(|n| async move { n.put(key, value).await })
            .await
            .map_err(kv_error)
    }

    async fn cas(&self, key: &str, from: &str, to: &str) -> Result<bool, KvError> {
        self.each(|n| async move { n.cas(key, from, to).await })
            .await
            .map_err(kv_error)
    }
}

impl Lists for EtcdKv {
    /// Read, run, compare-and-put (the module docs: "List-append transactions").
    async fn txn(&self, ops: &[ListOp]) -> Result<Vec<Vec<i64>>, KvError> {
        let mut keys: Vec<&str> = ops.iter().map(ListOp::key).collect();
        keys.sort_unstable();
        keys.dedup();
        let keys = &keys;
        let appends = ops.iter().any(|o| matches!(o, ListOp::Append { .. }));
        for _ in 0..TXN_ATTEMPTS {
            let seen = self
                .each(|n| async move { n.lists(keys).await })
                .await
                // Nothing is written before step 3.
                .map_err(|e| KvError::Definite(e.to_string()))?;
            let mut lists: BTreeMap<String, Vec<i64>> = keys
                .iter()
                .zip(&seen)
                .map(|(k, (list, _))| (k.to_string(), list.clone()))
                .collect();
            let reads = list_append::apply(&mut lists, ops);
            if !appends {
                return Ok(reads);
            }
            let revs: Vec<(&str, u64)> =
                keys.iter().copied().zip(seen.iter().map(|s| s.1)).collect();
            let mut puts: Vec<(&str, String)> = Vec::new();
            for op in ops {
                if let ListOp::Append { key, .. } = op {
                    if !puts.iter().any(|(k, _)| k == key) {
                        let list = serde_json::to_string(&lists[key.as_str()])
                            .map_err(|e| KvError::Definite(format!("encoding a list: {e}")))?;
                        puts.push((key.as_str(), list));
                    }
                }
            }
            let (revs, puts) = (&revs, &puts);
            let done = self
                .each(|n| async move { n.put_if_unchanged(revs, puts).await })
                .await
                .map_err(kv_error)?;
            if done {
                return Ok(reads);
            }
        }
        Err(KvError::Definite(format!(
            "conflict: another transaction changed a key {TXN_ATTEMPTS} times in a row"
        )))
    }
}

impl Lock for EtcdKv {
    async fn acquire(&self, lock: &str, client: &str, ttl: Duration) -> Result<u64, LockError> {
        // Lease seconds rounded up: the lease never ends before the ttl the checker
        // assumes (etcd may grant more, which only delays the next holder).
        let ttl_s = ttl.as_millis().div_ceil(1000).max(1) as u64;
        let lease = self
            .each(|n| async move { n.grant(ttl_s).await })
            .await
            // A lease alone holds nothing: any grant error leaves the lock untouched.
            .map_err(|e| LockError::Definite(format!("lease grant: {e}")))?;
        let name = format!("faultline-lock/{lock}");
        let wait = LOCK_WAIT.min(ttl / 2);
        match self
            .each(|n| {
                let name = name.clone();
                async move { n.lock(&name, lease, wait).await }
            })
            .await
        {
            Ok(token) => {
                self.leases()
                    .insert((lock.to_string(), client.to_string()), lease);
                Ok(token)
            }
            Err(e) => {
                let waited_out = matches!(e, EtcdError::Timeout(_));
                // Revoking the lease deletes any key the lock call created, so this
                // client can no longer become the holder.
                match self.each(|n| async move { n.revoke(lease).await }).await {
                    Ok(()) if waited_out => Err(LockError::Busy(format!(
                        "not granted within {wait:?} (lease revoked)"
                    ))),
                    Ok(()) => Err(LockError::Definite(format!("{e} (lease revoked)"))),
                    Err(r) if r.lease_not_found() => {
                        Err(LockError::Definite(format!("{e} (lease already gone)")))
                    }
                    Err(r) if e.is_definite() => Err(LockError::Indeterminate(format!(
                        "{e}; then revoking the lease: {r}"
                    ))),
                    Err(r) => Err(LockError::Indeterminate(format!(
                        "{e}; then revoking the lease: {r}"
                    ))),
                }
            }
        }
    }

    async fn release(&self, lock: &str, client: &str, _token: u64) -> Result<(), LockError> {
        let key = (lock.to_string(), client.to_string());
        let Some(lease) = self.leases().get(&key).copied() else {
            return Err(LockError::Definite(format!(
                "{client} holds no lease for lock {lock}"
            )));
        };
        match self.each(|n| async move { n.revoke(lease).await }).await {
            // Revoking deletes the lock key; an expired lease released it already.
            Ok(()) => {
                self.leases().remove(&key);
                Ok(())
            }
            Err(e) if e.lease_not_found() => {
                self.leases().remove(&key);
                Ok(())
            }
            Err(e) => Err(lock_error(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_error_table_is_definite_only_for_refusals() {
        let server = |code, m: &str| EtcdError::Server {
            code,
            message: m.into(),
        };
        assert!(EtcdError::Connect("refused".into()).is_definite());
        assert!(server(14, "etcdserver: no leader").is_definite());
        assert!(server(8, "etcdserver: too many requests").is_definite());
        assert!(server(3, "etcdserver: key is not provided").is_definite());
        assert!(!server(14, "etcdserver: request timed out").is_definite());
        assert!(!server(
            14,
            "etcdserver: request timed out, possibly due to previous leader failure"
        )
        .is_definite());
        assert!(!server(14, "etcdserver: leader changed").is_definite());
        assert!(!server(2, "context deadline exceeded").is_definite());
        assert!(!EtcdError::Timeout("after 1s".into()).is_definite());
        assert!(!EtcdError::Transport("reset".into()).is_definite());
        assert!(!EtcdError::Http(503, String::new()).is_definite());
        assert!(EtcdError::Http(404, String::new()).is_definite());
        assert!(!EtcdError::Protocol("?".into()).is_definite());
    }

    #[test]
    fn raft_status_comes_from_the_expvar() {
        let vars = json!({"raft.status": {"id": "8e9e05c52164694d", "term": 3, "vote": "8e9e05c52164694d",
            "commit": 9, "lead": "8e9e05c52164694d", "raftState": "StateLeader", "applied": 9,
            "progress": {"8e9e05c52164694d": {"match": 9, "next": 10, "state": "StateReplicate"}},
            "leadtransferee": "0"}});
        let s = MemberStatus::from_vars(&vars).unwrap();
        assert_eq!(s.member_id, 0x8e9e05c52164694d);
        assert_eq!(
            (s.leader, s.vote, s.raft_term),
            (s.member_id, s.member_id, 3)
        );
        assert_eq!(s.state, "StateLeader");
        assert!(MemberStatus::from_vars(&json!({})).is_err());
    }

    #[test]
    fn gateway_integers_parse_from_strings_and_numbers() {
        assert_eq!(
            int(&json!("12345678901234567890")),
            Some(12345678901234567890)
        );
        assert_eq!(int(&json!(7)), Some(7));
        assert_eq!(int(&json!(null)), None);
        let m: Member = serde_json::from_value(json!({"ID": "42", "name": "n2"})).unwrap();
        assert_eq!(
            m,
            Member {
                id: 42,
                name: "n2".into()
            }
        );
        assert_eq!(unb64(&b64("12")).unwrap(), "12");
    }
}
