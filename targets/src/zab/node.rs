//! The node program: `faultline node zab --id n1 --peers n1=…,n2=… --api … --data-dir …`.
//!
//! The Zab core run by the bundled driver ([`crate::bundled::driver`]): every batch of
//! inputs is stepped, its storage commands made durable in the order emitted (an epoch
//! write fsyncs the log changes before it first), and only then are messages sent and
//! clients answered. A corrupt or truncated epoch file or a damaged log refuses the start,
//! naming the file and the byte offset.

use std::fmt;

use anyhow::{bail, Context};

use super::api::Status;
use super::bug::Bug;
use super::core::{Config, Zab};
use super::io::{Command, Event};
use super::message::Message;
use super::storage::Storage;
use super::types::{Epoch, NodeId, Phase, Role, Zxid};
use crate::bundled::committed::{digest, CommittedEntry, CommittedLog};
use crate::bundled::driver::{self, Effect, Program};
use crate::bundled::node::NodeFlags;
use crate::bundled::types::Position;

/// Flags of `faultline node zab`: one member of a bundled Zab key-value and lock cluster.
#[derive(Clone, Debug, clap::Args)]
pub struct ZabArgs {
    #[command(flatten)]
    pub node: NodeFlags,
    /// Plant a known bug (repeatable). Without any, the node is correct.
    #[arg(long = "bug", value_name = "NAME", value_enum)]
    pub bugs: Vec<Bug>,
    /// The leader's PING interval; a LOOKING node resends its vote every 1–2 of these.
    #[arg(long, value_name = "MS", default_value_t = 50)]
    pub heartbeat_ms: u64,
    /// How long an election waits for a better vote once a quorum agrees (finalizeWait).
    #[arg(long, value_name = "MS", default_value_t = 50)]
    pub finalize_ms: u64,
    /// How long discovery and sync may take before the node looks again (initLimit).
    #[arg(long, value_name = "MS", default_value_t = 1000)]
    pub init_limit_ms: u64,
    /// How long a follower waits to hear from its leader, and a leader from a quorum
    /// (syncLimit); must exceed --heartbeat-ms.
    #[arg(long, value_name = "MS", default_value_t = 300)]
    pub sync_limit_ms: u64,
    /// Most transactions a DIFF carries; a follower further behind gets a SNAP.
    #[arg(long, value_name = "N", default_value_t = 1000)]
    pub diff_window: usize,
    /// How late the log writes of ack-before-fsync and epoch-before-history land (the
    /// group flush of an asynchronous logger); unused without those switches.
    #[arg(long, value_name = "MS", default_value_t = 100)]
    pub late_write_ms: u64,
}

impl ZabArgs {
    /// The argv (after `faultline node zab`) that reproduces these flags.
    pub fn to_args(&self) -> Vec<String> {
        let mut a = self.node.to_args();
        for b in &self.bugs {
            a.extend(["--bug".into(), b.name().into()]);
        }
        let timing = [
            ("--heartbeat-ms", self.heartbeat_ms),
            ("--finalize-ms", self.finalize_ms),
            ("--init-limit-ms", self.init_limit_ms),
            ("--sync-limit-ms", self.sync_limit_ms),
            ("--diff-window", self.diff_window as u64),
            ("--late-write-ms", self.late_write_ms),
        ];
        for (flag, v) in timing {
            a.extend([flag.into(), v.to_string()]);
        }
        a
    }

    /// Checks the flags and builds the core's configuration.
    pub fn config(&self) -> anyhow::Result<Config> {
        let (id, members) = self.node.members()?;
        let heartbeat = self.node.ticks(self.heartbeat_ms);
        let sync = self.node.ticks(self.sync_limit_ms);
        let init = self.node.ticks(self.init_limit_ms);
        if heartbeat == 0 || heartbeat >= sync {
            bail!("need --tick-ms <= --heartbeat-ms < --sync-limit-ms");
        }
        if init < sync {
            bail!("need --init-limit-ms >= --sync-limit-ms");
        }
        if self.diff_window == 0 {
            bail!("--diff-window must be positive");
        }
        Ok(Config {
            id,
            members,
            heartbeat_ticks: heartbeat,
            finalize_ticks: self.node.ticks(self.finalize_ms),
            init_ticks: init,
            sync_ticks: sync,
            diff_window: self.diff_window,
            late_ticks: self.node.ticks(self.late_write_ms).max(1),
            tick_ms: self.node.tick_ms,
            bugs: self.bugs.iter().copied().collect(),
            seed: self.node.seed(),
        })
    }
}

/// Runs a node until SIGTERM/SIGINT (exit 0) or a fatal storage error (an `Err`).
pub fn run(args: ZabArgs) -> anyhow::Result<u8> {
    let cfg = args.config()?;
    let dir = &args.node.data_dir;
    let (storage, recovered) =
        Storage::open(dir).with_context(|| format!("opening data dir {}", dir.display()))?;
    if recovered.torn_bytes > 0 {
        tracing::warn!(
            file = %recovered.log_path.display(),
            offset = recovered.torn_at,
            bytes = recovered.torn_bytes,
            "cut off a torn record at the end of the log (a crash mid-write; never acknowledged)"
        );
    }
    let d = &recovered.durable;
    tracing::info!(
        id = %cfg.id,
        accepted_epoch = d.accepted_epoch,
        current_epoch = d.current_epoch,
        txns = d.log.len(),
        bugs = ?args.bugs,
        seed = cfg.seed,
        "starting zab node"
    );
    let zab = Zab::new(cfg, recovered.durable);
    driver::run(&args.node, zab, storage)
}

/// What the driver logs when it changes (the commit point is shown, but its moving
/// alone is not a change worth a line).
pub struct Summary {
    role: Role,
    phase: Phase,
    epoch: Epoch,
    leader: Option<NodeId>,
    committed: Zxid,
}

impl PartialEq for Summary {
    fn eq(&self, other: &Summary) -> bool {
        self.role == other.role
            && self.phase == other.phase
            && self.epoch == other.epoch
            && self.leader == other.leader
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "role={} phase={} epoch={} leader=",
            self.role, self.phase, self.epoch
        )?;
        match &self.leader {
            Some(l) => write!(f, "{l}")?,
            None => f.write_str("none")?,
        }
        write!(f, " committed={}", self.committed)
    }
}

impl Program for Zab {
    type Message = Message;
    type Command = Command;
    type Status = Status;
    type Storage = Storage;
    type Summary = Summary;
    const NAME: &'static str = "zab";

    fn step(&mut self, event: Event) -> Vec<Command> {
        Zab::step(self, event)
    }

    /// In the order emitted; an epoch write fsyncs the log changes before it; one final
    /// fsync for the rest.
    fn persist(storage: &mut Storage, cmds: &[Command]) -> anyhow::Result<()> {
        for c in cmds {
            match c {
                Command::Append(txns) => storage.append(txns).context("appending to the log")?,
                Command::Truncate { after } => storage.truncate_after(*after),
                Command::PersistAcceptedEpoch(e) => storage
                    .save_accepted_epoch(*e)
                    .context("saving acceptedEpoch")?,
                Command::PersistCurrentEpoch(e) => storage
                    .save_current_epoch(*e)
                    .context("saving currentEpoch")?,
                Command::Send(_) | Command::Apply { .. } | Command::Reply { .. } => {}
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
            Command::Apply { txn, .. } => Effect::Applied {
                position: txn.zxid.as_u64(),
            },
            Command::PersistAcceptedEpoch(_)
            | Command::PersistCurrentEpoch(_)
            | Command::Append(_)
            | Command::Truncate { .. } => Effect::Stored,
        }
    }

    fn status(&self) -> Status {
        Status {
            id: self.id().clone(),
            role: self.role(),
            phase: self.phase(),
            accepted_epoch: self.accepted_epoch(),
            current_epoch: self.current_epoch(),
            leader: self.leader().cloned(),
            last_zxid: self.last_zxid().as_u64(),
            committed_zxid: self.committed_zxid().as_u64(),
            applied_zxid: self.applied_zxid().as_u64(),
            election_round: self.election_round(),
        }
    }

    fn committed(&self, from: Position) -> CommittedLog {
        let txns = Zab::committed(self);
        let start = txns.partition_point(|t| t.zxid.as_u64() < from);
        CommittedLog {
            entries: txns[start..]
                .iter()
                .map(|t| CommittedEntry {
                    position: t.zxid.as_u64(),
                    digest: digest(t),
                })
                .collect(),
        }
    }

    fn summary(&self) -> Summary {
        Summary {
            role: self.role(),
            phase: self.phase(),
            epoch: self.current_epoch(),
            leader: self.leader().cloned(),
            committed: self.committed_zxid(),
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
        args: ZabArgs,
    }

    fn parse(extra: &[&str]) -> Result<ZabArgs, clap::Error> {
        let mut argv = vec![
            "x",
            "--id",
            "n1",
            "--peers",
            "n1=127.0.0.1:7001,n2=127.0.0.1:7002,n3=127.0.0.1:7003",
            "--api",
            "127.0.0.1:8001",
            "--data-dir",
            "/tmp/d",
        ];
        argv.extend_from_slice(extra);
        Cli::try_parse_from(argv).map(|c| c.args)
    }

    #[test]
    fn args_round_trip_through_to_args() {
        let a = parse(&["--bug", "stale-sync", "--bug", "diff-without-trunc"]).expect("parses");
        assert_eq!(a.bugs, vec![Bug::StaleSync, Bug::DiffWithoutTrunc]);
        let again = Cli::try_parse_from(std::iter::once("x".to_string()).chain(a.to_args()))
            .expect("round trip")
            .args;
        assert_eq!(again.to_args(), a.to_args());
        let cfg = a.config().expect("valid");
        assert_eq!(
            (cfg.heartbeat_ticks, cfg.sync_ticks, cfg.init_ticks),
            (5, 30, 100)
        );
    }

    #[test]
    fn bad_flags_are_errors() {
        assert!(parse(&["--bug", "stale-read"]).is_err(), "a Raft switch");
        let slow_beat = parse(&["--heartbeat-ms", "400"]).expect("parses");
        assert!(slow_beat.config().is_err());
        let short_init = parse(&["--init-limit-ms", "100"]).expect("parses");
        assert!(short_init.config().is_err());
    }
}
