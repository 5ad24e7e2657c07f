//! The HTTP+JSON client API of a bundled node (Raft or Zab), and its wire types (shared
//! with [`super::client::Client`]).
//!
//! | method | path                    | body                              | 200 body            |
//! |--------|-------------------------|-----------------------------------|---------------------|
//! | GET    | `/kv/{key}[?level=L&after=P]` |                             | `{"value": "5", "position": 9}` / `{"value": null, …}` |
//! | PUT    | `/kv/{key}`             | `{"value": "5"}`                  | `{"written": true}` |
//! | POST   | `/kv/{key}/cas`         | `{"from": "5", "to": "6"}`        | `{"written": true}` |
//! | POST   | `/txn`                  | `{"ops": [{"read": {"key": "x"}}, {"append": {"key": "x", "value": 3}}]}` | `{"reads": [[1, 2]]}` |
//! | POST   | `/lock/{name}/acquire`  | `{"client": "c1", "ttl_ms": 5000}`| `{"token": 17}`     |
//! | POST   | `/lock/{name}/release`  | `{"client": "c1", "token": 17}`   | `{"released": true}`|
//! | GET    | `/status`               |                                   | the protocol's status |
//! | GET    | `/committed[?from=P]`   |                                   | [`CommittedLog`]    |
//!
//! A transaction's micro-ops run in order, atomically, when its entry applies; `reads`
//! has one list per read, in order (a missing key reads as `[]`).
//!
//! A read's `level` is `quorum` (default), `sync` or `local` ([`ReadLevel`]); `after` is
//! the newest position the client has seen. `position` in the answer is the position of
//! the state read.
//!
//! Errors carry an [`ErrorBody`]: `{"error": "not-leader", "definite": true, "leader": "n2", …}`
//! with status 421 (not-leader), 409 (precondition-failed, lock-held, not-holder),
//! 503 (leadership-lost, not-serving, behind, unavailable) or 504 (timeout).

use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response as HttpResponse};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use tokio::sync::oneshot;

use super::committed::CommittedLog;
use super::op::{Op, TxnOp};
use super::request::{ReadLevel, Request, RequestError, Response};
use super::types::{NodeId, Position};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadReply {
    pub value: Option<String>,
    #[serde(default)]
    pub position: Position,
}
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadQuery {
    #[serde(default)]
    pub level: ReadLevel,
    #[serde(default)]
    pub after: Position,
}
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WriteBody {
    pub value: String,
}
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CasBody {
    pub from: String,
    pub to: String,
}
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WrittenReply {
    pub written: bool,
}
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxnBody {
    pub ops: Vec<TxnOp>,
}
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxnReply {
    pub reads: Vec<Vec<i64>>,
}
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AcquireBody {
    pub client: String,
    pub ttl_ms: u64,
}
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GrantedReply {
    pub token: Position,
}
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReleaseBody {
    pub client: String,
    pub token: Position,
}
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReleasedReply {
    pub released: bool,
}
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommittedQuery {
    #[serde(default)]
    pub from: Position,
}

/// The machine-readable error kinds of the API.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ErrorKind {
    NotLeader,
    PreconditionFailed,
    LockHeld,
    NotHolder,
    LeadershipLost,
    NotServing,
    Behind,
    Timeout,
    Unavailable,
}

/// Body of every non-200 answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: ErrorKind,
    /// True when the operation certainly had no effect.
    pub definite: bool,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub leader: Option<NodeId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actual: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub holder: Option<String>,
    /// For `behind`: how far the node has applied, and what the client had seen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub applied: Option<Position>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wanted: Option<Position>,
}

impl ErrorBody {
    fn new(error: ErrorKind, definite: bool, message: String) -> ErrorBody {
        ErrorBody {
            error,
            definite,
            message,
            leader: None,
            actual: None,
            holder: None,
            applied: None,
            wanted: None,
        }
    }

    fn from_request_error(e: &RequestError) -> (StatusCode, ErrorBody) {
        let mut body = ErrorBody::new(ErrorKind::NotLeader, e.is_definite(), e.to_string());
        let status = match e {
            RequestError::NotLeader { leader } => {
                body.leader = leader.clone();
                StatusCode::MISDIRECTED_REQUEST
            }
            RequestError::PreconditionFailed { actual } => {
                body.error = ErrorKind::PreconditionFailed;
                body.actual = actual.clone();
                StatusCode::CONFLICT
            }
            RequestError::LockHeld { holder } => {
                body.error = ErrorKind::LockHeld;
                body.holder = Some(holder.clone());
                StatusCode::CONFLICT
            }
            RequestError::NotHolder => {
                body.error = ErrorKind::NotHolder;
                StatusCode::CONFLICT
            }
            RequestError::LeadershipLost => {
                body.error = ErrorKind::LeadershipLost;
                StatusCode::SERVICE_UNAVAILABLE
            }
            RequestError::NotServing => {
                body.error = ErrorKind::NotServing;
                StatusCode::SERVICE_UNAVAILABLE
            }
            RequestError::Behind { applied, wanted } => {
                body.error = ErrorKind::Behind;
                body.applied = Some(*applied);
                body.wanted = Some(*wanted);
                StatusCode::SERVICE_UNAVAILABLE
            }
        };
        (status, body)
    }

    fn indeterminate(error: ErrorKind, message: &str) -> (StatusCode, ErrorBody) {
        let status = match error {
            ErrorKind::Timeout => StatusCode::GATEWAY_TIMEOUT,
            _ => StatusCode::SERVICE_UNAVAILABLE,
        };
        (status, ErrorBody::new(error, false, message.into()))
    }

    /// The typed error this body stands for, when it is one of [`RequestError`]'s kinds.
    pub fn request_error(&self) -> Option<RequestError> {
        Some(match self.error {
            ErrorKind::NotLeader => RequestError::NotLeader {
                leader: self.leader.clone(),
            },
            ErrorKind::PreconditionFailed => RequestError::PreconditionFailed {
                actual: self.actual.clone(),
            },
            ErrorKind::LockHeld => RequestError::LockHeld {
                holder: self.holder.clone().unwrap_or_default(),
            },
            ErrorKind::NotHolder => RequestError::NotHolder,
            ErrorKind::LeadershipLost => RequestError::LeadershipLost,
            ErrorKind::NotServing => RequestError::NotServing,
            ErrorKind::Behind => RequestError::Behind {
                applied: self.applied.unwrap_or_default(),
                wanted: self.wanted.unwrap_or_default(),
            },
            ErrorKind::Timeout | ErrorKind::Unavailable => return None,
        })
    }
}

/// What the API hands to the node driver; `S` is the protocol's status.
pub enum ApiCall<S> {
    Request {
        request: Request,
        reply: oneshot::Sender<Result<Response, RequestError>>,
    },
    Status {
        reply: oneshot::Sender<S>,
    },
    Committed {
        from: Position,
        reply: oneshot::Sender<CommittedLog>,
    },
}

/// Where the API sends its calls: the driver's input queue, whatever else it carries.
pub trait CallSink<S>: Clone + Send + Sync + 'static {
    /// Queues `call`; false when the driver is gone.
    fn call(&self, call: ApiCall<S>) -> bool;
}

struct ApiState<C> {
    calls: C,
    timeout: Duration,
}

impl<C: Clone> Clone for ApiState<C> {
    fn clone(&self) -> Self {
        ApiState {
            calls: self.calls.clone(),
            timeout: self.timeout,
        }
    }
}

/// Builds the router; every call goes to the driver through `calls`.
pub fn router<S, C>(calls: C, timeout: Duration) -> Router
where
    S: Serialize + Send + 'static,
    C: CallSink<S>,
{
    Router::new()
        .route("/kv/:key", get(read::<S, C>).put(write::<S, C>))
        .route("/kv/:key/cas", post(cas::<S, C>))
        .route("/txn", post(txn::<S, C>))
        .route("/lock/:name/acquire", post(acquire::<S, C>))
        .route("/lock/:name/release", post(release::<S, C>))
        .route("/status", get(status::<S, C>))
        .route("/committed", get(committed::<S, C>))
        .with_state(ApiState { calls, timeout })
}

type ApiError = (StatusCode, Json<ErrorBody>);
type ApiResult<T> = Result<Json<T>, ApiError>;

fn gone() -> ApiError {
    let (s, b) = ErrorBody::indeterminate(ErrorKind::Unavailable, "node is shutting down");
    (s, Json(b))
}

/// Sends one call and waits for its answer within the API's timeout.
async fn ask<S, C, T>(
    state: &ApiState<C>,
    make: impl FnOnce(oneshot::Sender<T>) -> ApiCall<S>,
) -> Result<T, ApiError>
where
    C: CallSink<S>,
{
    let (tx, rx) = oneshot::channel();
    if !state.calls.call(make(tx)) {
        return Err(gone());
    }
    match tokio::time::timeout(state.timeout, rx).await {
        Ok(Ok(answer)) => Ok(answer),
        Ok(Err(_)) => {
            let (s, b) = ErrorBody::indeterminate(ErrorKind::Unavailable, "request dropped");
            Err((s, Json(b)))
        }
        Err(_) => {
            let (s, b) = ErrorBody::indeterminate(ErrorKind::Timeout, "no answer in time");
            Err((s, Json(b)))
        }
    }
}

async fn call<S, C: CallSink<S>>(
    state: &ApiState<C>,
    request: Request,
) -> Result<Response, ApiError> {
    match ask(state, |reply| ApiCall::Request { request, reply }).await? {
        Ok(response) => Ok(response),
        Err(e) => {
            let (s, b) = ErrorBody::from_request_error(&e);
            Err((s, Json(b)))
        }
    }
}

fn unexpected(r: Response) -> ApiError {
    let (s, b) = ErrorBody::indeterminate(
        ErrorKind::Unavailable,
        &format!("internal error: unexpected response {r:?}"),
    );
    (s, Json(b))
}

async fn read<S, C: CallSink<S>>(
    State(s): State<ApiState<C>>,
    Path(key): Path<String>,
    Query(q): Query<ReadQuery>,
) -> ApiResult<ReadReply> {
    let request = Request::Read {
        key,
        level: q.level,
        after: q.after,
    };
    match call(&s, request).await? {
        Response::Value { value, position } => Ok(Json(ReadReply { value, position })),
        r => Err(unexpected(r)),
    }
}

async fn write<S, C: CallSink<S>>(
    State(s): State<ApiState<C>>,
    Path(key): Path<String>,
    Json(b): Json<WriteBody>,
) -> ApiResult<WrittenReply> {
    let op = Op::Write {
        key,
        value: b.value,
    };
    match call(&s, Request::Op(op)).await? {
        Response::Written => Ok(Json(WrittenReply { written: true })),
        r => Err(unexpected(r)),
    }
}

async fn cas<S, C: CallSink<S>>(
    State(s): State<ApiState<C>>,
    Path(key): Path<String>,
    Json(b): Json<CasBody>,
) -> ApiResult<WrittenReply> {
    let op = Op::Cas {
        key,
        from: b.from,
        to: b.to,
    };
    match call(&s, Request::Op(op)).await? {
        Response::Written => Ok(Json(WrittenReply { written: true })),
        r => Err(unexpected(r)),
    }
}

async fn txn<S, C: CallSink<S>>(
    State(s): State<ApiState<C>>,
    Json(b): Json<TxnBody>,
) -> ApiResult<TxnReply> {
    match call(&s, Request::Op(Op::Txn { ops: b.ops })).await? {
        Response::Txn { reads } => Ok(Json(TxnReply { reads })),
        r => Err(unexpected(r)),
    }
}

async fn acquire<S, C: CallSink<S>>(
    State(s): State<ApiState<C>>,
    Path(name): Path<String>,
    Json(b): Json<AcquireBody>,
) -> ApiResult<GrantedReply> {
    let op = Op::Acquire {
        name,
        client: b.client,
        ttl_ms: b.ttl_ms,
    };
    match call(&s, Request::Op(op)).await? {
        Response::Granted { token } => Ok(Json(GrantedReply { token })),
        r => Err(unexpected(r)),
    }
}

async fn release<S, C: CallSink<S>>(
    State(s): State<ApiState<C>>,
    Path(name): Path<String>,
    Json(b): Json<ReleaseBody>,
) -> ApiResult<ReleasedReply> {
    let op = Op::Release {
        name,
        client: b.client,
        token: b.token,
    };
    match call(&s, Request::Op(op)).await? {
        Response::Released => Ok(Json(ReleasedReply { released: true })),
        r => Err(unexpected(r)),
    }
}

async fn status<S: Serialize, C: CallSink<S>>(State(s): State<ApiState<C>>) -> HttpResponse {
    match ask(&s, |reply| ApiCall::Status { reply }).await {
        Ok(status) => Json(status).into_response(),
        Err(e) => e.into_response(),
    }
}

async fn committed<S, C: CallSink<S>>(
    State(s): State<ApiState<C>>,
    Query(q): Query<CommittedQuery>,
) -> ApiResult<CommittedLog> {
    let from = q.from;
    ask(&s, |reply| ApiCall::Committed { from, reply })
        .await
        .map(Json)
}
