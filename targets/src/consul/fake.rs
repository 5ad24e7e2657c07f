//! An in-process fake of the Consul HTTP endpoints the election recipe and the lock
//! client use, with the semantics Consul's API documentation gives them (and its
//! server code, where the documentation is silent), for tests on machines without a
//! `consul` binary. Time is the test's: sessions lapse and lock-delays end only when
//! the test calls [`FakeConsul::advance`].
//!
//! | endpoint | semantics |
//! |---|---|
//! | `PUT /v1/session/create` | `TTL` (Go duration) empty or within 10 s..=86400 s, else HTTP 500; `Behavior` `release` (default) or `delete`; `LockDelay` (Go duration string or nanoseconds; under 1000 means seconds; default 15 s); an empty `Checks` / `NodeChecks` list drops the default `serfHealth` check; answers `{"ID": …}` |
//! | `PUT /v1/session/renew/:id` | restarts the TTL timer (2 × TTL, as Consul's `sessionTTLMultiplier`); 404 `Session id '…' not found` when the session is gone |
//! | `PUT /v1/session/destroy/:id` | invalidates the session (idempotent): each key it holds is released (`Session` cleared) or deleted as its `Behavior` says, and locked against acquires for its `LockDelay`; `true` |
//! | `PUT /v1/kv/:key?acquire=S` | HTTP 500 for an unknown session; `false` while the key's lock-delay runs or another session holds it; else `true`, the value written, `Session` = S, `LockIndex` + 1 unless S already held it |
//! | `PUT /v1/kv/:key?release=S` | `false` unless S holds the key; else `true`, the value written, `Session` cleared, `LockIndex` kept (no lock-delay) |
//! | `GET /v1/kv/:key` | `[{CreateIndex, ModifyIndex, LockIndex, Key, Flags, Value (base64), Session}]`, or 404; header `X-Consul-Index`: the key's ModifyIndex, or for an absent key the KV store's last change; with `?index=I` (I > 0) a blocking query: answers once that index passes I, or after `?wait` (default 5 min) |
//!
//! Every write takes the next index of one log (as a Raft index), which a key's
//! `CreateIndex` / `ModifyIndex` record.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use axum::{Json, Router};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use serde_json::{json, Value};

/// A session as the fake holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeSession {
    pub id: String,
    pub ttl: Duration,
    pub behavior: String,
    pub lock_delay: Duration,
    /// The create's body dropped the default serfHealth check.
    pub checks_dropped: bool,
    /// When (on the fake's clock) the session is invalidated unless renewed.
    expires: Option<Duration>,
}

/// A key as the fake holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeEntry {
    pub value: String,
    pub create_index: u64,
    pub modify_index: u64,
    pub lock_index: u64,
    pub session: Option<String>,
}

#[derive(Default)]
struct Store {
    /// The last write's index.
    index: u64,
    /// The fake's clock.
    now: Duration,
    sessions: BTreeMap<String, FakeSession>,
    kv: BTreeMap<String, FakeEntry>,
    /// Keys under a lock-delay, until when.
    lock_delay: BTreeMap<String, Duration>,
    /// The index of the KV store's last change (a write, a release, a delete).
    kv_index: u64,
    created: u64,
    /// Blocking queries waiting right now.
    watching: usize,
    stalled: bool,
    invalidate_after_acquire: bool,
}

impl Store {
    fn next_index(&mut self) -> u64 {
        self.index += 1;
        self.index
    }

    /// Invalidates a session (destroy, TTL): releases or deletes its keys, sets their
    /// lock-delay.
    fn invalidate(&mut self, id: &str) {
        let Some(session) = self.sessions.remove(id) else {
            return;
        };
        let index = self.next_index();
        let held: Vec<String> = self
            .kv
            .iter()
            .filter(|(_, e)| e.session.as_deref() == Some(id))
            .map(|(k, _)| k.clone())
            .collect();
        if !held.is_empty() {
            self.kv_index = index;
        }
        for key in held {
            if session.behavior == "delete" {
                self.kv.remove(&key);
            } else if let Some(e) = self.kv.get_mut(&key) {
                e.session = None;
                e.modify_index = index;
            }
            if !session.lock_delay.is_zero() {
                self.lock_delay.insert(key, self.now + session.lock_delay);
            }
        }
    }

    /// Invalidates every session whose timer ran out.
    fn reap(&mut self) {
        let now = self.now;
        let lapsed: Vec<String> = self
            .sessions
            .values()
            .filter(|s| s.expires.is_some_and(|e| e <= now))
            .map(|s| s.id.clone())
            .collect();
        for id in lapsed {
            self.invalidate(&id);
        }
    }
}

/// The fake's state, shared with its handlers.
#[derive(Default)]
struct Inner {
    store: Mutex<Store>,
    /// Woken after every change, for blocking queries.
    changed: tokio::sync::Notify,
}

/// The fake Consul server, serving on 127.0.0.1 until dropped.
pub struct FakeConsul {
    store: Shared,
    addr: SocketAddr,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for FakeConsul {
    fn drop(&mut self) {
        self.server.abort();
    }
}

type Shared = Arc<Inner>;

fn lock(store: &Shared) -> MutexGuard<'_, Store> {
    store.store.lock().unwrap_or_else(|e| e.into_inner())
}

/// Wakes the blocking queries (after a change).
fn changed(store: &Shared) {
    store.changed.notify_waiters();
}

impl FakeConsul {
    pub async fn start() -> FakeConsul {
        let store: Shared = Arc::default();
        let app = Router::new()
            .route("/v1/session/create", put(session_create))
            .route("/v1/session/renew/:id", put(session_renew))
            .route("/v1/session/destroy/:id", put(session_destroy))
            .route("/v1/kv/*key", get(kv_get).put(kv_put))
            .with_state(Arc::clone(&store));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a loopback port for the fake Consul");
        let addr = listener.local_addr().expect("a bound address");
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        FakeConsul {
            store,
            addr,
            server,
        }
    }

    /// The HTTP API's address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Moves the fake's clock on, invalidating the sessions whose TTL timer ran out.
    pub fn advance(&self, by: Duration) {
        {
            let mut s = lock(&self.store);
            s.now += by;
            s.reap();
        }
        changed(&self.store);
    }

    /// Destroys a session, as `PUT /v1/session/destroy/:id` does.
    pub fn destroy(&self, id: &str) {
        lock(&self.store).invalidate(id);
        changed(&self.store);
    }

    /// From now on no request is answered (a server cut off or stalled).
    pub fn stall(&self) {
        lock(&self.store).stalled = true;
    }

    /// The next successful acquire's session is invalidated right after it.
    pub fn invalidate_after_next_acquire(&self) {
        lock(&self.store).invalidate_after_acquire = true;
    }

    /// How many blocking queries are waiting.
    pub fn watching(&self) -> usize {
        lock(&self.store).watching
    }

    /// The live sessions, in ID order.
    pub fn sessions(&self) -> Vec<FakeSession> {
        lock(&self.store).sessions.values().cloned().collect()
    }

    pub fn entry(&self, key: &str) -> Option<FakeEntry> {
        lock(&self.store).kv.get(key).cloned()
    }
}

/// Never answers while the fake is stalled.
async fn answering(store: &Shared) {
    if lock(store).stalled {
        std::future::pending::<()>().await;
    }
}

fn error(status: StatusCode, text: String) -> Response {
    (status, text).into_response()
}

/// A Go duration string (`time.ParseDuration`): `[0-9.]+(ns|us|µs|ms|s|m|h)`, repeated.
fn go_duration(s: &str) -> Option<Duration> {
    if s == "0" {
        return Some(Duration::ZERO);
    }
    let mut rest = s;
    let mut total = 0f64;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let n = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let number: f64 = rest[..n].parse().ok()?;
        rest = &rest[n..];
        let u = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let unit = match &rest[..u] {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return None,
        };
        rest = &rest[u..];
        total += number * unit;
    }
    Some(Duration::from_secs_f64(total))
}

/// `LockDelay`: a Go duration string or nanoseconds; values under 1000 ns are taken as
/// seconds (Consul's `lockDelayMinThreshold`).
fn lock_delay(v: &Value) -> Option<Duration> {
    let d = match v {
        Value::String(s) => go_duration(s)?,
        Value::Number(n) => Duration::from_nanos(n.as_f64()? as u64),
        _ => return None,
    };
    Some(if d < Duration::from_nanos(1000) {
        Duration::from_secs(d.as_nanos() as u64)
    } else {
        d
    })
}

/// A body field, whatever the case of its name (Consul decodes case-insensitively).
fn field<'a>(body: &'a Value, name: &str) -> Option<&'a Value> {
    body.as_object()?
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v)
}

async fn session_create(State(store): State<Shared>, body: Bytes) -> Response {
    answering(&store).await;
    let body: Value = if body.is_empty() {
        json!({})
    } else {
        match serde_json::from_slice(&body) {
            Ok(v) => v,
            Err(e) => {
                return error(
                    StatusCode::BAD_REQUEST,
                    format!("Request decode failed: {e}"),
                )
            }
        }
    };
    let ttl = match field(&body, "TTL").and_then(Value::as_str).unwrap_or("") {
        "" => None,
        s => match go_duration(s) {
            Some(d) if (Duration::from_secs(10)..=Duration::from_secs(86_400)).contains(&d) => {
                Some(d)
            }
            _ => {
                return error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    format!("Session TTL '{s}' must be between [10s=24h0m0s]"),
                )
            }
        },
    };
    let behavior = match field(&body, "Behavior").and_then(Value::as_str) {
        None | Some("") | Some("release") => "release",
        Some("delete") => "delete",
        Some(b) => {
            return error(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("Invalid Behavior setting '{b}'"),
            )
        }
    };
    let lock_delay = match field(&body, "LockDelay") {
        None => Duration::from_secs(15),
        Some(v) => match lock_delay(v) {
            Some(d) => d,
            None => {
                return error(
                    StatusCode::BAD_REQUEST,
                    format!("Request decode failed: LockDelay {v}"),
                )
            }
        },
    };
    let empty = |name| {
        field(&body, name)
            .and_then(Value::as_array)
            .is_some_and(Vec::is_empty)
    };
    let checks_dropped = empty("Checks") || empty("NodeChecks");
    let mut s = lock(&store);
    s.next_index();
    s.created += 1;
    let id = format!("00000000-0000-4000-8000-{:012x}", s.created);
    let expires = ttl.map(|t| s.now + 2 * t);
    s.sessions.insert(
        id.clone(),
        FakeSession {
            id: id.clone(),
            ttl: ttl.unwrap_or_default(),
            behavior: behavior.into(),
            lock_delay,
            checks_dropped,
            expires,
        },
    );
    Json(json!({ "ID": id })).into_response()
}

async fn session_renew(State(store): State<Shared>, Path(id): Path<String>) -> Response {
    answering(&store).await;
    let mut s = lock(&store);
    let now = s.now;
    match s.sessions.get_mut(&id) {
        Some(session) => {
            session.expires = (!session.ttl.is_zero()).then(|| now + 2 * session.ttl);
            Json(json!([{
                "ID": session.id,
                "Behavior": session.behavior,
                "LockDelay": session.lock_delay.as_nanos() as u64,
                "TTL": format!("{}s", session.ttl.as_secs()),
            }]))
            .into_response()
        }
        None => error(
            StatusCode::NOT_FOUND,
            format!("Session id '{id}' not found"),
        ),
    }
}

async fn session_destroy(State(store): State<Shared>, Path(id): Path<String>) -> Response {
    answering(&store).await;
    lock(&store).invalidate(&id);
    changed(&store);
    Json(json!(true)).into_response()
}

/// What a blocking query on `key` waits to pass.
fn key_index(s: &Store, key: &str) -> u64 {
    s.kv.get(key).map_or(s.kv_index, |e| e.modify_index)
}

async fn kv_get(
    State(store): State<Shared>,
    Path(key): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    answering(&store).await;
    let index: u64 = q.get("index").and_then(|i| i.parse().ok()).unwrap_or(0);
    if index > 0 {
        let wait = q
            .get("wait")
            .and_then(|w| go_duration(w))
            .unwrap_or(Duration::from_secs(300));
        let deadline = tokio::time::Instant::now() + wait;
        lock(&store).watching += 1;
        loop {
            let notified = store.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if key_index(&lock(&store), &key) > index {
                break;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                break;
            }
        }
        lock(&store).watching -= 1;
    }
    let s = lock(&store);
    let headers = [("X-Consul-Index", key_index(&s, &key).to_string())];
    match s.kv.get(&key) {
        None => (StatusCode::NOT_FOUND, headers).into_response(),
        Some(e) => (
            headers,
            Json(json!([{
                "CreateIndex": e.create_index,
                "ModifyIndex": e.modify_index,
                "LockIndex": e.lock_index,
                "Key": key,
                "Flags": 0,
                "Value": (!e.value.is_empty()).then(|| B64.encode(&e.value)),
                "Session": e.session,
            }])),
        )
            .into_response(),
    }
}

async fn kv_put(
    State(store): State<Shared>,
    Path(key): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    body: Bytes,
) -> Response {
    answering(&store).await;
    let value = String::from_utf8_lossy(&body).into_owned();
    let mut s = lock(&store);
    if let Some(session) = q.get("acquire") {
        if !s.sessions.contains_key(session) {
            return error(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("Invalid session \"{session}\""),
            );
        }
        // Consul refuses before the write reaches its log.
        if s.lock_delay.get(&key).is_some_and(|until| *until > s.now) {
            return Json(json!(false)).into_response();
        }
        let index = s.next_index();
        let (lock_index, create_index) = match s.kv.get(&key) {
            Some(e) if e.session.as_deref() == Some(session.as_str()) => {
                (e.lock_index, e.create_index)
            }
            Some(e) if e.session.is_some() => return Json(json!(false)).into_response(),
            Some(e) => (e.lock_index + 1, e.create_index),
            None => (1, index),
        };
        s.kv.insert(
            key,
            FakeEntry {
                value,
                create_index,
                modify_index: index,
                lock_index,
                session: Some(session.clone()),
            },
        );
        s.kv_index = index;
        if std::mem::take(&mut s.invalidate_after_acquire) {
            s.invalidate(session);
        }
        drop(s);
        changed(&store);
        return Json(json!(true)).into_response();
    }
    if let Some(session) = q.get("release") {
        let index = s.next_index();
        let released = match s.kv.get_mut(&key) {
            Some(e) if e.session.as_deref() == Some(session.as_str()) => {
                e.session = None;
                e.value = value;
                e.modify_index = index;
                true
            }
            _ => false,
        };
        if released {
            s.kv_index = index;
            drop(s);
            changed(&store);
        }
        return Json(json!(released)).into_response();
    }
    error(
        StatusCode::BAD_REQUEST,
        "the fake serves only ?acquire= and ?release= writes".into(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations_and_lock_delays_parse_as_consul_parses_them() {
        assert_eq!(go_duration("10s"), Some(Duration::from_secs(10)));
        assert_eq!(go_duration("12500ms"), Some(Duration::from_millis(12_500)));
        assert_eq!(go_duration("1m30s"), Some(Duration::from_secs(90)));
        assert_eq!(go_duration("0"), Some(Duration::ZERO));
        assert_eq!(go_duration("10"), None);
        assert_eq!(lock_delay(&json!("0ms")), Some(Duration::ZERO));
        assert_eq!(lock_delay(&json!(5)), Some(Duration::from_secs(5)));
        assert_eq!(lock_delay(&json!("15s")), Some(Duration::from_secs(15)));
    }
}
