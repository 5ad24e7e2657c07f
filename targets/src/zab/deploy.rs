//! Deploying the bundled Zab onto a cluster, and its clients for the workloads: the
//! shared bundled deployment ([`crate::bundled::deploy`]) with the Zab's flags and
//! status.
//!
//! ```text
//! ZabTarget::setup ─► every node: `faultline node zab --id nK --peers … --api A:8080 …`
//! ZabKv (workloads' Kv + Lock) ─► ZabClient per node ─► HTTP API, reads at quorum|sync|local
//! ```
//!
//! The split-brain checker sees a Zab node as the harness sees every target: the term
//! is `currentEpoch`; only a leader in synchronization or broadcast (one that a quorum
//! gave its epoch, Zab's *established* leader, `Leadership1` of the TLA+ spec) counts as
//! a leader; a node names a leader only in broadcast, so "a majority follows one leader"
//! means a majority serves. The error table is the bundled targets' one.

use checkers::split_brain::Role as ObservedRole;
use harness::target::NodeStatus;

use super::api::Status;
use super::bug::Bug;
use super::node::ZabArgs;
use super::types::{Phase, Role};
use crate::bundled::deploy::{BundledKv, BundledTarget, Protocol};
use crate::bundled::node::NodeFlags;

/// How to run the bundled Zab (plain data; part of the test). The timing is the node
/// program's defaults (`faultline node zab --help`) but for the request timeout, which
/// is the Raft target's.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ZabOptions {
    pub bugs: Vec<Bug>,
    pub tick_ms: u64,
    pub heartbeat_ms: u64,
    pub finalize_ms: u64,
    pub init_limit_ms: u64,
    pub sync_limit_ms: u64,
    pub diff_window: usize,
    pub late_write_ms: u64,
    /// How long a node waits on the cluster before answering "timeout".
    pub request_timeout_ms: u64,
}

impl Default for ZabOptions {
    fn default() -> Self {
        ZabOptions {
            bugs: Vec::new(),
            tick_ms: 10,
            heartbeat_ms: 50,
            finalize_ms: 50,
            init_limit_ms: 1000,
            sync_limit_ms: 300,
            diff_window: 1000,
            late_write_ms: 100,
            request_timeout_ms: 500,
        }
    }
}

impl Protocol for ZabOptions {
    const NAME: &'static str = "zab";
    type Status = Status;

    fn tick_ms(&self) -> u64 {
        self.tick_ms
    }

    fn request_timeout_ms(&self) -> u64 {
        self.request_timeout_ms
    }

    fn node_args(&self, node: NodeFlags) -> Vec<String> {
        ZabArgs {
            node,
            bugs: self.bugs.clone(),
            heartbeat_ms: self.heartbeat_ms,
            finalize_ms: self.finalize_ms,
            init_limit_ms: self.init_limit_ms,
            sync_limit_ms: self.sync_limit_ms,
            diff_window: self.diff_window,
            late_write_ms: self.late_write_ms,
        }
        .to_args()
    }

    /// A follower gives up on a silent leader after the sync limit, then an election
    /// settles after its finalize wait (ZooKeeper's syncLimit plus finalizeWait).
    fn failover(&self) -> std::time::Duration {
        std::time::Duration::from_millis(self.sync_limit_ms + self.finalize_ms)
    }

    fn node_status(s: Status) -> NodeStatus {
        let established = matches!(s.phase, Phase::Synchronization | Phase::Broadcast);
        NodeStatus {
            role: match s.role {
                Role::Leading if established => ObservedRole::Leader,
                Role::Leading | Role::Looking => ObservedRole::Candidate,
                Role::Following => ObservedRole::Follower,
            },
            term: u64::from(s.current_epoch),
            leader: (s.phase == Phase::Broadcast)
                .then_some(s.leader)
                .flatten()
                .map(|l| l.to_string()),
            voted_for: None,
        }
    }
}

/// The bundled Zab as a system under test.
pub type ZabTarget = BundledTarget<ZabOptions>;

/// A client of the whole Zab cluster for one worker (see [`BundledKv`]); set its read
/// level with [`BundledKv::with_read_level`].
pub type ZabKv = BundledKv<Status>;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::zab::types::NodeId as ZabNodeId;
    use clap::Parser;
    use harness::target::Target;
    use runtime::fake::{Action, RecordingRuntime};
    use runtime::NodeId;

    #[test]
    fn deploy_starts_every_member_with_its_exact_command_line() {
        let rt = RecordingRuntime::new(3);
        let opts = ZabOptions {
            bugs: vec![Bug::DiffWithoutTrunc, Bug::StaleSync],
            ..ZabOptions::default()
        };
        let target = ZabTarget::new(opts, 7);
        assert_eq!(target.name(), "zab");
        target.deploy(&rt).unwrap();
        let started: Vec<(NodeId, Vec<String>)> = rt
            .actions()
            .into_iter()
            .filter_map(|a| match a {
                Action::StartService { node, argv } => Some((node, argv)),
                _ => None,
            })
            .collect();
        assert_eq!(started.len(), 3, "one service per node");
        let (node, argv) = &started[2];
        assert_eq!(*node, NodeId::nth(3));
        let seed = 7 ^ 3u64.wrapping_mul(0x9e37_79b9_7f4a_7c15);
        assert_eq!(
            argv.join(" "),
            format!(
                "/fake/bin/faultline node zab --id n3 \
                 --peers n1=198.18.0.1:7000,n2=198.18.0.2:7000,n3=198.18.0.3:7000 \
                 --api 198.18.0.3:8080 --data-dir /fake/run/n3/data --tick-ms 10 \
                 --request-timeout-ms 500 --seed {seed} \
                 --bug diff-without-trunc --bug stale-sync \
                 --heartbeat-ms 50 --finalize-ms 50 --init-limit-ms 1000 \
                 --sync-limit-ms 300 --diff-window 1000 --late-write-ms 100"
            )
        );
        #[derive(Parser)]
        struct Node {
            #[command(flatten)]
            args: ZabArgs,
        }
        let parsed = Node::try_parse_from(argv[2..].iter()).expect("the node's flags parse");
        assert_eq!(
            parsed.args.bugs,
            vec![Bug::DiffWithoutTrunc, Bug::StaleSync]
        );
        parsed.args.config().expect("a valid configuration");
        assert!(rt.commands().is_empty(), "{:?}", rt.commands());
        assert!(rt.filter_tables().is_empty());
    }

    #[test]
    fn the_failover_figure_is_the_sync_limit_plus_the_finalize_wait_and_sizes_the_default_mix() {
        use std::time::Duration;
        let t = ZabTarget::new(ZabOptions::default(), 1);
        assert_eq!(t.failover(), Duration::from_millis(350));
        let slow = ZabOptions {
            sync_limit_ms: 2000,
            finalize_ms: 200,
            ..ZabOptions::default()
        };
        let slow = ZabTarget::new(slow, 1);
        assert_eq!(slow.failover(), Duration::from_millis(2200));
        // The run fits the default mix to the target's figure (`harness::run::run`):
        // the Zab's own, not the 1 s assumed for a target that cannot say.
        let plan =
            nemesis::Plan::scheduled(vec![nemesis::FaultArg::Default], Duration::from_secs(5));
        for target in [&t, &slow] {
            let mut resolved = plan.resolve(3).unwrap().expect("the default mix plays");
            assert_eq!(resolved.mix().unwrap().failover, nemesis::DEFAULT_FAILOVER);
            let mix = resolved.fit_to(target.failover()).expect("a mix").clone();
            assert_eq!(mix, nemesis::Mix::default_for(target.failover()));
            assert_eq!(mix.failover, target.failover());
            assert!(mix.window.min >= target.failover() * nemesis::mix::WINDOW_FAILOVERS);
            assert!(mix.gap.min >= target.failover());
        }
        // The defaults' windows sit on the 3 s floor; a slow Zab's grow past it.
        let window = |t: &ZabTarget| nemesis::Mix::default_for(t.failover()).window.min;
        assert_eq!(window(&t), nemesis::mix::MIN_WINDOW);
        assert_eq!(window(&slow), Duration::from_millis(6600));
    }

    fn status(role: Role, phase: Phase, epoch: u32, leader: Option<&str>) -> Status {
        Status {
            id: ZabNodeId::new("n1"),
            role,
            phase,
            accepted_epoch: epoch + 1,
            current_epoch: epoch,
            leader: leader.map(ZabNodeId::new),
            last_zxid: 0,
            committed_zxid: 0,
            applied_zxid: 0,
            election_round: 4,
        }
    }

    #[test]
    fn only_an_established_leader_leads_and_the_term_is_the_current_epoch() {
        let s = |role, phase| ZabOptions::node_status(status(role, phase, 3, Some("n1")));
        let leading = s(Role::Leading, Phase::Broadcast);
        assert_eq!(
            (leading.role, leading.term, leading.leader.as_deref()),
            (ObservedRole::Leader, 3, Some("n1"))
        );
        assert_eq!(
            s(Role::Leading, Phase::Synchronization).role,
            ObservedRole::Leader,
            "a quorum gave it the epoch: two of these in one epoch are split brain"
        );
        let discovering = s(Role::Leading, Phase::Discovery);
        assert_eq!(discovering.role, ObservedRole::Candidate);
        assert_eq!(discovering.leader, None, "not serving: names no leader");
        assert_eq!(
            s(Role::Looking, Phase::Election).role,
            ObservedRole::Candidate
        );
        let following = s(Role::Following, Phase::Broadcast);
        assert_eq!(
            (following.role, following.leader.as_deref()),
            (ObservedRole::Follower, Some("n1"))
        );
        assert_eq!(s(Role::Following, Phase::Synchronization).leader, None);
    }
}
