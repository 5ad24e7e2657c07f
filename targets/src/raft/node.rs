//! The node program: `faultline node raft --id n1 --peers n1=…,n2=… --api … --data-dir …`.
//!
//! The Raft core run by the bundled driver ([`crate::bundled::driver`]): every batch of
//! inputs is stepped, its storage commands made durable with one fsync (the newest hard
//! state first), and only then are messages sent and clients answered. A storage failure
//! stops the node (exit non-zero); a corrupt data directory refuses to start.

use std::fmt;

use anyhow::{bail, Context};

use super::api::Status;
use super::bug::Bug;
use super::core::{Config, Raft};
use super::io::{Command, Event};
use super::message::Message;
use super::storage::Storage;
use super::types::{NodeId, Role, Term};
use crate::bundled::committed::{digest, CommittedEntry, CommittedLog};
use crate::bundled::driver::{self, Effect, Program};
use crate::bundled::node::NodeFlags;
use crate::bundled::types::Position;

pub use crate::bundled::node::PeerSpec;

/// Flags of `faultline node raft`: one member of a bundled Raft key-value and lock cluster.
#[derive(Clone, Debug, clap::Args)]
pub struct RaftArgs {
    #[command(flatten)]
    pub node: NodeFlags,
    /// Plant a known bug (repeatable). Without any, the node is correct.
    #[arg(long = "bug", value_name = "NAME", value_enum)]
    pub bugs: Vec<Bug>,
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
}

impl RaftArgs {
    /// The argv (after `faultline node raft`) that reproduces these flags.
    pub fn to_args(&self) -> Vec<String> {
        let mut a = self.node.to_args();
        for b in &self.bugs {
            a.extend(["--bug".into(), b.name().into()]);
        }
        let timing = [
            ("--election-min-ms", self.election_min_ms),
            ("--election-max-ms", self.election_max_ms),
            ("--heartbeat-ms", self.heartbeat_ms),
            ("--max-append-entries", self.max_append_entries as u64),
        ];
        for (flag, v) in timing {
            a.extend([flag.into(), v.to_string()]);
        }
        a
    }

    /// Checks the flags and builds the core's configuration.
    pub fn config(&self) -> anyhow::Result<Config> {
        let (id, members) = self.node.members()?;
        let election = (
            self.node.ticks(self.election_min_ms),
            self.node.ticks(self.election_max_ms),
        );
        let heartbeat = self.node.ticks(self.heartbeat_ms);
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
        Ok(Config {
            id,
            members,
            election_ticks: election,
            heartbeat_ticks: heartbeat,
            max_append_entries: self.max_append_entries,
            tick_ms: self.node.tick_ms,
            bugs: self.bugs.iter().copied().collect(),
            seed: self.node.seed(),
        })
    }
}

/// Runs a node until SIGTERM/SIGINT (exit 0) or a fatal storage error (an `Err`).
pub fn run(args: RaftArgs) -> anyhow::Result<u8> {
    let cfg = args.config()?;
    let dir = &args.node.data_dir;
    let (storage, recovered) =
        Storage::open(dir).with_context(|| format!("opening data dir {}", dir.display()))?;
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
    driver::run(&args.node, raft, storage)
}

/// What the driver logs when it changes (the commit point is shown, but its moving
/// alone is not a change worth a line).
pub struct Summary {
    role: Role,
    term: Term,
    leader: Option<NodeId>,
    commit: u64,
}

impl PartialEq for Summary {
    fn eq(&self, other: &Summary) -> bool {
        self.role == other.role && self.term == other.term && self.leader == other.leader
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "role={} term={} leader=", self.role, self.term)?;
        match &self.leader {
            Some(l) => write!(f, "{l}")?,
            None => f.write_str("none")?,
        }
        write!(f, " commit={}", self.commit)
    }
}

impl Program for Raft {
    type Message = Message;
    type Command = Command;
    type Status = Status;
    type Storage = Storage;
    type Summary = Summary;
    const NAME: &'static str = "raft";

    fn step(&mut self, event: Event) -> Vec<Command> {
        Raft::step(self, event)
    }

    /// The newest hard state goes first so the term on disk is never older than the
    /// log's last entry, wherever a SIGKILL interrupts; then the log, with one fsync.
    fn persist(storage: &mut Storage, cmds: &[Command]) -> anyhow::Result<()> {
        let hard = cmds.iter().rev().find_map(|c| match c {
            Command::PersistHardState(h) => Some(h),
            _ => None,
        });
        if let Some(h) = hard {
            storage
                .save_hard_state(h)
                .context("saving the hard state")?;
        }
        for c in cmds {
            match c {
                Command::Append(es) => storage.append(es).context("appending to the log")?,
                Command::Truncate { from } => {
                    storage.truncate(*from).context("truncating the log")?
                }
                _ => {}
            }
        }
        storage.sync().context("syncing the log")
    }

    fn effect(cmd: Command) -> Effect<Message> {
        match cmd {
            Command::Send(m) => Effect::Send {
                to: m.to.clone(),
                message: m,
            },
            Command::Reply { id, result } => Effect::Reply { id, result },
            Command::Apply(e) => Effect::Applied { position: e.index },
            Command::PersistHardState(_) | Command::Append(_) | Command::Truncate { .. } => {
                Effect::Stored
            }
        }
    }

    fn status(&self) -> Status {
        Status {
            id: self.id().clone(),
            role: self.role(),
            term: self.term(),
            leader: self.leader().cloned(),
            voted_for: self.hard_state().voted_for.clone(),
            commit_index: self.commit_index(),
            last_applied: self.last_applied(),
            last_log_index: self.last_index(),
        }
    }

    fn committed(&self, from: Position) -> CommittedLog {
        let end = self.commit_index().min(self.last_index()) as usize;
        let start = from.saturating_sub(1).min(end as u64) as usize;
        CommittedLog {
            entries: self.log()[start..end]
                .iter()
                .map(|e| CommittedEntry {
                    position: e.index,
                    digest: digest(e),
                })
                .collect(),
        }
    }

    fn summary(&self) -> Summary {
        Summary {
            role: self.role(),
            term: self.term(),
            leader: self.leader().cloned(),
            commit: self.commit_index(),
        }
    }
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
        assert_eq!(a.node.peers.len(), 3);
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

    #[test]
    fn the_committed_log_lists_committed_entries_from_a_position() {
        let cfg = RaftArgs {
            node: NodeFlags {
                id: "n1".into(),
                peers: vec!["n1=127.0.0.1:7001".parse().expect("peer")],
                api: "127.0.0.1:8001".parse().expect("addr"),
                listen: None,
                data_dir: "d".into(),
                tick_ms: 10,
                request_timeout_ms: 1000,
                seed: Some(1),
            },
            bugs: vec![],
            election_min_ms: 150,
            election_max_ms: 300,
            heartbeat_ms: 50,
            max_append_entries: 64,
        }
        .config()
        .expect("valid");
        let mut raft = Raft::new(cfg, Default::default(), Vec::new());
        // A single node elects itself and commits its no-op.
        for _ in 0..100 {
            raft.step(Event::Tick);
        }
        assert_eq!(raft.commit_index(), 1);
        let all = raft.committed(0);
        assert_eq!(all.entries.len(), 1);
        assert_eq!(all.entries[0].position, 1);
        assert_eq!(all.entries[0].digest, digest(&raft.log()[0]));
        assert!(raft.committed(2).entries.is_empty());
    }
}
