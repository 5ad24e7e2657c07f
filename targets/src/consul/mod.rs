//! HashiCorp Consul as a system under test, wherever its binary exists (`consul` on PATH
//! or `--consul-bin`; Debian ships no package, so faultline never installs it).
//!
//! ```text
//! ConsulTarget::setup ─► every node: `consul agent -server -bootstrap-expect N
//!                          -bind ADDR -client ADDR -retry-join … -data-dir nodes/nK/data`
//!                     ─► wait: /v1/status/leader names a leader on a majority, then a
//!                          consistent KV read
//! status(node)        ─► /v1/agent/self (Stats.raft: state, term) + /v1/status/leader
//!                          (the leader's RPC address → node name)
//! ConsulKv            ─► GET /v1/kv/K?consistent (or default / ?stale), PUT /v1/kv/K,
//!                          PUT ?cas=ModifyIndex
//! ConsulKv::lock_key  ─► session/create ─► PUT /v1/kv/K?acquire=S ─► GET ?consistent:
//!                          token = ModifyIndex while Session = S (the lock workload's
//!                          client and the election recipe, [`election`], both take
//!                          their locks here)
//! ```
//!
//! Read modes: `linearizable` uses `?consistent`; `serializable` uses `?stale` (any
//! server answers from its local state).
//!
//! ## Error table (the one place Consul's errors are classified)
//!
//! | error | write / cas / lock | read |
//! |---|---|---|
//! | connection refused / connect timeout (never sent) | definite | definite |
//! | HTTP 400, 403, 404 (bad request, ACL, unknown session) | definite | definite |
//! | HTTP 500 "No cluster leader" / "rpc error making call: No cluster leader" | definite | definite |
//! | any other HTTP 5xx, timeout, reset, unparsable body | indeterminate | definite |
//!
//! A cas or acquire answering `false` is a definite refusal (`Ok(false)` / `Busy`).
//! A session renewal answered 404 means the session is gone (`Ok(false)`).
//!
//! ## Sessions and lock tokens
//!
//! A lock is a key acquired by a session (`?acquire=S`); it is held until the session
//! releases it (`?release=S`) or the session is invalidated (destroyed, its TTL lapsed,
//! or, unless it was created without checks, its node's `serfHealth` failed), after
//! which the key is released or deleted as the session's `Behavior` says and, for the
//! session's `LockDelay`, nobody may acquire it. The token a holder fences with is the
//! key's `ModifyIndex` read back after the acquire (the acquire answers only
//! true/false), with `?consistent` and only while the key still names the session: it
//! is the Raft index of the acquire, and a later holder's acquire is a later entry of
//! the same log, applied after the release or invalidation that let it in.

pub mod election;
#[cfg(test)]
pub(crate) mod fake;

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use checkers::split_brain::Role;
use harness::target::{
    poll_until_healthy, start_on_every_node, BoxFuture, NodeStatus, Probe, StatusError, Target,
    TargetError,
};
use runtime::netns::prereq::which;
use runtime::{NodeId, Runtime, ServiceSpec};
use serde_json::{json, Value};
use workloads::kv::{Kv, KvError};
use workloads::lock::{Lock, LockError};

use crate::read_mode::ReadMode;

/// HTTP API port.
pub const HTTP_PORT: u16 = 8500;
/// Server RPC port (what /v1/status/leader reports).
pub const RPC_PORT: u16 = 8300;
/// Serf LAN port.
pub const SERF_PORT: u16 = 8301;

/// Why Consul cannot be used here, for `--target consul` and the skipped tests.
pub fn absent_reason(bin: Option<&Path>) -> Option<String> {
    locate(bin).err()
}

/// The consul binary: the given one or `consul` on PATH.
pub fn locate(bin: Option<&Path>) -> Result<PathBuf, String> {
    match bin {
        Some(p) if p.is_file() => Ok(p.to_path_buf()),
        Some(p) => Err(format!("--consul-bin {}: no such file", p.display())),
        None => which("consul").ok_or_else(|| {
            "`consul` is not on PATH and --consul-bin was not given; Consul has no Debian \
             package, so faultline cannot install it: put HashiCorp's consul binary on PATH \
             or pass --consul-bin"
                .to_string()
        }),
    }
}

/// Prints where `consul` is on the node's PATH (a constant script).
const WHICH_CONSUL: &str = "command -v consul";

/// The consul binary on nodes that are other machines: the given path, which must be
/// an executable on every node, or `consul` on each node's PATH (one path for all: the
/// first node's, checked on the others). Consul has no Debian package, so nothing is
/// installed: a node without it is a setup error naming the node.
pub fn locate_on_nodes(rt: &dyn Runtime, bin: Option<&Path>) -> Result<PathBuf, TargetError> {
    let mut found: Option<PathBuf> = bin.map(Path::to_path_buf);
    for id in rt.node_ids() {
        let path = match &found {
            Some(p) => p.clone(),
            None => {
                let out = rt.exec(id, &runtime::Cmd::new("sh").args(["-c", WHICH_CONSUL]))?;
                let path = out.stdout_lossy().trim().to_string();
                if !out.success() || path.is_empty() {
                    return Err(TargetError::Setup(format!(
                        "{id}: `consul` is not on the node's PATH and --consul-bin was not \
                         given; Consul has no Debian package, so faultline cannot install \
                         it: put HashiCorp's consul binary on every node"
                    )));
                }
                PathBuf::from(path)
            }
        };
        let ok = rt
            .exec(id, &runtime::Cmd::new("test").arg("-x").arg(&path))?
            .success();
        if !ok {
            return Err(TargetError::Setup(format!(
                "{id}: {}{}: no executable there on the node",
                if bin.is_some() { "--consul-bin " } else { "" },
                path.display()
            )));
        }
        found = Some(path);
    }
    found.ok_or_else(|| TargetError::Setup("no node to run consul on".into()))
}

/// How to run Consul (plain data; part of the test).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ConsulOptions {
    pub bin: Option<PathBuf>,
    pub read_mode: ReadMode,
}

/// Why a Consul call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConsulError {
    #[error("cannot connect: {0}")]
    Connect(String),
    #[error("HTTP {0}: {1}")]
    Http(u16, String),
    #[error("transport: {0}")]
    Transport(String),
    #[error("unexpected answer: {0}")]
    Protocol(String),
}

impl ConsulError {
    /// True when the operation certainly had no effect (see the module's table).
    pub fn is_definite(&self) -> bool {
        match self {
            ConsulError::Connect(_) => true,
            ConsulError::Http(400 | 403 | 404, _) => true,
            ConsulError::Http(500, body) => body.contains("No cluster leader"),
            ConsulError::Http(..) | ConsulError::Transport(_) | ConsulError::Protocol(_) => false,
        }
    }
}

fn from_reqwest(e: reqwest::Error) -> ConsulError {
    if e.is_connect() {
        ConsulError::Connect(e.to_string())
    } else {
        ConsulError::Transport(format!("{e:#}"))
    }
}

/// Consul's bounds on a session's TTL (`SessionTTLMin`, the server's default, and
/// `SessionTTLMax`).
pub const SESSION_TTL_MIN: Duration = Duration::from_secs(10);
pub const SESSION_TTL_MAX: Duration = Duration::from_secs(86_400);

/// Checks a session TTL against Consul's bounds (the caller names its flag).
pub fn check_session_ttl(ttl: Duration) -> Result<(), String> {
    if (SESSION_TTL_MIN..=SESSION_TTL_MAX).contains(&ttl) {
        return Ok(());
    }
    Err(format!(
        "{}: Consul's session TTL must be within {}..={} ms (10 s to 86400 s)",
        ttl.as_millis(),
        SESSION_TTL_MIN.as_millis(),
        SESSION_TTL_MAX.as_millis()
    ))
}

/// What becomes of the keys a session holds when it is invalidated (`Behavior`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Behavior {
    /// The keys stay, with no session (Consul's default).
    Release,
    /// The keys are deleted (like ZooKeeper's ephemeral znodes).
    Delete,
}

impl Behavior {
    fn name(self) -> &'static str {
        match self {
            Behavior::Release => "release",
            Behavior::Delete => "delete",
        }
    }
}

/// How a session is created (the body of `PUT /v1/session/create`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionSpec {
    /// Consul invalidates the session if it is not renewed for this long; it may keep it
    /// up to twice as long (its timer runs 2 × TTL, and a new Consul leader restarts every
    /// timer), never shorter. Within [`SESSION_TTL_MIN`]..=[`SESSION_TTL_MAX`].
    pub ttl: Duration,
    pub behavior: Behavior,
    /// After the session is invalidated (not after a release), nobody may acquire its
    /// keys for this long. Consul's default is 15 s.
    pub lock_delay: Duration,
    /// `true`: no health checks (`Checks` and `NodeChecks` empty), so the TTL alone ends
    /// the session; `false`: Consul's default, the `serfHealth` check of the node whose
    /// agent answered the create.
    pub ttl_only: bool,
}

impl SessionSpec {
    /// The lock workload's sessions: the lock's TTL in whole seconds, at least Consul's
    /// 10 s; deleted keys; no lock-delay; Consul's default checks.
    pub fn for_lock(ttl: Duration) -> SessionSpec {
        let secs = ttl.as_millis().div_ceil(1000).max(10) as u64;
        SessionSpec {
            ttl: Duration::from_secs(secs),
            behavior: Behavior::Delete,
            lock_delay: Duration::ZERO,
            ttl_only: false,
        }
    }

    /// The JSON body (durations as Go duration strings in milliseconds: Consul parses
    /// them with `time.ParseDuration`).
    pub fn body(&self) -> Value {
        let mut body = json!({
            "TTL": format!("{}ms", self.ttl.as_millis()),
            "Behavior": self.behavior.name(),
            "LockDelay": format!("{}ms", self.lock_delay.as_millis()),
        });
        if self.ttl_only {
            // `Checks` for servers before 1.7, `NodeChecks` since: an empty list drops
            // the default serfHealth check.
            body["Checks"] = json!([]);
            body["NodeChecks"] = json!([]);
        }
        body
    }
}

/// One key as `GET /v1/kv/:key` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KvEntry {
    pub value: String,
    pub create_index: u64,
    /// The Raft index of the last write to the key.
    pub modify_index: u64,
    /// How many times the key was acquired (reset if the key is deleted).
    pub lock_index: u64,
    /// The session holding the key's lock.
    pub session: Option<String>,
}

impl KvEntry {
    /// The one entry of a single-key read's answer (`[{…}]`).
    fn from_body(text: &str) -> Result<KvEntry, ConsulError> {
        let v: Value =
            serde_json::from_str(text).map_err(|_| ConsulError::Protocol(text.to_string()))?;
        let entry = v
            .get(0)
            .ok_or_else(|| ConsulError::Protocol(text.to_string()))?;
        KvEntry::from_json(entry)
    }

    fn from_json(entry: &Value) -> Result<KvEntry, ConsulError> {
        let value = match entry.get("Value").and_then(Value::as_str) {
            Some(b) => {
                let bytes = B64
                    .decode(b)
                    .map_err(|e| ConsulError::Protocol(format!("base64: {e}")))?;
                String::from_utf8_lossy(&bytes).into_owned()
            }
            None => String::new(),
        };
        let index = |field: &str| {
            entry
                .get(field)
                .and_then(Value::as_u64)
                .ok_or_else(|| ConsulError::Protocol(format!("no {field} in {entry}")))
        };
        Ok(KvEntry {
            value,
            create_index: index("CreateIndex")?,
            modify_index: index("ModifyIndex")?,
            lock_index: entry.get("LockIndex").and_then(Value::as_u64).unwrap_or(0),
            session: entry
                .get("Session")
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(str::to_string),
        })
    }
}

/// A client of one Consul server's HTTP API.
#[derive(Clone, Debug)]
pub struct ConsulNode {
    http: reqwest::Client,
    base: String,
    /// Bounds each request (a blocking query gets its wait on top).
    timeout: Duration,
}

impl ConsulNode {
    pub fn new(addr: SocketAddr, timeout: Duration) -> Result<ConsulNode, String> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(1)))
            .no_proxy()
            .build()
            .map_err(|e| format!("HTTP client for {addr}: {e}"))?;
        Ok(ConsulNode {
            http,
            base: format!("http://{addr}"),
            timeout,
        })
    }

    async fn send(&self, req: reqwest::RequestBuilder) -> Result<(u16, String), ConsulError> {
        let resp = req.send().await.map_err(from_reqwest)?;
        let status = resp.status().as_u16();
        let text = resp.text().await.map_err(from_reqwest)?;
        Ok((status, text))
    }

    async fn json(&self, req: reqwest::RequestBuilder) -> Result<Value, ConsulError> {
        match self.send(req).await? {
            (200, text) => serde_json::from_str(&text).map_err(|_| ConsulError::Protocol(text)),
            (s, text) => Err(ConsulError::Http(s, text)),
        }
    }

    /// The value of `key` and its ModifyIndex (`None` when absent).
    pub async fn get(
        &self,
        key: &str,
        mode: ReadMode,
    ) -> Result<Option<(String, u64)>, ConsulError> {
        Ok(self
            .entry(key, mode)
            .await?
            .map(|e| (e.value, e.modify_index)))
    }

    /// `key` with its indexes and lock holder (`None` when absent).
    pub async fn entry(&self, key: &str, mode: ReadMode) -> Result<Option<KvEntry>, ConsulError> {
        let q = match mode {
            ReadMode::Linearizable => "consistent",
            ReadMode::Serializable => "stale",
        };
        let req = self.http.get(format!("{}/v1/kv/{key}?{q}", self.base));
        match self.send(req).await? {
            (404, _) => Ok(None),
            (200, text) => KvEntry::from_body(&text).map(Some),
            (s, text) => Err(ConsulError::Http(s, text)),
        }
    }

    /// A blocking query on `key` (`?index=&wait=`): answers once the key's index passes
    /// `index`, or after `wait` (plus Consul's jitter of up to wait/16) with no change;
    /// `index` 0 answers at once. Returns the key (`None` when absent) and the index to
    /// block on next (`X-Consul-Index`: the key's ModifyIndex, or for an absent key the
    /// KV store's last change). A wake-up is a hint, never a grant: only an acquire takes
    /// the key.
    pub async fn watch(
        &self,
        key: &str,
        index: u64,
        wait: Duration,
    ) -> Result<(Option<KvEntry>, u64), ConsulError> {
        let url = format!(
            "{}/v1/kv/{key}?index={index}&wait={}ms",
            self.base,
            wait.as_millis()
        );
        let req = self.http.get(url).timeout(wait + wait / 16 + self.timeout);
        let resp = req.send().await.map_err(from_reqwest)?;
        let status = resp.status().as_u16();
        let next = resp
            .headers()
            .get("X-Consul-Index")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        let text = resp.text().await.map_err(from_reqwest)?;
        let entry = match status {
            404 => None,
            200 => Some(KvEntry::from_body(&text)?),
            s => return Err(ConsulError::Http(s, text)),
        };
        let next =
            next.ok_or_else(|| ConsulError::Protocol(format!("no X-Consul-Index for {key}")))?;
        Ok((entry, next))
    }

    /// PUT with an optional query (`cas=I`, `acquire=S`, `release=S`); Consul answers
    /// `true` or `false`.
    pub async fn put(&self, key: &str, value: &str, query: &str) -> Result<bool, ConsulError> {
        let url = format!("{}/v1/kv/{key}{query}", self.base);
        let v = self
            .json(self.http.put(url).body(value.to_string()))
            .await?;
        v.as_bool()
            .ok_or_else(|| ConsulError::Protocol(format!("not a boolean: {v}")))
    }

    /// A new session's ID.
    pub async fn session_create(&self, spec: &SessionSpec) -> Result<String, ConsulError> {
        let v = self
            .json(
                self.http
                    .put(format!("{}/v1/session/create", self.base))
                    .json(&spec.body()),
            )
            .await?;
        v.get("ID")
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| ConsulError::Protocol(format!("session without ID: {v}")))
    }

    /// Restarts the session's TTL: `Ok(false)` when Consul says the session is gone
    /// (HTTP 404: invalidated, destroyed, or never was).
    pub async fn session_renew(&self, id: &str) -> Result<bool, ConsulError> {
        let req = self
            .http
            .put(format!("{}/v1/session/renew/{id}", self.base));
        match self.send(req).await? {
            (200, _) => Ok(true),
            (404, _) => Ok(false),
            (s, text) => Err(ConsulError::Http(s, text)),
        }
    }

    pub async fn session_destroy(&self, id: &str) -> Result<(), ConsulError> {
        self.json(
            self.http
                .put(format!("{}/v1/session/destroy/{id}", self.base)),
        )
        .await
        .map(drop)
    }

    /// `Stats.raft` of `/v1/agent/self` (state, term, … as strings).
    pub async fn raft_stats(&self) -> Result<Value, ConsulError> {
        let v = self
            .json(self.http.get(format!("{}/v1/agent/self", self.base)))
            .await?;
        v.get("Stats")
            .and_then(|s| s.get("raft"))
            .cloned()
            .ok_or_else(|| ConsulError::Protocol("agent/self without Stats.raft".into()))
    }

    /// The leader's RPC address (`""` when there is none).
    pub async fn leader(&self) -> Result<String, ConsulError> {
        let v = self
            .json(self.http.get(format!("{}/v1/status/leader", self.base)))
            .await?;
        v.as_str()
            .map(str::to_string)
            .ok_or_else(|| ConsulError::Protocol(format!("leader: {v}")))
    }
}

/// Consul's client for one worker (home server k mod n; refused connections move on).
pub struct ConsulKv {
    nodes: Vec<ConsulNode>,
    home: usize,
    mode: ReadMode,
    sessions: Mutex<BTreeMap<(String, String), String>>,
}

impl ConsulKv {
    pub fn new(
        addrs: &[SocketAddr],
        home: usize,
        timeout: Duration,
        mode: ReadMode,
    ) -> Result<ConsulKv, String> {
        if addrs.is_empty() {
            return Err("a Consul client needs at least one server".into());
        }
        let nodes = addrs
            .iter()
            .map(|a| ConsulNode::new(*a, timeout))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(ConsulKv {
            home: home % nodes.len(),
            nodes,
            mode,
            sessions: Mutex::new(BTreeMap::new()),
        })
    }

    /// Runs `call` at the home server, then the next ones while connections fail.
    pub async fn each<T, F, Fut>(&self, call: F) -> Result<T, ConsulError>
    where
        F: Fn(ConsulNode) -> Fut,
        Fut: std::future::Future<Output = Result<T, ConsulError>>,
    {
        crate::failover::from_home(
            &self.nodes,
            self.home,
            |e| matches!(e, ConsulError::Connect(_)),
            call,
        )
        .await
    }
}

fn kv_error(e: ConsulError) -> KvError {
    if e.is_definite() {
        KvError::Definite(e.to_string())
    } else {
        KvError::Indeterminate(e.to_string())
    }
}

fn key_path(key: &str) -> String {
    format!("faultline-kv/{key}")
}

impl Kv for ConsulKv {
    async fn read(&self, key: &str) -> Result<Option<String>, KvError> {
        let (k, mode) = (key_path(key), self.mode);
        self.each(|n| {
            let k = k.clone();
            async move { n.get(&k, mode).await }
        })
        .await
        .map(|v| v.map(|(value, _)| value))
        .map_err(|e| KvError::Definite(e.to_string()))
    }

    async fn write(&self, key: &str, value: &str) -> Result<(), KvError> {
        let k = key_path(key);
        match self
            .each(|n| {
                let k = k.clone();
                async move { n.put(&k, value, "").await }
            })
            .await
        {
            Ok(true) => Ok(()),
            Ok(false) => Err(KvError::Definite("consul refused the write".into())),
            Err(e) => Err(kv_error(e)),
        }
    }

    async fn cas(&self, key: &str, from: &str, to: &str) -> Result<bool, KvError> {
        let k = key_path(key);
        let current = self
            .each(|n| {
                let k = k.clone();
                async move { n.get(&k, ReadMode::Linearizable).await }
            })
            .await
            .map_err(|e| KvError::Definite(e.to_string()))?;
        let Some((value, index)) = current else {
            return Ok(false);
        };
        if value != from {
            return Ok(false);
        }
        let q = format!("?cas={index}");
        self.each(|n| {
            let (k, q) = (k.clone(), q.clone());
            async move { n.put(&k, to, &q).await }
        })
        .await
        .map_err(kv_error)
    }
}

impl ConsulKv {
    /// Takes `key`'s lock with a new session made from `spec`, writing `value` into the
    /// key: the one place Consul locks are taken (the lock workload's client and the
    /// election recipe). `Ok((session, token))`: held by `session`, and `token` is the
    /// key's ModifyIndex read back with `?consistent` while the key still named the
    /// session (the acquire itself answers only true or false).
    ///
    /// Errors: `Busy`: another session holds the key (or its lock-delay runs), and the
    /// new session was destroyed; `Definite`: nothing is held; `Indeterminate`: the key
    /// may be held by the new session until its TTL runs out.
    pub async fn lock_key(
        &self,
        key: &str,
        value: &str,
        spec: &SessionSpec,
    ) -> Result<(String, u64), LockError> {
        let session = self
            .each(|n| async move { n.session_create(spec).await })
            .await
            .map_err(|e| LockError::Definite(format!("session create: {e}")))?;
        let q = format!("?acquire={session}");
        let acquired = self
            .each(|n| {
                let q = q.as_str();
                async move { n.put(key, value, q).await }
            })
            .await;
        let destroy = || async {
            self.each(|n| {
                let s = session.as_str();
                async move { n.session_destroy(s).await }
            })
            .await
        };
        match acquired {
            Ok(true) => {}
            Ok(false) => {
                if let Err(e) = destroy().await {
                    tracing::debug!("destroying session {session}: {e}");
                }
                return Err(LockError::Busy(format!("{key} is held")));
            }
            Err(e) => {
                return Err(match destroy().await {
                    Ok(()) => LockError::Definite(format!("{e} (session destroyed)")),
                    Err(d) => LockError::Indeterminate(format!("{e}; destroying the session: {d}")),
                })
            }
        }
        // The token: the key's ModifyIndex, which the acquire set, as long as the key
        // still names our session (it may have been invalidated since, and the key
        // released or deleted and even acquired by another session).
        let read = self
            .each(|n| async move { n.entry(key, ReadMode::Linearizable).await })
            .await;
        let why = match read {
            Ok(Some(e)) if e.session.as_deref() == Some(session.as_str()) => {
                return Ok((session, e.modify_index))
            }
            Ok(Some(e)) => format!(
                "the session lost {key} before its index was read (held by {:?})",
                e.session
            ),
            Ok(None) => format!("the session lost {key} before its index was read (deleted)"),
            Err(e) => format!("reading {key}'s index: {e}"),
        };
        if let Err(e) = destroy().await {
            tracing::debug!("destroying session {session}: {e}");
        }
        Err(LockError::Indeterminate(format!("acquired, but {why}")))
    }
}

impl Lock for ConsulKv {
    async fn acquire(&self, lock: &str, client: &str, ttl: Duration) -> Result<u64, LockError> {
        let key = format!("faultline-locks/{lock}");
        let (session, token) = self
            .lock_key(&key, client, &SessionSpec::for_lock(ttl))
            .await?;
        self.sessions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert((lock.to_string(), client.to_string()), session);
        Ok(token)
    }

    async fn release(&self, lock: &str, client: &str, _token: u64) -> Result<(), LockError> {
        let key = (lock.to_string(), client.to_string());
        let Some(session) = self
            .sessions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&key)
            .cloned()
        else {
            return Err(LockError::Definite(format!(
                "{client} holds no lock {lock}"
            )));
        };
        // Destroying the session deletes the lock key (Behavior: delete).
        match self
            .each(|n| {
                let s = session.clone();
                async move { n.session_destroy(&s).await }
            })
            .await
        {
            Ok(()) => {
                self.sessions
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .remove(&key);
                Ok(())
            }
            Err(e) if e.is_definite() => Err(LockError::Definite(e.to_string())),
            Err(e) => Err(LockError::Indeterminate(e.to_string())),
        }
    }
}

/// Consul as a system under test.
pub struct ConsulTarget {
    opts: ConsulOptions,
    timeout: Duration,
    /// Node names by address (a leader is named by its RPC address), learned at setup.
    names: std::sync::Mutex<BTreeMap<Ipv4Addr, String>>,
}

impl ConsulTarget {
    pub fn new(opts: ConsulOptions) -> ConsulTarget {
        ConsulTarget {
            opts,
            timeout: Duration::from_millis(1000),
            names: std::sync::Mutex::new(BTreeMap::new()),
        }
    }

    fn argv(&self, bin: &Path, rt: &dyn Runtime, id: NodeId) -> Result<Vec<String>, TargetError> {
        let addr = rt.addr(id)?;
        let mut argv = vec![
            bin.display().to_string(),
            "agent".into(),
            "-server".into(),
            "-node".into(),
            id.to_string(),
            "-bootstrap-expect".into(),
            rt.nodes().len().to_string(),
            "-bind".into(),
            addr.to_string(),
            "-advertise".into(),
            addr.to_string(),
            "-client".into(),
            addr.to_string(),
            "-data-dir".into(),
            rt.node_dir(id)?.join("data").display().to_string(),
            "-disable-host-node-id".into(),
            "-log-level".into(),
            "info".into(),
            "-dns-port".into(),
            "-1".into(),
            "-grpc-port".into(),
            "-1".into(),
            "-http-port".into(),
            HTTP_PORT.to_string(),
        ];
        for n in rt.nodes().iter().filter(|n| n.id != id) {
            argv.extend(["-retry-join".into(), format!("{}:{SERF_PORT}", n.addr)]);
        }
        Ok(argv)
    }

    fn wait_for_leader(
        &self,
        rt: &dyn Runtime,
        timeout: Duration,
    ) -> Result<Duration, TargetError> {
        let handle = rt.clients()?;
        let addrs: Vec<SocketAddr> = rt
            .nodes()
            .iter()
            .map(|n| SocketAddr::from((n.addr, HTTP_PORT)))
            .collect();
        let majority = addrs.len() / 2 + 1;
        poll_until_healthy(
            "consul: a leader named by a majority and a consistent read",
            timeout,
            (Duration::from_millis(100), Duration::from_millis(500)),
            || {
                let (addrs2, t) = (addrs.clone(), self.timeout);
                let (leaders, read) = handle
                    .block_on(async move {
                        let mut leaders: BTreeMap<String, usize> = BTreeMap::new();
                        let mut read = Err("no server answered".to_string());
                        for a in &addrs2 {
                            let Ok(n) = ConsulNode::new(*a, t) else {
                                continue;
                            };
                            if let Ok(l) = n.leader().await {
                                if !l.is_empty() {
                                    *leaders.entry(l).or_default() += 1;
                                }
                            }
                            if read.is_err() {
                                read = n
                                    .get("faultline-health", ReadMode::Linearizable)
                                    .await
                                    .map(drop)
                                    .map_err(|e| e.to_string());
                            }
                        }
                        (leaders, read)
                    })
                    .map_err(|e| TargetError::Setup(format!("consul leader poll: {e}")))?;
                Ok(
                    if leaders.values().any(|v| *v >= majority) && read.is_ok() {
                        Probe::Healthy
                    } else {
                        Probe::NotYet(format!("leaders {leaders:?}; read {read:?}"))
                    },
                )
            },
        )
    }
}

impl Target for ConsulTarget {
    fn name(&self) -> &str {
        "consul"
    }

    fn deploy(&self, rt: &dyn Runtime) -> Result<(), TargetError> {
        let bin = if rt.remote() {
            locate_on_nodes(rt, self.opts.bin.as_deref())?
        } else {
            locate(self.opts.bin.as_deref()).map_err(TargetError::Setup)?
        };
        *self.names.lock().unwrap_or_else(|e| e.into_inner()) = rt
            .nodes()
            .into_iter()
            .map(|n| (n.addr, n.id.to_string()))
            .collect();
        start_on_every_node(rt, HTTP_PORT, Duration::from_secs(30), |id, dir| {
            // The agent wants its data dir to exist.
            rt.write_file(id, Path::new("data/.faultline"), b"")?;
            Ok(ServiceSpec::new(
                self.argv(&bin, rt, id)?,
                dir,
                dir.join("consul.log"),
            ))
        })
    }

    fn setup_timeout(&self) -> Duration {
        Duration::from_secs(40)
    }

    fn await_healthy(&self, rt: &dyn Runtime, timeout: Duration) -> Result<Duration, TargetError> {
        self.wait_for_leader(rt, timeout)
    }

    fn status(
        &self,
        _node: NodeId,
        addr: Ipv4Addr,
    ) -> Option<BoxFuture<'_, Result<NodeStatus, StatusError>>> {
        let t = self.timeout;
        let status_error = move |e: ConsulError| match e {
            ConsulError::Connect(m) | ConsulError::Transport(m) => StatusError::Unreachable(m),
            other => StatusError::BadAnswer(other.to_string()),
        };
        Some(Box::pin(async move {
            let n = ConsulNode::new(SocketAddr::from((addr, HTTP_PORT)), t)
                .map_err(StatusError::Unreachable)?;
            let raft = n.raft_stats().await.map_err(status_error)?;
            let leader = n.leader().await.map_err(status_error)?;
            // The leader is named by its RPC address, ADDR:8300.
            let leader_name = leader
                .split(':')
                .next()
                .and_then(|a| a.parse::<Ipv4Addr>().ok())
                .and_then(|ip| {
                    self.names
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .get(&ip)
                        .cloned()
                });
            Ok(NodeStatus {
                role: match raft.get("state").and_then(Value::as_str) {
                    Some("Leader") => Role::Leader,
                    Some("Follower") => Role::Follower,
                    _ => Role::Candidate,
                },
                term: raft
                    .get("term")
                    .and_then(Value::as_str)
                    .and_then(|t| t.parse().ok())
                    .ok_or_else(|| {
                        StatusError::BadAnswer(format!("no raft term in agent stats: {raft}"))
                    })?,
                leader: leader_name,
                voted_for: None,
            })
        }))
    }
}

/// A [`ConsulKv`] for worker `k` of a cluster.
pub fn client_for(
    rt: &dyn Runtime,
    k: usize,
    timeout: Duration,
    mode: ReadMode,
) -> Result<ConsulKv, String> {
    let addrs: Vec<SocketAddr> = rt
        .nodes()
        .iter()
        .map(|n| SocketAddr::from((n.addr, HTTP_PORT)))
        .collect();
    ConsulKv::new(&addrs, k, timeout, mode)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_node_without_consul_is_a_setup_error_naming_it() {
        let rt = runtime::fake::RecordingRuntime::new(2);
        let fail = runtime::exec::Output {
            code: Some(1),
            ..runtime::exec::Output::default()
        };
        rt.respond(&["sh", "-c", WHICH_CONSUL], fail);
        let e = locate_on_nodes(&rt, None).unwrap_err().to_string();
        assert!(
            e.starts_with("n1: `consul` is not on the node's PATH"),
            "{e}"
        );
        assert_eq!(rt.commands(), ["n1: sh -c command -v consul"]);
    }

    #[test]
    fn a_given_consul_must_be_on_every_node() {
        let rt = runtime::fake::RecordingRuntime::new(2);
        rt.respond(
            &["test", "-x"],
            runtime::exec::Output {
                code: Some(1),
                ..runtime::exec::Output::default()
            },
        );
        let e = locate_on_nodes(&rt, Some(Path::new("/opt/consul")))
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "n1: --consul-bin /opt/consul: no executable there on the node"
        );
    }

    #[test]
    fn the_error_table_is_definite_only_for_refusals() {
        assert!(ConsulError::Connect("refused".into()).is_definite());
        assert!(ConsulError::Http(500, "No cluster leader".into()).is_definite());
        assert!(ConsulError::Http(403, String::new()).is_definite());
        assert!(!ConsulError::Http(500, "rpc error: timeout".into()).is_definite());
        assert!(!ConsulError::Transport("reset".into()).is_definite());
    }

    #[test]
    fn a_missing_binary_has_a_reason_that_says_what_to_do() {
        let r = absent_reason(Some(Path::new("/nonexistent/consul"))).unwrap();
        assert!(r.contains("--consul-bin"), "{r}");
    }
}
