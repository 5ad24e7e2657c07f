//! The node program: `faultline node raft --id n1 --peers n1=…,n2=… --api … --data-dir …`.
//!
//! ```text
//!  ticker ──Tick──┐
//!  transport ─────┼─► driver thread: Raft::step ─► storage (fsync) ─► sends, replies
//!  api (axum) ────┘
//! ```
//! The driver is a plain thread that drains every queued input, steps the core, makes the
//! resulting storage commands durable with one fsync, and only then sends messages and
//! answers clients. A storage failure stops the node (exit non-zero); a corrupt data
//! directory refuses to start.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use anyhow::{bail, Context};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot};

use super::api::{self, ApiCall, Status};
use super::bug::Bug;
use super::core::{Config, Raft};
use super::io::{Command, Event, RequestError, Response};
use super::message::Message;
use super::storage::Storage;
use super::transport;
use super::types::{NodeId, RequestId};

/// `ID=HOST:PORT`: a cluster member and its peer RPC address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeerSpec {
    pub id: NodeId,
    pub addr: SocketAddr,
}

impl FromStr for PeerSpec {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let (id, addr) = s
            .split_once('=')
            .ok_or_else(|| format!("expected ID=HOST:PORT, got {s:?}"))?;
        if id.is_empty() {
            return Err(format!("empty node id in {s:?}"));
        }
        let addr = addr
            .parse()
            .map_err(|e| format!("bad address in {s:?}: {e}"))?;
        Ok(PeerSpec {
            id: NodeId::new(id),
            addr,
        })
    }
}

impl std::fmt::Display for PeerSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}={}", self.id, self.addr)
    }
}

/// Flags of `faultline node raft`: one member of a bundled Raft key-value and lock cluster.
#[derive(Clone, Debug, clap::Args)]
pub struct RaftArgs {
    /// This node's id; must be one of the ids in --peers.
    #[arg(long, value_name = "ID")]
    pub id: String,
    /// Every cluster member, this node included, as ID=IP:PORT of its peer RPC listener;
    /// comma-separated or repeated (e.g. n1=127.0.0.1:7001,n2=127.0.0.1:7002,n3=127.0.0.1:7003).
    #[arg(
        long,
        value_name = "ID=IP:PORT",
        value_delimiter = ',',
        required = true
    )]
    pub peers: Vec<PeerSpec>,
    /// Address to serve the HTTP+JSON client API on (e.g. 127.0.0.1:8001).
    #[arg(long, value_name = "IP:PORT")]
    pub api: SocketAddr,
    /// Address to bind the peer RPC listener on [default: this node's address in --peers].
    #[arg(long, value_name = "IP:PORT")]
    pub listen: Option<SocketAddr>,
    /// Directory holding the durable log and hard state (created if missing). A corrupt
    /// directory is an error, never silently reset.
    #[arg(long, value_name = "DIR")]
    pub data_dir: PathBuf,
    /// Plant a known bug (repeatable). Without any, the node is correct.
    #[arg(long = "bug", value_name = "NAME", value_enum)]
    pub bugs: Vec<Bug>,
    /// Length of one logical tick.
    #[arg(long, value_name = "MS", default_value_t = 10)]
    pub tick_ms: u64,
    /// Shortest election timeout (randomized per election between min and max).
    #[arg(long, value_name = "MS", default_value_t = 150)]
    pub election_min_ms: u64,
    /// Longest election timeout.
    #[arg(long, value_name = "MS", default_value_t = 300)]
    pub election_max_ms: u64,
    /// Leader heartbeat interval; must be shorter than --election-min-ms.
    #[arg(long, value_name = "MS", default_value_t = 50)]
    pub heartbeat_ms: u64,
    /// Most log entries sent in one AppendEntries message.
    #[arg(long, value_name = "N", default_value_t = 64)]
    pub max_append_entries: usize,
    /// How long the API waits for the cluster before answering "timeout" (indeterminate).
    #[arg(long, value_name = "MS", default_value_t = 5000)]
    pub request_timeout_ms: u64,
    /// Seed of the election-timeout RNG [default: derived from the id, pid and clock].
    #[arg(long)]
    pub seed: Option<u64>,
}

impl RaftArgs {
    /// The argv (after `faultline node raft`) that reproduces these flags.
    pub fn to_args(&self) -> Vec<String> {
        let mut a = vec![
            "--id".into(),
            self.id.clone(),
            "--peers".into(),
            self.peers
                .iter()
                .map(|p| p.to_string())
                .collect::<Vec<_>>()
                .join(","),
            "--api".into(),
            self.api.to_string(),
            "--data-dir".into(),
            self.data_dir.display().to_string(),
        ];
        if let Some(l) = self.listen {
            a.extend(["--listen".into(), l.to_string()]);
        }
        for b in &self.bugs {
            a.extend(["--bug".into(), b.name().into()]);
        }
        let timing = [
            ("--tick-ms", self.tick_ms),
            ("--election-min-ms", self.election_min_ms),
            ("--election-max-ms", self.election_max_ms),
            ("--heartbeat-ms", self.heartbeat_ms),
            ("--max-append-entries", self.max_append_entries as u64),
            ("--request-timeout-ms", self.request_timeout_ms),
        ];
        for (flag, v) in timing {
            a.extend([flag.into(), v.to_string()]);
        }
        if let Some(s) = self.seed {
            a.extend(["--seed".into(), s.to_string()]);
        }
        a
    }

    /// Checks the flags and builds the core's configuration.
    pub fn config(&self) -> anyhow::Result<Config> {
        let id = NodeId::new(self.id.clone());
        let members: Vec<NodeId> = self.peers.iter().map(|p| p.id.clone()).collect();
        let mut sorted = members.clone();
        sorted.sort();
        sorted.dedup();
        if sorted.len() != members.len() {
            bail!("--peers lists a node id twice");
        }
        if !members.contains(&id) {
            bail!("--id {id} is not among --peers");
        }
        if self.tick_ms == 0 {
            bail!("--tick-ms must be positive");
        }
        let election = (
            self.election_min_ms / self.tick_ms,
            self.election_max_ms / self.tick_ms,
        );
        let heartbeat = self.heartbeat_ms / self.tick_ms;
        if election.0 == 0 || election.0 >= election.1 {
            bail!(
                "need 0 < --election-min-ms < --election-max-ms, each at least one --tick-ms apart"
            );
        }
        if heartbeat == 0 || heartbeat >= election.0 {
            bail!("need --tick-ms <= --heartbeat-ms < --election-min-ms");
        }
        if self.max_append_entries == 0 {
            bail!("--max-append-entries must be positive");
        }
        let seed = self.seed.unwrap_or_else(|| {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos() as u64);
            let id_hash = self.id.bytes().fold(0xcbf29ce484222325u64, |h, b| {
                (h ^ b as u64).wrapping_mul(0x100000001b3)
            });
            id_hash ^ nanos ^ ((std::process::id() as u64) << 32)
        });
        Ok(Config {
            id,
            members,
            election_ticks: election,
            heartbeat_ticks: heartbeat,
            max_append_entries: self.max_append_entries,
            tick_ms: self.tick_ms,
            bugs: self.bugs.iter().copied().collect(),
            seed,
        })
    }
}

/// Everything the driver thread consumes.
pub enum Input {
    Tick,
    Peer(Message),
    Api(ApiCall),
}

/// Runs a node until SIGTERM/SIGINT (exit 0) or a fatal storage error (an `Err`).
pub fn run(args: RaftArgs) -> anyhow::Result<u8> {
    let cfg = args.config()?;
    let (storage, recovered) = Storage::open(&args.data_dir)
        .with_context(|| format!("opening data dir {}", args.data_dir.display()))?;
    if recovered.torn_bytes > 0 {
        tracing::warn!(
            bytes = recovered.torn_bytes,
            "cut off a torn record at the end of the log"
        );
    }
    tracing::info!(
        id = %cfg.id,
        term = recovered.hard.term,
        entries = recovered.log.len(),
        bugs = ?args.bugs,
        seed = cfg.seed,
        "starting raft node"
    );
    let raft = Raft::new(cfg, recovered.hard, recovered.log);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the tokio runtime")?;
    let result = rt.block_on(serve(args, raft, storage));
    rt.shutdown_timeout(Duration::from_millis(200));
    result
}

async fn serve(args: RaftArgs, raft: Raft, storage: Storage) -> anyhow::Result<u8> {
    let me = NodeId::new(args.id.clone());
    let own = args
        .peers
        .iter()
        .find(|p| p.id == me)
        .map(|p| p.addr)
        .context("--id not among --peers")?;
    let listen = args.listen.unwrap_or(own);
    let peer_listener = TcpListener::bind(listen)
        .await
        .with_context(|| format!("binding the peer listener on {listen}"))?;
    let api_listener = TcpListener::bind(args.api)
        .await
        .with_context(|| format!("binding the API listener on {}", args.api))?;
    tracing::info!(%listen, api = %args.api, "listening");

    let (tx, rx) = mpsc::unbounded_channel::<Input>();
    let outbound: BTreeMap<NodeId, mpsc::Sender<Message>> = args
        .peers
        .iter()
        .filter(|p| p.id != me)
        .map(|p| (p.id.clone(), transport::spawn_outbound(p.addr)))
        .collect();
    tokio::spawn(transport::accept(peer_listener, tx.clone()));

    let tick = Duration::from_millis(args.tick_ms);
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

    let router = api::router(tx.clone(), Duration::from_millis(args.request_timeout_ms));
    let http = tokio::spawn(async move { axum::serve(api_listener, router).await });

    let (done_tx, done_rx) = oneshot::channel();
    std::thread::Builder::new()
        .name("raft-driver".into())
        .spawn(move || {
            let _ = done_tx.send(drive(raft, storage, rx, outbound));
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

fn status(raft: &Raft) -> Status {
    Status {
        id: raft.id().clone(),
        role: raft.role(),
        term: raft.term(),
        leader: raft.leader().cloned(),
        voted_for: raft.hard_state().voted_for.clone(),
        commit_index: raft.commit_index(),
        last_applied: raft.last_applied(),
        last_log_index: raft.last_index(),
    }
}

type Replies = HashMap<RequestId, oneshot::Sender<Result<Response, RequestError>>>;

/// The driver loop: step, persist (one fsync per batch), then send and reply.
fn drive(
    mut raft: Raft,
    mut storage: Storage,
    mut rx: mpsc::UnboundedReceiver<Input>,
    outbound: BTreeMap<NodeId, mpsc::Sender<Message>>,
) -> anyhow::Result<()> {
    let mut replies: Replies = HashMap::new();
    let mut next_id = 0u64;
    let mut last_seen = (raft.role(), raft.term(), raft.leader().cloned());
    let mut cmds = Vec::new();
    // Status requests of a batch are answered after its fsync, so a status never shows
    // a term or vote that a SIGKILL could still take back.
    let mut status_replies = Vec::new();
    while let Some(first) = rx.blocking_recv() {
        let mut input = Some(first);
        let mut n = 0;
        while let Some(i) = input.take() {
            match i {
                Input::Tick => cmds.extend(raft.step(Event::Tick)),
                Input::Peer(m) => cmds.extend(raft.step(Event::Message(m))),
                Input::Api(ApiCall::Request { request, reply }) => {
                    next_id += 1;
                    let id = RequestId(next_id);
                    replies.insert(id, reply);
                    cmds.extend(raft.step(Event::Request { id, request }));
                }
                Input::Api(ApiCall::Status { reply }) => status_replies.push(reply),
            }
            n += 1;
            if n < 512 {
                input = rx.try_recv().ok();
            }
        }
        // 1. Durability first. The newest hard state goes first so the term on disk is
        // never older than the log's last entry, wherever a SIGKILL interrupts.
        let hard = cmds.iter().rev().find_map(|c| match c {
            Command::PersistHardState(h) => Some(h),
            _ => None,
        });
        if let Some(h) = hard {
            storage
                .save_hard_state(h)
                .context("saving the hard state")?;
        }
        for c in &cmds {
            match c {
                Command::Append(es) => storage.append(es).context("appending to the log")?,
                Command::Truncate { from } => {
                    storage.truncate(*from).context("truncating the log")?
                }
                _ => {}
            }
        }
        storage.sync().context("syncing the log")?;
        // 2. Then the effects that depend on it.
        for c in cmds.drain(..) {
            match c {
                Command::Send(m) => {
                    if let Some(q) = outbound.get(&m.to) {
                        let _ = q.try_send(m);
                    }
                }
                Command::Reply { id, result } => {
                    if let Some(tx) = replies.remove(&id) {
                        let _ = tx.send(result);
                    }
                }
                Command::Apply(e) => tracing::trace!(index = e.index, term = e.term, "applied"),
                Command::PersistHardState(_) | Command::Append(_) | Command::Truncate { .. } => {}
            }
        }
        if !status_replies.is_empty() {
            let now = status(&raft);
            for reply in status_replies.drain(..) {
                let _ = reply.send(now.clone());
            }
        }
        replies.retain(|_, tx| !tx.is_closed());
        let seen = (raft.role(), raft.term(), raft.leader().cloned());
        if seen != last_seen {
            tracing::info!(role = %seen.0, term = seen.1, leader = ?seen.2, commit = raft.commit_index(), "state change");
            last_seen = seen;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: RaftArgs,
    }

    #[test]
    fn args_round_trip_through_to_args() {
        let argv = [
            "x",
            "--id",
            "n1",
            "--peers",
            "n1=127.0.0.1:7001,n2=127.0.0.1:7002,n3=127.0.0.1:7003",
            "--api",
            "127.0.0.1:8001",
            "--data-dir",
            "/tmp/d",
            "--bug",
            "stale-read",
        ];
        let a = Cli::try_parse_from(argv).expect("parses").args;
        assert_eq!(a.peers.len(), 3);
        assert_eq!(a.bugs, vec![Bug::StaleRead]);
        let again = Cli::try_parse_from(std::iter::once("x".to_string()).chain(a.to_args()))
            .expect("round trip")
            .args;
        assert_eq!(again.to_args(), a.to_args());
        let cfg = a.config().expect("valid");
        assert_eq!(cfg.election_ticks, (15, 30));
        assert_eq!(cfg.heartbeat_ticks, 5);
    }

    #[test]
    fn bad_flags_are_errors() {
        let parse = |extra: &[&str]| {
            let mut argv = vec![
                "x",
                "--peers",
                "n1=127.0.0.1:7001",
                "--api",
                "127.0.0.1:8001",
                "--data-dir",
                "d",
            ];
            argv.extend_from_slice(extra);
            Cli::try_parse_from(argv).map(|c| c.args)
        };
        assert!(parse(&["--id", "n1", "--bug", "no-such-bug"]).is_err());
        let not_member = parse(&["--id", "n9"]).expect("parses");
        assert!(not_member.config().is_err());
        let bad_timing = parse(&["--id", "n1", "--heartbeat-ms", "500"]).expect("parses");
        assert!(bad_timing.config().is_err());
        assert!("n1:127.0.0.1:7001".parse::<PeerSpec>().is_err());
    }
}
