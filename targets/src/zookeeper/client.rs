//! [`ZkKv`]: the workloads' [`Kv`] and [`Lock`] over ZooKeeper (the `zookeeper-client`
//! crate), and the `srvr` four-letter word for status.
//!
//! ```text
//! ZkKv (worker k) ─► one session with member k mod n (connected on first use, from the
//!                    control runtime; a new session after expiry)
//!   read  ─► sync(path) + getData (linearizable)  |  getData (serializable: local state)
//!   write ─► setData (create when absent)
//!   cas   ─► sync + getData, then setData with the read version (BadVersion: false)
//!   lock  ─► ephemeral-sequential child of /faultline-locks/<lock>; lowest wins,
//!            otherwise the child is deleted again (Busy); token = its czxid
//! ```
//!
//! Keys are znodes `/faultline-kv/<key>` and locks `/faultline-locks/<lock>` (with `/`
//! and `%` in names percent-escaped to keep one level); values are the decimal strings as bytes.
//!
//! ## Error table (the one place ZooKeeper's errors are classified)
//!
//! | error | write / cas / lock | read |
//! |---|---|---|
//! | no session could be established (connect failed, `NoHosts`, connect timeout) | definite | definite |
//! | `NoNode`, `NodeExists`, `BadVersion`, `NoAuth`, `BadArguments`, `NotEmpty`, `InvalidAcl`, `NotReadOnly`, `Throttled`, `Unimplemented`, `QuotaExceeded` (refused by the server's checks) | definite | definite |
//! | `ConnectionLoss`, `Timeout`, `SessionExpired`, `SessionMoved`, `ClientClosed`, any other error | indeterminate | definite |
//!
//! A read has no effect, so every failed read is definite. A cas whose value differs
//! (or whose set lost the version race: `BadVersion`) is `Ok(false)`.
//!
//! ## List-append transactions ([`Lists`])
//!
//! A list is a znode `/faultline-lists/<key>` holding a JSON array (`[1,2,3]`). One
//! transaction:
//!
//! 1. `sync`, then one `multiRead` of `getData` on every key the transaction touches:
//!    each list and its version, from one server's state; a missing key is created
//!    as `[]` (the empty list it already stood for; `NodeExists` means another client
//!    did it) and the read starts over;
//! 2. the micro-ops run on those lists in the client (a read sees the transaction's own
//!    earlier appends) and give the reads;
//! 3. one `multi`: `setData` with the version read for every appended key and `check`
//!    of the version for every key only read, so the whole transaction commits through
//!    the leader only if no touched key changed since step 1 (strict serializable,
//!    read-only transactions included).
//!
//! | outcome | recorded |
//! |---|---|
//! | the `multi` succeeds | `ok` |
//! | `BadVersion` or `NoNode` in the `multi` (another transaction changed a key) | retried from step 1, at most [`TXN_ATTEMPTS`] times in all; then `fail` (a failed multi changes nothing) |
//! | any error in step 1, or a list that is not a JSON array of integers | `fail` (the lists are as they were) |
//! | any other error of the `multi` | the table above: definite → `fail`, otherwise `info` |
//!
//! Lock sessions: each client keeps a separate session for locks whose timeout is the
//! lock's ttl (zoo.cfg allows 0.4–60 s), so a holder that stops being heard from loses
//! the lock no earlier than the ttl after its acquire was accepted: the lease the lock
//! checker assumes. The lock session is *detached*: dropping the client (as the run does
//! when its main phase ends, holders or not) does not close it, so a lock that was never
//! released lasts until the session expires, a ttl after its last use, as the checker
//! assumes. When an acquire's outcome is unknown, the lock session is dropped likewise
//! (its children expire with it) before answering indeterminate.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::Mutex;
use workloads::kv::{Kv, KvError};
use workloads::list_append::{self, ListOp, Lists};
use workloads::lock::{Lock, LockError};
use zookeeper_client as zk;

pub use crate::read_mode::ReadMode;

const KV_ROOT: &str = "/faultline-kv";
const LOCK_ROOT: &str = "/faultline-locks";
const LIST_ROOT: &str = "/faultline-lists";

/// Attempts of one list-append transaction before a conflict is a failure.
pub const TXN_ATTEMPTS: usize = 5;

/// Why a call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ZkError {
    /// No session could be established: nothing was sent.
    #[error("no session with {addr}: {error}")]
    Connect { addr: SocketAddr, error: String },
    /// The server or the session answered with an error.
    #[error("{0}")]
    Server(zk::Error),
    /// Lock: a lower sequence node holds it (ours was deleted again).
    #[error("a lower sequence node holds the lock")]
    NotLowest,
    /// A list znode whose data is not a JSON array of integers.
    #[error("{path} holds {data:?}, not a list of integers")]
    NotAList { path: String, data: String },
}

impl ZkError {
    /// True when the operation certainly had no effect (see the module's table).
    pub fn is_definite(&self) -> bool {
        match self {
            ZkError::Connect { .. } | ZkError::NotLowest | ZkError::NotAList { .. } => true,
            ZkError::Server(e) => matches!(
                e,
                zk::Error::NoNode
                    | zk::Error::NodeExists
                    | zk::Error::BadVersion
                    | zk::Error::NoAuth
                    | zk::Error::BadArguments(_)
                    | zk::Error::NotEmpty
                    | zk::Error::InvalidAcl
                    | zk::Error::NotReadOnly
                    | zk::Error::Throttled
                    | zk::Error::Unimplemented
                    | zk::Error::QuotaExceeded
            ),
        }
    }

    /// The session is gone for good: the next call needs a new one.
    fn session_over(&self) -> bool {
        matches!(
            self,
            ZkError::Server(
                zk::Error::SessionExpired
                    | zk::Error::ClientClosed
                    | zk::Error::AuthFailed
                    | zk::Error::SessionMoved
            )
        )
    }
}

impl From<zk::Error> for ZkError {
    fn from(e: zk::Error) -> Self {
        ZkError::Server(e)
    }
}

/// A session slot: connected on first use, replaced after the session ended.
struct Session {
    addr: SocketAddr,
    timeout: Duration,
    /// Dropping the last handle leaves the session to expire instead of closing it.
    detached: bool,
    client: Mutex<Option<(Duration, zk::Client)>>,
}

impl Session {
    fn new(addr: SocketAddr, timeout: Duration, detached: bool) -> Session {
        Session {
            addr,
            timeout,
            detached,
            client: Mutex::new(None),
        }
    }

    /// The live session with `session_timeout`, connecting (from the calling task, so on
    /// the control runtime) when there is none.
    async fn get(&self, session_timeout: Duration) -> Result<zk::Client, ZkError> {
        let mut slot = self.client.lock().await;
        if let Some((t, c)) = slot.as_ref() {
            let over = matches!(
                c.state(),
                zk::SessionState::Expired | zk::SessionState::Closed | zk::SessionState::AuthFailed
            );
            if *t == session_timeout && !over {
                return Ok(c.clone());
            }
        }
        *slot = None;
        let addr = self.addr.to_string();
        let mut connector = zk::Client::connector()
            .with_session_timeout(session_timeout)
            .with_connection_timeout(self.timeout.min(Duration::from_secs(1)))
            .with_fail_eagerly();
        if self.detached {
            connector = connector.with_detached();
        }
        let connect = connector.connect(&addr);
        let client = match tokio::time::timeout(self.timeout, connect).await {
            Ok(Ok(c)) => c,
            Ok(Err(e)) => {
                return Err(ZkError::Connect {
                    addr: self.addr,
                    error: e.to_string(),
                })
            }
            Err(_) => {
                return Err(ZkError::Connect {
                    addr: self.addr,
                    error: format!("no session within {:?}", self.timeout),
                })
            }
        };
        *slot = Some((session_timeout, client.clone()));
        Ok(client)
    }

    /// Forgets the session if `e` ended it.
    async fn after(&self, e: &ZkError) {
        if e.session_over() {
            *self.client.lock().await = None;
        }
    }

    /// Closes the session and forgets it: the last handle dropped sends CloseSession
    /// (deleting its ephemeral nodes); a detached or unreachable session expires instead.
    async fn close(&self) {
        drop(self.client.lock().await.take());
    }
}

fn persistent() -> zk::CreateOptions<'static> {
    zk::CreateMode::Persistent.with_acls(zk::Acls::anyone_all())
}

fn key_path(key: &str) -> String {
    format!("{KV_ROOT}/{}", flat(key))
}

fn list_path(key: &str) -> String {
    format!("{LIST_ROOT}/{}", flat(key))
}

/// What one attempt of a list-append transaction came to.
enum Attempt {
    Done(Vec<Vec<i64>>),
    /// A touched key changed between the read and the `multi`: nothing was written.
    Conflict,
}

/// A name as one znode (a lock is named like `faultline/lock/0`): `%` and `/` escaped.
fn flat(name: &str) -> String {
    name.replace('%', "%25").replace('/', "%2F")
}

/// A client of one ZooKeeper member for one worker. Implements [`Kv`], [`Lists`] and
/// [`Lock`].
pub struct ZkKv {
    kv: Session,
    locks: Session,
    mode: ReadMode,
    kv_session: Duration,
    /// Lock znode of each held (lock, client).
    held: Mutex<std::collections::BTreeMap<(String, String), String>>,
}

impl ZkKv {
    /// `addr`: the member's client address; `timeout` bounds establishing a session.
    pub fn new(addr: SocketAddr, timeout: Duration, mode: ReadMode) -> ZkKv {
        ZkKv {
            kv: Session::new(addr, timeout, false),
            // Detached: a client dropped while it holds a lock (the run's main phase
            // ended) must not release it early; its session expires after the ttl.
            locks: Session::new(addr, timeout, true),
            mode,
            kv_session: Duration::from_secs(4),
            held: Mutex::new(Default::default()),
        }
    }

    /// Ends this client's sessions (their ephemeral nodes go with them).
    pub async fn close(&self) {
        self.kv.close().await;
        self.locks.close().await;
    }

    async fn read_inner(&self, key: &str) -> Result<Option<String>, ZkError> {
        let c = self.kv.get(self.kv_session).await?;
        let path = key_path(key);
        if self.mode == ReadMode::Linearizable {
            match c.sync(&path).await {
                Ok(()) | Err(zk::Error::NoNode) => {}
                Err(e) => return Err(e.into()),
            }
        }
        match c.get_data(&path).await {
            Ok((data, _)) => Ok(Some(String::from_utf8_lossy(&data).into_owned())),
            Err(zk::Error::NoNode) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    async fn write_inner(&self, key: &str, value: &str) -> Result<(), ZkError> {
        let c = self.kv.get(self.kv_session).await?;
        let path = key_path(key);
        // setData, or create when absent; a concurrent create makes setData right again.
        for _ in 0..3 {
            match c.set_data(&path, value.as_bytes(), None).await {
                Ok(_) => return Ok(()),
                Err(zk::Error::NoNode) => {}
                Err(e) => return Err(e.into()),
            }
            match c.create(&path, value.as_bytes(), &persistent()).await {
                Ok(_) => return Ok(()),
                Err(zk::Error::NodeExists) => {}
                Err(zk::Error::NoNode) => {
                    // The parent is missing: make it (idempotent), then try again.
                    match c.create(KV_ROOT, b"", &persistent()).await {
                        Ok(_) | Err(zk::Error::NodeExists) => {}
                        Err(e) => return Err(e.into()),
                    }
                }
                Err(e) => return Err(e.into()),
            }
        }
        // Every attempt was refused before any change: definite.
        Err(ZkError::Server(zk::Error::NodeExists))
    }

    async fn cas_inner(&self, key: &str, from: &str, to: &str) -> Result<bool, ZkError> {
        let c = self.kv.get(self.kv_session).await?;
        let path = key_path(key);
        match c.sync(&path).await {
            Ok(()) | Err(zk::Error::NoNode) => {}
            Err(e) => return Err(e.into()),
        }
        let (data, stat) = match c.get_data(&path).await {
            Ok(v) => v,
            Err(zk::Error::NoNode) => return Ok(false),
            Err(e) => return Err(e.into()),
        };
        if data != from.as_bytes() {
            return Ok(false);
        }
        match c.set_data(&path, to.as_bytes(), Some(stat.version)).await {
            Ok(_) => Ok(true),
            Err(zk::Error::BadVersion | zk::Error::NoNode) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// Step 1 of a transaction: every key's list and version, creating missing ones.
    async fn read_lists(
        &self,
        c: &zk::Client,
        paths: &[String],
    ) -> Result<Vec<(Vec<i64>, i32)>, ZkError> {
        for _ in 0..3 {
            c.sync(LIST_ROOT).await.or_else(|e| match e {
                zk::Error::NoNode => Ok(()),
                e => Err(e),
            })?;
            let mut reader = c.new_multi_reader();
            for p in paths {
                reader.add_get_data(p)?;
            }
            let results = reader.commit().await?;
            let mut missing = Vec::new();
            let mut lists = Vec::with_capacity(paths.len());
            for (path, r) in paths.iter().zip(results) {
                match r {
                    zk::MultiReadResult::Data { data, stat } => {
                        let list = serde_json::from_slice::<Vec<i64>>(&data).map_err(|_| {
                            ZkError::NotAList {
                                path: path.clone(),
                                data: String::from_utf8_lossy(&data).into_owned(),
                            }
                        })?;
                        lists.push((list, stat.version));
                    }
                    zk::MultiReadResult::Error {
                        err: zk::Error::NoNode,
                    } => missing.push(path),
                    zk::MultiReadResult::Error { err } => return Err(err.into()),
                    other => {
                        return Err(zk::Error::UnexpectedError(format!(
                            "{other:?} instead of the data of {path}"
                        ))
                        .into())
                    }
                }
            }
            if missing.is_empty() {
                return Ok(lists);
            }
            for path in missing {
                match c.create(path, b"[]", &persistent()).await {
                    Ok(_) | Err(zk::Error::NodeExists) => {}
                    Err(zk::Error::NoNode) => match c.create(LIST_ROOT, b"", &persistent()).await {
                        Ok(_) | Err(zk::Error::NodeExists) => {}
                        Err(e) => return Err(e.into()),
                    },
                    Err(e) => return Err(e.into()),
                }
            }
        }
        // Every attempt found a key missing although it had just been made.
        Err(ZkError::Server(zk::Error::NoNode))
    }

    /// One attempt: read (errors definite), run, `multi` with versions.
    async fn txn_attempt(&self, ops: &[ListOp]) -> Result<Attempt, KvError> {
        let definite = |e: ZkError| KvError::Definite(e.to_string());
        let c = self.kv.get(self.kv_session).await.map_err(definite)?;
        let mut keys: Vec<&str> = ops.iter().map(ListOp::key).collect();
        keys.sort_unstable();
        keys.dedup();
        let paths: Vec<String> = keys.iter().map(|k| list_path(k)).collect();
        let seen = match self.read_lists(&c, &paths).await {
            Ok(s) => s,
            Err(e) => {
                self.kv.after(&e).await;
                // Creating an empty list changes no list: nothing was written.
                return Err(definite(e));
            }
        };
        let mut lists: std::collections::BTreeMap<String, Vec<i64>> = keys
            .iter()
            .zip(&seen)
            .map(|(k, (l, _))| (k.to_string(), l.clone()))
            .collect();
        let reads = list_append::apply(&mut lists, ops);
        let mut writer = c.new_multi_writer();
        let appended = |k: &str| {
            ops.iter()
                .any(|o| matches!(o, ListOp::Append { key, .. } if key == k))
        };
        for ((key, path), (_, version)) in keys.iter().zip(&paths).zip(&seen) {
            let added = if appended(key) {
                let data = serde_json::to_vec(&lists[*key])
                    .map_err(|e| KvError::Definite(format!("encoding a list: {e}")))?;
                writer.add_set_data(path, &data, Some(*version))
            } else {
                writer.add_check_version(path, *version)
            };
            added.map_err(|e| definite(e.into()))?;
        }
        match writer.commit().await {
            Ok(_) => Ok(Attempt::Done(reads)),
            Err(zk::MultiWriteError::OperationFailed {
                source: zk::Error::BadVersion | zk::Error::NoNode,
                ..
            }) => Ok(Attempt::Conflict),
            Err(e) => {
                let e = ZkError::Server(e.into());
                self.kv.after(&e).await;
                Err(kv_error(e))
            }
        }
    }

    async fn acquire_inner(&self, lock: &str, ttl: Duration) -> Result<(u64, String), ZkError> {
        let c = self.locks.get(ttl).await?;
        let dir = format!("{LOCK_ROOT}/{}", flat(lock));
        for p in [LOCK_ROOT, dir.as_str()] {
            match c.create(p, b"", &persistent()).await {
                Ok(_) | Err(zk::Error::NodeExists) => {}
                Err(e) => return Err(e.into()),
            }
        }
        let opts = zk::CreateMode::EphemeralSequential.with_acls(zk::Acls::anyone_all());
        let (stat, seq) = c.create(&format!("{dir}/lock-"), b"", &opts).await?;
        let mine = format!("lock-{seq}");
        let children = c.list_children(&dir).await?;
        let lowest = children
            .iter()
            .filter_map(|n| n.strip_prefix("lock-").and_then(|s| s.parse::<i64>().ok()))
            .min();
        if lowest == Some(seq.into_i64()) {
            Ok((stat.czxid as u64, format!("{dir}/{mine}")))
        } else {
            c.delete(&format!("{dir}/{mine}"), None).await?;
            Err(ZkError::NotLowest)
        }
    }
}

fn kv_error(e: ZkError) -> KvError {
    if e.is_definite() {
        KvError::Definite(e.to_string())
    } else {
        KvError::Indeterminate(e.to_string())
    }
}

impl Kv for ZkKv {
    async fn read(&self, key: &str) -> Result<Option<String>, KvError> {
        let r = self.read_inner(key).await;
        if let Err(e) = &r {
            self.kv.after(e).await;
        }
        // A read has no effect: every failure is definite.
        r.map_err(|e| KvError::Definite(e.to_string()))
    }

    async fn write(&self, key: &str, value: &str) -> Result<(), KvError> {
        let r = self.write_inner(key, value).await;
        if let Err(e) = &r {
            self.kv.after(e).await;
        }
        r.map_err(kv_error)
    }

    async fn cas(&self, key: &str, from: &str, to: &str) -> Result<bool, KvError> {
        let r = self.cas_inner(key, from, to).await;
        if let Err(e) = &r {
            self.kv.after(e).await;
        }
        r.map_err(kv_error)
    }
}

impl Lists for ZkKv {
    /// Read, run, `multi` with versions (the module docs: "List-append transactions").
    async fn txn(&self, ops: &[ListOp]) -> Result<Vec<Vec<i64>>, KvError> {
        for _ in 0..TXN_ATTEMPTS {
            if let Attempt::Done(reads) = self.txn_attempt(ops).await? {
                return Ok(reads);
            }
        }
        Err(KvError::Definite(format!(
            "conflict: another transaction changed a key {TXN_ATTEMPTS} times in a row"
        )))
    }
}

impl Lock for ZkKv {
    async fn acquire(&self, lock: &str, client: &str, ttl: Duration) -> Result<u64, LockError> {
        match self.acquire_inner(lock, ttl).await {
            Ok((token, path)) => {
                self.held
                    .lock()
                    .await
                    .insert((lock.to_string(), client.to_string()), path);
                Ok(token)
            }
            Err(e @ ZkError::NotLowest) => Err(LockError::Busy(e.to_string())),
            Err(e) if e.is_definite() => Err(LockError::Definite(e.to_string())),
            Err(e) => {
                // A child of ours may exist: end the session so it cannot linger.
                self.locks.close().await;
                Err(LockError::Indeterminate(e.to_string()))
            }
        }
    }

    async fn release(&self, lock: &str, client: &str, _token: u64) -> Result<(), LockError> {
        let key = (lock.to_string(), client.to_string());
        let Some(path) = self.held.lock().await.get(&key).cloned() else {
            return Err(LockError::Definite(format!(
                "{client} holds no lock {lock}"
            )));
        };
        let c = match self.locks.get_existing().await {
            Some(c) => c,
            // The session is gone, and its ephemeral node with it.
            None => {
                self.held.lock().await.remove(&key);
                return Ok(());
            }
        };
        match c.delete(&path, None).await {
            Ok(()) | Err(zk::Error::NoNode) => {
                self.held.lock().await.remove(&key);
                Ok(())
            }
            Err(e) => {
                let e = ZkError::Server(e);
                self.locks.after(&e).await;
                if e.session_over() {
                    // An expired or closed session took its ephemeral node with it.
                    self.held.lock().await.remove(&key);
                    return Ok(());
                }
                Err(LockError::Indeterminate(e.to_string()))
            }
        }
    }
}

impl Session {
    /// The current session, if any (without connecting).
    async fn get_existing(&self) -> Option<zk::Client> {
        self.client.lock().await.as_ref().map(|(_, c)| c.clone())
    }
}

/// What `srvr` says about one member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Srvr {
    /// `leader`, `follower`, `observer`, `standalone`.
    pub mode: String,
    pub zxid: u64,
}

impl Srvr {
    /// The epoch: the high 32 bits of the zxid.
    pub fn epoch(&self) -> u64 {
        self.zxid >> 32
    }

    /// Parses `srvr` output; `Err` with the text when the member is not serving.
    pub fn parse(text: &str) -> Result<Srvr, String> {
        let field = |name: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(name).map(|v| v.trim().to_string()))
        };
        let mode = field("Mode:").ok_or_else(|| format!("srvr: {}", text.trim()))?;
        let zxid = field("Zxid:")
            .and_then(|z| u64::from_str_radix(z.trim_start_matches("0x"), 16).ok())
            .ok_or_else(|| format!("srvr without a Zxid: {}", text.trim()))?;
        Ok(Srvr { mode, zxid })
    }
}

/// Sends a four-letter word to a member and reads the answer (bounded by `timeout`).
pub async fn four_letter(
    addr: SocketAddr,
    word: &str,
    timeout: Duration,
) -> Result<String, String> {
    let exchange = async {
        let mut s = tokio::net::TcpStream::connect(addr)
            .await
            .map_err(|e| format!("{addr}: {e}"))?;
        s.write_all(word.as_bytes())
            .await
            .map_err(|e| format!("{addr}: {e}"))?;
        let mut out = Vec::new();
        s.take(64 * 1024)
            .read_to_end(&mut out)
            .await
            .map_err(|e| format!("{addr}: {e}"))?;
        Ok(String::from_utf8_lossy(&out).into_owned())
    };
    tokio::time::timeout(timeout, exchange)
        .await
        .map_err(|_| format!("{addr}: no answer to {word} within {timeout:?}"))?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn srvr_output_gives_mode_and_epoch() {
        let text = "Zookeeper version: 3.8.0\nLatency min/avg/max: 0/0.0/0\nReceived: 3\nSent: 2\n\
                    Connections: 1\nOutstanding: 0\nZxid: 0x300000002\nMode: leader\nNode count: 5\n";
        let s = Srvr::parse(text).unwrap();
        assert_eq!(s.mode, "leader");
        assert_eq!(s.epoch(), 3);
        assert!(
            Srvr::parse("This ZooKeeper instance is not currently serving requests\n").is_err()
        );
    }

    #[test]
    fn the_error_table_is_definite_only_for_refusals() {
        let addr: SocketAddr = "198.18.0.1:2181".parse().unwrap();
        assert!(ZkError::Connect {
            addr,
            error: "refused".into()
        }
        .is_definite());
        for e in [
            zk::Error::NoNode,
            zk::Error::BadVersion,
            zk::Error::NodeExists,
        ] {
            assert!(ZkError::Server(e).is_definite());
        }
        for e in [
            zk::Error::ConnectionLoss,
            zk::Error::Timeout,
            zk::Error::SessionExpired,
            zk::Error::ClientClosed,
        ] {
            assert!(!ZkError::Server(e).is_definite());
        }
    }
}
