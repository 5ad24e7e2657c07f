//! Deploying the bundled Raft onto a cluster, and its clients for the workloads: the
//! shared bundled deployment ([`crate::bundled::deploy`]) with the Raft's flags and
//! status.
//!
//! ```text
//! RaftTarget::setup ─► every node: `faultline node raft --id nK --peers … --api A:8080 …`
//! RaftKv (workloads' Kv + Lock) ─► RaftClient per node ─► HTTP API, following leader hints
//! ```
//!
//! The error table is the bundled targets' one ([`crate::bundled::deploy`]).

use std::time::Duration;

use checkers::split_brain::Role as ObservedRole;
use harness::target::NodeStatus;

use super::api::Status;
use super::bug::Bug;
use super::node::RaftArgs;
use super::types::Role;
use crate::bundled::deploy::{BundledKv, BundledTarget, Protocol};
use crate::bundled::node::NodeFlags;

pub use crate::bundled::deploy::{API_PORT, HOP_TIMEOUT, MAX_HOPS, PEER_PORT};

/// How to run the bundled Raft (plain data; part of the test).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RaftOptions {
    pub bugs: Vec<Bug>,
    pub tick_ms: u64,
    pub election_min_ms: u64,
    pub election_max_ms: u64,
    pub heartbeat_ms: u64,
    /// How long a node waits on the cluster before answering "timeout".
    pub request_timeout_ms: u64,
}

impl Default for RaftOptions {
    fn default() -> Self {
        RaftOptions {
            bugs: Vec::new(),
            tick_ms: 10,
            election_min_ms: 150,
            election_max_ms: 300,
            heartbeat_ms: 50,
            request_timeout_ms: 500,
        }
    }
}

impl Protocol for RaftOptions {
    const NAME: &'static str = "raft";
    type Status = Status;

    fn tick_ms(&self) -> u64 {
        self.tick_ms
    }

    fn request_timeout_ms(&self) -> u64 {
        self.request_timeout_ms
    }

    fn node_args(&self, node: NodeFlags) -> Vec<String> {
        RaftArgs {
            node,
            bugs: self.bugs.clone(),
            election_min_ms: self.election_min_ms,
            election_max_ms: self.election_max_ms,
            heartbeat_ms: self.heartbeat_ms,
            max_append_entries: 64,
        }
        .to_args()
    }

    fn node_status(s: Status) -> NodeStatus {
        NodeStatus {
            role: match s.role {
                Role::Leader => ObservedRole::Leader,
                Role::Follower => ObservedRole::Follower,
                Role::Candidate => ObservedRole::Candidate,
            },
            term: s.term,
            leader: s.leader.map(|l| l.to_string()),
            voted_for: s.voted_for.map(|v| v.to_string()),
        }
    }

    /// The longest election timeout: a follower that stops hearing the leader calls an
    /// election within it.
    fn failover(&self) -> Duration {
        Duration::from_millis(self.election_max_ms)
    }

    fn setup_timeout(&self) -> Duration {
        Duration::from_secs(15)
    }
}

/// The bundled Raft as a system under test.
pub type RaftTarget = BundledTarget<RaftOptions>;

/// A client of the whole Raft cluster for one worker (see [`BundledKv`]): every request
/// starts at the worker's home node and follows not-leader hints from there. Implements
/// the workloads' `Kv`, `Lists` and `Lock`.
pub type RaftKv = BundledKv<Status>;

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;
    use harness::target::Target;
    use runtime::fake::{Action, RecordingRuntime};
    use runtime::NodeId;

    #[test]
    fn the_failover_figure_is_the_longest_election_timeout() {
        let t = RaftTarget::new(RaftOptions::default(), 1);
        assert_eq!(t.failover(), Duration::from_millis(300));
        let slow = RaftOptions {
            election_max_ms: 900,
            ..RaftOptions::default()
        };
        assert_eq!(
            RaftTarget::new(slow, 1).failover(),
            Duration::from_millis(900)
        );
    }

    #[test]
    fn deploy_starts_every_member_with_its_exact_command_line() {
        let rt = RecordingRuntime::new(3);
        let opts = RaftOptions {
            bugs: vec![Bug::StaleRead],
            ..RaftOptions::default()
        };
        RaftTarget::new(opts, 7).deploy(&rt).unwrap();
        let started: Vec<(NodeId, Vec<String>)> = rt
            .actions()
            .into_iter()
            .filter_map(|a| match a {
                Action::StartService { node, argv } => Some((node, argv)),
                _ => None,
            })
            .collect();
        assert_eq!(started.len(), 3, "one service per node");
        let (node, argv) = &started[1];
        assert_eq!(*node, NodeId::nth(2));
        let seed = 7 ^ 2u64.wrapping_mul(0x9e37_79b9_7f4a_7c15);
        assert_eq!(
            argv.join(" "),
            format!(
                "/fake/bin/faultline node raft --id n2 \
                 --peers n1=198.18.0.1:7000,n2=198.18.0.2:7000,n3=198.18.0.3:7000 \
                 --api 198.18.0.2:8080 --data-dir /fake/run/n2/data --tick-ms 10 \
                 --request-timeout-ms 500 --seed {seed} --bug stale-read \
                 --election-min-ms 150 --election-max-ms 300 --heartbeat-ms 50 \
                 --max-append-entries 64"
            )
        );
        // What the target starts is what the node program parses.
        #[derive(Parser)]
        struct Node {
            #[command(flatten)]
            args: RaftArgs,
        }
        let parsed = Node::try_parse_from(argv[2..].iter()).expect("the node's flags parse");
        assert_eq!(parsed.args.bugs, vec![Bug::StaleRead]);
        parsed.args.config().expect("a valid configuration");
        // Nothing but services: no commands, no files, no filters.
        assert!(rt.commands().is_empty(), "{:?}", rt.commands());
        assert!(rt.filter_tables().is_empty());
    }
}
