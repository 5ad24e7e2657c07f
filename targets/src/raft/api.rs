//! The HTTP+JSON client API of a Raft node, and its wire types (shared with
//! [`super::client::RaftClient`]).
//!
//! | method | path                    | body                              | 200 body            |
//! |--------|-------------------------|-----------------------------------|---------------------|
//! | GET    | `/kv/{key}`             |                                   | `{"value": "5"}` / `{"value": null}` |
//! | PUT    | `/kv/{key}`             | `{"value": "5"}`                  | `{"written": true}` |
//! | POST   | `/kv/{key}/cas`         | `{"from": "5", "to": "6"}`        | `{"written": true}` |
//! | POST   | `/lock/{name}/acquire`  | `{"client": "c1", "ttl_ms": 5000}`| `{"token": 17}`     |
//! | POST   | `/lock/{name}/release`  | `{"client": "c1", "token": 17}`   | `{"released": true}`|
//! | GET    | `/status`               |                                   | [`Status`]          |
//!
//! Errors carry an [`ErrorBody`]: `{"error": "not-leader", "definite": true, "leader": "n2", …}`
//! with status 421 (not-leader), 409 (precondition-failed, lock-held, not-holder),
//! 503 (leadership-lost, unavailable) or 504 (timeout).

use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response as HttpResponse};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot};

use super::entry::Op;
use super::io::{Request, RequestError, Response};
use super::node::Input;
use super::types::{LogIndex, NodeId, Role, Term};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadReply {
    pub value: Option<String>,
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
pub struct AcquireBody {
    pub client: String,
    pub ttl_ms: u64,
}
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GrantedReply {
    pub token: LogIndex,
}
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReleaseBody {
    pub client: String,
    pub token: LogIndex,
}
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReleasedReply {
    pub released: bool,
}

/// `GET /status`: what this node believes right now (not linearizable).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Status {
    pub id: NodeId,
    pub role: Role,
    pub term: Term,
    pub leader: Option<NodeId>,
    /// Whom this node voted for in `term` (persistent state, Figure 2).
    #[serde(default)]
    pub voted_for: Option<NodeId>,
    pub commit_index: LogIndex,
    pub last_applied: LogIndex,
    pub last_log_index: LogIndex,
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
}

impl ErrorBody {
    fn from_request_error(e: &RequestError) -> (StatusCode, ErrorBody) {
        let mut body = ErrorBody {
            error: ErrorKind::NotLeader,
            definite: e.is_definite(),
            message: e.to_string(),
            leader: None,
            actual: None,
            holder: None,
        };
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
        };
        (status, body)
    }

    fn indeterminate(error: ErrorKind, message: &str) -> (StatusCode, ErrorBody) {
        let status = match error {
            ErrorKind::Timeout => StatusCode::GATEWAY_TIMEOUT,
            _ => StatusCode::SERVICE_UNAVAILABLE,
        };
        let body = ErrorBody {
            error,
            definite: false,
            message: message.into(),
            leader: None,
            actual: None,
            holder: None,
        };
        (status, body)
    }
}

/// What the API hands to the node driver.
pub enum ApiCall {
    Request {
        request: Request,
        reply: oneshot::Sender<Result<Response, RequestError>>,
    },
    Status {
        reply: oneshot::Sender<Status>,
    },
}

#[derive(Clone)]
struct ApiState {
    calls: mpsc::UnboundedSender<Input>,
    timeout: Duration,
}

/// Builds the router; every call goes to the driver through `calls`.
pub fn router(calls: mpsc::UnboundedSender<Input>, timeout: Duration) -> Router {
    Router::new()
        .route("/kv/:key", get(read).put(write))
        .route("/kv/:key/cas", post(cas))
        .route("/lock/:name/acquire", post(acquire))
        .route("/lock/:name/release", post(release))
        .route("/status", get(status))
        .with_state(ApiState { calls, timeout })
}

type ApiResult<T> = Result<Json<T>, (StatusCode, Json<ErrorBody>)>;

async fn call(
    state: &ApiState,
    request: Request,
) -> Result<Response, (StatusCode, Json<ErrorBody>)> {
    let (tx, rx) = oneshot::channel();
    let sent = state
        .calls
        .send(Input::Api(ApiCall::Request { request, reply: tx }));
    if sent.is_err() {
        let (s, b) = ErrorBody::indeterminate(ErrorKind::Unavailable, "node is shutting down");
        return Err((s, Json(b)));
    }
    match tokio::time::timeout(state.timeout, rx).await {
        Ok(Ok(Ok(response))) => Ok(response),
        Ok(Ok(Err(e))) => {
            let (s, b) = ErrorBody::from_request_error(&e);
            Err((s, Json(b)))
        }
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

fn unexpected(r: Response) -> (StatusCode, Json<ErrorBody>) {
    let (s, b) = ErrorBody::indeterminate(
        ErrorKind::Unavailable,
        &format!("internal error: unexpected response {r:?}"),
    );
    (s, Json(b))
}

async fn read(State(s): State<ApiState>, Path(key): Path<String>) -> ApiResult<ReadReply> {
    match call(&s, Request::Read { key }).await? {
        Response::Value(value) => Ok(Json(ReadReply { value })),
        r => Err(unexpected(r)),
    }
}

async fn write(
    State(s): State<ApiState>,
    Path(key): Path<String>,
    Json(b): Json<WriteBody>,
) -> ApiResult<WrittenReply> {
    match call(
        &s,
        Request::Op(Op::Write {
            key,
            value: b.value,
        }),
    )
    .await?
    {
        Response::Written => Ok(Json(WrittenReply { written: true })),
        r => Err(unexpected(r)),
    }
}

async fn cas(
    State(s): State<ApiState>,
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

async fn acquire(
    State(s): State<ApiState>,
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

async fn release(
    State(s): State<ApiState>,
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

async fn status(State(s): State<ApiState>) -> HttpResponse {
    let (tx, rx) = oneshot::channel();
    if s.calls
        .send(Input::Api(ApiCall::Status { reply: tx }))
        .is_err()
    {
        let (st, b) = ErrorBody::indeterminate(ErrorKind::Unavailable, "node is shutting down");
        return (st, Json(b)).into_response();
    }
    match tokio::time::timeout(s.timeout, rx).await {
        Ok(Ok(status)) => Json(status).into_response(),
        _ => {
            let (st, b) = ErrorBody::indeterminate(ErrorKind::Timeout, "no status in time");
            (st, Json(b)).into_response()
        }
    }
}
