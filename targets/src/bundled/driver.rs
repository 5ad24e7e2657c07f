//! The runtime around a bundled protocol core: one driver thread that owns the core and
//! its storage, fed by a ticker, the peer transport and the HTTP API.
//!
//! ```text
//!  ticker ──Tick──┐
//!  transport ─────┼─► driver thread: Program::step ─► persist (fsync) ─► sends, replies
//!  api (axum) ────┘
//! ```
//! The driver drains every queued input, steps the core for each, makes the storage
//! commands of the whole batch durable (one fsync, or as the protocol's
//! [`Program::persist`] orders them), and only then sends messages and answers clients.
//! Status and committed-log requests of a batch are answered after its fsync too, so
//! they never show state a SIGKILL could still take back. A storage failure stops the
//! node (exit non-zero).

use std::collections::{BTreeMap, HashMap};
use std::fmt::Display;
use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{bail, Context};
use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot};

use super::api::{self, ApiCall, CallSink};
use super::committed::CommittedLog;
use super::event::Event;
use super::node::NodeFlags;
use super::request::{RequestError, Response};
use super::transport;
use super::types::{NodeId, Position, RequestId};

/// A protocol core as the driver runs it.
pub trait Program: Send + 'static {
    type Message: Serialize + DeserializeOwned + Send + 'static;
    type Command: Send + 'static;
    type Status: Serialize + Clone + Send + 'static;
    type Storage: Send + 'static;
    /// What is logged when it changes (role, term or epoch, leader, …).
    type Summary: PartialEq + Display + Send;

    /// The thread name and the first word of the startup log line ("raft", "zab").
    const NAME: &'static str;

    fn step(&mut self, event: Event<Self::Message>) -> Vec<Self::Command>;
    /// Makes the storage commands among `cmds` durable, in the order the protocol needs.
    fn persist(storage: &mut Self::Storage, cmds: &[Self::Command]) -> anyhow::Result<()>;
    /// What the driver does with one command once the batch is durable.
    fn effect(cmd: Self::Command) -> Effect<Self::Message>;
    fn status(&self) -> Self::Status;
    fn committed(&self, from: Position) -> CommittedLog;
    fn summary(&self) -> Self::Summary;
}

/// One command, as far as the driver is concerned.
pub enum Effect<M> {
    Send {
        to: NodeId,
        message: M,
    },
    Reply {
        id: RequestId,
        result: Result<Response, RequestError>,
    },
    /// A notice that an entry was applied (traced).
    Applied {
        position: Position,
    },
    /// Storage: already handled by [`Program::persist`].
    Stored,
}

/// Everything the driver thread consumes.
pub enum Input<M, S> {
    Tick,
    Peer(M),
    Api(ApiCall<S>),
}

impl<M: Send + 'static, S: Send + 'static> CallSink<S> for mpsc::UnboundedSender<Input<M, S>> {
    fn call(&self, call: ApiCall<S>) -> bool {
        self.send(Input::Api(call)).is_ok()
    }
}

/// Runs a node until SIGTERM/SIGINT (exit 0) or a fatal storage error (an `Err`).
pub fn run<P: Program>(flags: &NodeFlags, core: P, storage: P::Storage) -> anyhow::Result<u8> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the tokio runtime")?;
    let result = rt.block_on(serve(flags, core, storage));
    rt.shutdown_timeout(Duration::from_millis(200));
    result
}

async fn serve<P: Program>(flags: &NodeFlags, core: P, storage: P::Storage) -> anyhow::Result<u8> {
    let me = NodeId::new(flags.id.clone());
    let own = flags
        .peers
        .iter()
        .find(|p| p.id == me)
        .map(|p| p.addr)
        .context("--id not among --peers")?;
    let listen: SocketAddr = flags.listen.unwrap_or(own);
    let peer_listener = TcpListener::bind(listen)
        .await
        .with_context(|| format!("binding the peer listener on {listen}"))?;
    let api_listener = TcpListener::bind(flags.api)
        .await
        .with_context(|| format!("binding the API listener on {}", flags.api))?;
    tracing::info!(%listen, api = %flags.api, "listening");

    let (tx, rx) = mpsc::unbounded_channel::<Input<P::Message, P::Status>>();
    let outbound: BTreeMap<NodeId, mpsc::Sender<P::Message>> = flags
        .peers
        .iter()
        .filter(|p| p.id != me)
        .map(|p| (p.id.clone(), transport::spawn_outbound(p.addr)))
        .collect();
    let inbox = tx.clone();
    tokio::spawn(transport::accept(peer_listener, move |m| {
        inbox.send(Input::Peer(m)).is_ok()
    }));

    let tick = Duration::from_millis(flags.tick_ms);
    let ticks = tx.clone();
    tokio::spawn(async move {
        let mut interval = tokio::time::interval(tick);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            interval.tick().await;
            if ticks.send(Input::Tick).is_err() {
                break;
            }
        }
    });

    let router =
        api::router::<P::Status, _>(tx.clone(), Duration::from_millis(flags.request_timeout_ms));
    let http = tokio::spawn(async move { axum::serve(api_listener, router).await });

    let (done_tx, done_rx) = oneshot::channel();
    std::thread::Builder::new()
        .name(format!("{}-driver", P::NAME))
        .spawn(move || {
            let _ = done_tx.send(drive(core, storage, rx, outbound));
        })
        .context("spawning the driver thread")?;

    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("installing the SIGTERM handler")?;
    tokio::select! {
        done = done_rx => match done {
            Ok(Err(e)) => Err(e),
            Ok(Ok(())) | Err(_) => bail!("the driver stopped unexpectedly"),
        },
        r = http => match r {
            Ok(Err(e)) => Err(anyhow::Error::from(e).context("serving the HTTP API")),
            _ => bail!("the HTTP API stopped unexpectedly"),
        },
        _ = term.recv() => { tracing::info!("SIGTERM: stopping"); Ok(0) }
        _ = tokio::signal::ctrl_c() => { tracing::info!("SIGINT: stopping"); Ok(0) }
    }
}

type Replies = HashMap<RequestId, oneshot::Sender<Result<Response, RequestError>>>;

/// The driver loop: step, persist (one fsync per batch), then send and reply.
fn drive<P: Program>(
    mut core: P,
    mut storage: P::Storage,
    mut rx: mpsc::UnboundedReceiver<Input<P::Message, P::Status>>,
    outbound: BTreeMap<NodeId, mpsc::Sender<P::Message>>,
) -> anyhow::Result<()> {
    let mut replies: Replies = HashMap::new();
    let mut next_id = 0u64;
    let mut last_seen = core.summary();
    let mut cmds = Vec::new();
    let mut status_replies = Vec::new();
    let mut committed_replies = Vec::new();
    while let Some(first) = rx.blocking_recv() {
        let mut input = Some(first);
        let mut n = 0;
        while let Some(i) = input.take() {
            match i {
                Input::Tick => cmds.extend(core.step(Event::Tick)),
                Input::Peer(m) => cmds.extend(core.step(Event::Message(m))),
                Input::Api(ApiCall::Request { request, reply }) => {
                    next_id += 1;
                    let id = RequestId(next_id);
                    replies.insert(id, reply);
                    cmds.extend(core.step(Event::Request { id, request }));
                }
                Input::Api(ApiCall::Status { reply }) => status_replies.push(reply),
                Input::Api(ApiCall::Committed { from, reply }) => {
                    committed_replies.push((from, reply))
                }
            }
            n += 1;
            if n < 512 {
                input = rx.try_recv().ok();
            }
        }
        // 1. Durability first.
        P::persist(&mut storage, &cmds)?;
        // 2. Then the effects that depend on it.
        for c in cmds.drain(..) {
            match P::effect(c) {
                Effect::Send { to, message } => {
                    if let Some(q) = outbound.get(&to) {
                        let _ = q.try_send(message);
                    }
                }
                Effect::Reply { id, result } => {
                    if let Some(tx) = replies.remove(&id) {
                        let _ = tx.send(result);
                    }
                }
                Effect::Applied { position } => tracing::trace!(position, "applied"),
                Effect::Stored => {}
            }
        }
        if !status_replies.is_empty() {
            let now = core.status();
            for reply in status_replies.drain(..) {
                let _ = reply.send(now.clone());
            }
        }
        for (from, reply) in committed_replies.drain(..) {
            let _ = reply.send(core.committed(from));
        }
        replies.retain(|_, tx| !tx.is_closed());
        let seen = core.summary();
        if seen != last_seen {
            tracing::info!("state change: {seen}");
            last_seen = seen;
        }
    }
    Ok(())
}
