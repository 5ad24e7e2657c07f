//! The nemesis: turns fault steps into iptables rules and signals on a cluster, and
//! records each as a [`FaultEvent`].
//!
//! ```text
//! Step ──► Nemesis::invoke ──┬─ partition / loss ──► filters ─► render ─► iptables::apply
//!                            └─ kill / pause ──────► dyn Processes (service slots)
//!                            ──► FaultEvent (phase, kind, spec, nodes, grudge, outcome)
//! ```
//!
//! Invariants: the nemesis remembers every active fault (grudge, lossy nodes, killed
//! and paused nodes), so each stop heals exactly what its start did and
//! [`Nemesis::heal_all`] leaves the cluster fault-free; random choices come from a
//! ChaCha rng seeded from the run's seed; partitions never name the control namespace.
//! References: Jepsen `jepsen.nemesis.combined` (`db-nodes`, partition specs).

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;
use std::sync::Arc;

use harness::cluster::{Cluster, ClusterError, NodeId, ServiceError};
use harness::exec::Exec;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::fault::{Fault, FaultEvent, FaultKind, FaultOutcome, FaultPhase};
use crate::grudge::{self, Grudge, PartitionKind};
use crate::iptables;
use crate::schedule::Step;
use crate::spec::NodeSpec;

/// Process control on nodes (Jepsen's `Kill` and `Pause` capabilities). Errors are
/// plain messages: they become `Indeterminate` outcomes, never harness errors.
pub trait Processes: Send + Sync {
    fn kill(&self, node: NodeId) -> Result<(), String>;
    /// Starts the node's process again; already running counts as success.
    fn start(&self, node: NodeId) -> Result<(), String>;
    fn pause(&self, node: NodeId) -> Result<(), String>;
    fn resume(&self, node: NodeId) -> Result<(), String>;
}

/// A cluster's service slots are process control.
impl Processes for Cluster {
    fn kill(&self, node: NodeId) -> Result<(), String> {
        Cluster::kill(self, node)
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
    fn start(&self, node: NodeId) -> Result<(), String> {
        match Cluster::start(self, node) {
            Ok(_) | Err(ClusterError::Service(ServiceError::AlreadyRunning { .. })) => Ok(()),
            Err(e) => Err(e.to_string()),
        }
    }
    fn pause(&self, node: NodeId) -> Result<(), String> {
        Cluster::pause(self, node).map_err(|e| e.to_string())
    }
    fn resume(&self, node: NodeId) -> Result<(), String> {
        Cluster::resume(self, node).map_err(|e| e.to_string())
    }
}

/// Something that starts and stops faults: what the interpreter drives.
pub trait FaultInjector: Send {
    fn invoke(&mut self, step: &Step) -> FaultEvent;
    /// Stops every active fault; one event per healed family.
    fn heal_all(&mut self) -> Vec<FaultEvent>;
}

/// The current leaders, as the target sees them (for `primaries`).
pub type LeaderQuery = Arc<dyn Fn() -> BTreeSet<NodeId> + Send + Sync>;

/// A node as the nemesis sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    pub ns: String,
    pub addr: Ipv4Addr,
}

/// The network faults in force, as data (so a stateless CLI can persist and restore
/// them between invocations).
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct NetFaults {
    pub partition: Option<Grudge>,
    pub loss: BTreeMap<NodeId, f64>,
}

pub struct Nemesis {
    exec: Arc<dyn Exec>,
    nodes: BTreeMap<NodeId, Target>,
    processes: Option<Arc<dyn Processes>>,
    leaders: Option<LeaderQuery>,
    rng: ChaCha8Rng,
    partition: Option<Grudge>,
    loss: BTreeMap<NodeId, f64>,
    killed: BTreeSet<NodeId>,
    paused: BTreeSet<NodeId>,
    applied: BTreeMap<NodeId, String>,
}

impl Nemesis {
    /// A nemesis over explicit nodes. `seed` drives every random choice.
    pub fn new(exec: Arc<dyn Exec>, nodes: BTreeMap<NodeId, Target>, seed: u64) -> Self {
        Nemesis {
            exec,
            nodes,
            processes: None,
            leaders: None,
            rng: ChaCha8Rng::seed_from_u64(seed),
            partition: None,
            loss: BTreeMap::new(),
            killed: BTreeSet::new(),
            paused: BTreeSet::new(),
            applied: BTreeMap::new(),
        }
    }

    /// A nemesis for a cluster, with the cluster's service slots as process control.
    pub fn for_cluster(cluster: &Arc<Cluster>, seed: u64) -> Self {
        let nodes = cluster
            .nodes()
            .iter()
            .map(|n| {
                (
                    n.id,
                    Target {
                        ns: n.ns.clone(),
                        addr: n.addr,
                    },
                )
            })
            .collect();
        let procs: Arc<dyn Processes> = Arc::clone(cluster) as Arc<dyn Processes>;
        Nemesis::new(cluster.exec_backend(), nodes, seed).with_processes(procs)
    }

    pub fn with_processes(mut self, p: Arc<dyn Processes>) -> Self {
        self.processes = Some(p);
        self
    }

    pub fn with_leaders(mut self, q: LeaderQuery) -> Self {
        self.leaders = Some(q);
        self
    }

    /// The network faults in force now.
    pub fn net_faults(&self) -> NetFaults {
        NetFaults {
            partition: self.partition.clone(),
            loss: self.loss.clone(),
        }
    }

    /// Takes over network faults installed earlier (by another process). Nothing is
    /// applied until the next start or stop, which then rewrites every node's table.
    pub fn with_net_faults(mut self, faults: NetFaults) -> Self {
        self.partition = faults.partition;
        self.loss = faults.loss;
        self.applied.clear();
        self
    }

    pub fn node_ids(&self) -> Vec<NodeId> {
        self.nodes.keys().copied().collect()
    }

    /// Fault families active now.
    pub fn active(&self) -> Vec<FaultKind> {
        let mut v = Vec::new();
        if self.partition.is_some() {
            v.push(FaultKind::Partition);
        }
        if !self.killed.is_empty() {
            v.push(FaultKind::Kill);
        }
        if !self.paused.is_empty() {
            v.push(FaultKind::Pause);
        }
        if !self.loss.is_empty() {
            v.push(FaultKind::Loss);
        }
        v
    }

    fn leaders_now(&self) -> BTreeSet<NodeId> {
        self.leaders.as_ref().map(|q| q()).unwrap_or_default()
    }

    /// The nodes a spec means now (seeded rng; the leader query for `primaries`).
    pub fn resolve(&mut self, spec: &NodeSpec) -> BTreeSet<NodeId> {
        let nodes = self.node_ids();
        let leaders = self.leaders.clone();
        spec.resolve(&nodes, &mut self.rng, move || {
            leaders.map(|q| q()).unwrap_or_default()
        })
    }

    /// The grudge a partition kind means right now.
    pub fn grudge_for(&mut self, kind: PartitionKind) -> Grudge {
        let mut order = self.node_ids();
        if kind.is_random() {
            order.shuffle(&mut self.rng);
        }
        let leaders = if kind == PartitionKind::Primaries {
            self.leaders_now()
        } else {
            BTreeSet::new()
        };
        grudge::compute(kind, &order, &leaders)
    }

    /// Starts a fault.
    pub fn start(&mut self, fault: &Fault) -> FaultEvent {
        let (targets, grudge, outcome) = match fault {
            Fault::Partition { kind } => {
                let g = self.grudge_for(*kind);
                self.start_partition(g)
            }
            Fault::Grudge { grudge } => self.start_partition(grudge.clone()),
            Fault::Kill { nodes } => {
                let targets = self.resolve(nodes);
                let (t, o) = self.signal_all(FaultKind::Kill, FaultPhase::Start, targets, nodes);
                (t, None, o)
            }
            Fault::Pause { nodes } => {
                let targets = self.resolve(nodes);
                let (t, o) = self.signal_all(FaultKind::Pause, FaultPhase::Start, targets, nodes);
                (t, None, o)
            }
            Fault::Loss { p, nodes } => {
                let targets = self.resolve(nodes);
                let (t, o) = self.start_loss(*p, targets, nodes);
                (t, None, o)
            }
        };
        self.event(
            FaultPhase::Start,
            fault.kind(),
            Some(fault),
            targets,
            grudge,
            outcome,
        )
    }

    /// Stops (heals) a fault family.
    pub fn stop(&mut self, kind: FaultKind) -> FaultEvent {
        let (targets, outcome) = match kind {
            FaultKind::Partition => {
                let before = self.partition.take();
                let targets = before.map(|g| g.affected()).unwrap_or_default();
                let outcome = self.apply_filters();
                (targets.into_iter().collect(), outcome)
            }
            FaultKind::Loss => {
                let targets: Vec<NodeId> = std::mem::take(&mut self.loss).into_keys().collect();
                (targets, self.apply_filters())
            }
            FaultKind::Kill => {
                let t = self.killed.clone();
                self.signal_all(kind, FaultPhase::Stop, t, &NodeSpec::All)
            }
            FaultKind::Pause => {
                let t = self.paused.clone();
                self.signal_all(kind, FaultPhase::Stop, t, &NodeSpec::All)
            }
        };
        self.event(FaultPhase::Stop, kind, None, targets, None, outcome)
    }

    fn event(
        &self,
        phase: FaultPhase,
        kind: FaultKind,
        fault: Option<&Fault>,
        targets: Vec<NodeId>,
        grudge: Option<Grudge>,
        outcome: FaultOutcome,
    ) -> FaultEvent {
        let e = FaultEvent {
            phase,
            kind: Some(kind),
            spec: fault.map(Fault::spec).unwrap_or_default(),
            nodes: targets.iter().map(NodeId::to_string).collect(),
            grudge: grudge.map(|g| g.names(&self.node_ids())),
            outcome,
        };
        tracing::info!(target: "nemesis", "{e}");
        e
    }

    fn start_partition(&mut self, g: Grudge) -> (Vec<NodeId>, Option<Grudge>, FaultOutcome) {
        if g.is_empty() {
            return (
                Vec::new(),
                Some(g),
                FaultOutcome::Skipped("the partition cuts nothing (no primaries known?)".into()),
            );
        }
        let targets = g.affected().into_iter().collect();
        self.partition = Some(g.clone());
        (targets, Some(g), self.apply_filters())
    }

    fn start_loss(
        &mut self,
        p: f64,
        targets: BTreeSet<NodeId>,
        spec: &NodeSpec,
    ) -> (Vec<NodeId>, FaultOutcome) {
        if !(p > 0.0 && p <= 1.0) {
            return (
                Vec::new(),
                FaultOutcome::Skipped(format!("loss probability {p} not in (0, 1]")),
            );
        }
        if targets.is_empty() {
            return (
                Vec::new(),
                FaultOutcome::Skipped(format!("no node matches {spec}")),
            );
        }
        for t in &targets {
            self.loss.insert(*t, p);
        }
        (targets.into_iter().collect(), self.apply_filters())
    }

    /// Renders the current faults for every node and installs what changed.
    fn apply_filters(&mut self) -> FaultOutcome {
        let addrs: BTreeMap<NodeId, Ipv4Addr> =
            self.nodes.iter().map(|(n, t)| (*n, t.addr)).collect();
        let grudge = self.partition.clone().unwrap_or_default();
        let filters = iptables::filters(&grudge, &self.loss, &addrs);
        let mut work = Vec::new();
        let mut by_ns = BTreeMap::new();
        for (node, f) in &filters {
            let text = iptables::render(f);
            if self.applied.get(node) != Some(&text) {
                let ns = self.nodes[node].ns.clone();
                by_ns.insert(ns.clone(), (*node, text.clone()));
                work.push((ns, text));
            }
        }
        let mut failures = Vec::new();
        for (ns, result) in iptables::apply(self.exec.as_ref(), work) {
            let (node, text) = by_ns
                .remove(&ns)
                .expect("every result names a namespace we gave");
            match result {
                Ok(()) => {
                    self.applied.insert(node, text);
                }
                Err(e) => {
                    self.applied.remove(&node);
                    failures.push(format!("{node}: {e}"));
                }
            }
        }
        if failures.is_empty() {
            FaultOutcome::Installed
        } else {
            FaultOutcome::Indeterminate(failures.join("; "))
        }
    }

    fn signal_all(
        &mut self,
        kind: FaultKind,
        phase: FaultPhase,
        targets: BTreeSet<NodeId>,
        spec: &NodeSpec,
    ) -> (Vec<NodeId>, FaultOutcome) {
        let Some(procs) = self.processes.clone() else {
            return (
                targets.into_iter().collect(),
                FaultOutcome::Skipped(format!("this target offers no {kind} control")),
            );
        };
        if targets.is_empty() {
            let why = match phase {
                FaultPhase::Start | FaultPhase::HealAll => format!("no node matches {spec}"),
                FaultPhase::Stop => format!(
                    "no node to {}",
                    if kind == FaultKind::Kill {
                        "restart"
                    } else {
                        "resume"
                    }
                ),
            };
            return (Vec::new(), FaultOutcome::Skipped(why));
        }
        let mut failures = Vec::new();
        for node in &targets {
            let result = match (kind, phase) {
                (FaultKind::Kill, FaultPhase::Start) => procs.kill(*node),
                (FaultKind::Kill, FaultPhase::Stop) => procs.start(*node),
                (FaultKind::Pause, FaultPhase::Start) => procs.pause(*node),
                (FaultKind::Pause, FaultPhase::Stop) => procs.resume(*node),
                _ => unreachable!("signal_all is only called for kill and pause"),
            };
            let set = if kind == FaultKind::Kill {
                &mut self.killed
            } else {
                &mut self.paused
            };
            match (result, phase) {
                (Ok(()), FaultPhase::Start) => {
                    set.insert(*node);
                }
                (Ok(()), FaultPhase::Stop | FaultPhase::HealAll) => {
                    set.remove(node);
                }
                (Err(e), _) => failures.push(format!("{node}: {e}")),
            }
        }
        let outcome = if failures.is_empty() {
            FaultOutcome::Installed
        } else {
            FaultOutcome::Indeterminate(failures.join("; "))
        };
        (targets.into_iter().collect(), outcome)
    }
}

impl FaultInjector for Nemesis {
    fn invoke(&mut self, step: &Step) -> FaultEvent {
        match step {
            Step::Start(f) => self.start(f),
            Step::Stop(k) => self.stop(*k),
        }
    }

    fn heal_all(&mut self) -> Vec<FaultEvent> {
        let mut events: Vec<FaultEvent> = self.active().into_iter().map(|k| self.stop(k)).collect();
        // Make sure the filter tables are empty even if we never installed anything
        // (e.g. a controller restarted against a sandbox with leftover rules).
        if self
            .applied
            .values()
            .any(|t| t != &iptables::render(&Default::default()))
        {
            let outcome = self.apply_filters();
            if outcome != FaultOutcome::Installed {
                events.push(self.event(
                    FaultPhase::Stop,
                    FaultKind::Partition,
                    None,
                    Vec::new(),
                    None,
                    outcome,
                ));
            }
        }
        events
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use harness::exec::RecordingExec;
    use std::sync::Mutex;

    fn nodes(n: u16) -> BTreeMap<NodeId, Target> {
        (1..=n)
            .map(|i| {
                (
                    NodeId::nth(i),
                    Target {
                        ns: format!("fl-t-n{i}"),
                        addr: harness::cluster::addr::node_addr(0, i),
                    },
                )
            })
            .collect()
    }

    #[derive(Default)]
    struct FakeProcs(Mutex<Vec<String>>);
    impl Processes for FakeProcs {
        fn kill(&self, n: NodeId) -> Result<(), String> {
            self.0.lock().unwrap().push(format!("kill {n}"));
            Ok(())
        }
        fn start(&self, n: NodeId) -> Result<(), String> {
            self.0.lock().unwrap().push(format!("start {n}"));
            Ok(())
        }
        fn pause(&self, n: NodeId) -> Result<(), String> {
            Err(format!("cannot pause {n}"))
        }
        fn resume(&self, n: NodeId) -> Result<(), String> {
            self.0.lock().unwrap().push(format!("resume {n}"));
            Ok(())
        }
    }

    #[test]
    fn partition_installs_then_heals_only_changed_nodes() {
        let exec = Arc::new(RecordingExec::new());
        let mut nem = Nemesis::new(exec.clone(), nodes(3), 1);
        let g = grudge::isolate(&nem.node_ids(), NodeId::nth(3));
        let e = nem.start(&Fault::Grudge { grudge: g });
        assert_eq!(e.outcome, FaultOutcome::Installed);
        assert_eq!(e.f(), "start-partition");
        assert_eq!(exec.commands().len(), 3);
        exec.clear();
        let e = nem.stop(FaultKind::Partition);
        assert_eq!(e.f(), "stop-partition");
        assert_eq!(e.nodes.len(), 3);
        assert_eq!(exec.commands().len(), 3, "all three had rules");
        exec.clear();
        assert!(nem.heal_all().is_empty(), "nothing active");
        assert!(exec.commands().is_empty());
    }

    #[test]
    fn failing_iptables_is_indeterminate_and_retried() {
        let exec = Arc::new(RecordingExec::new());
        exec.respond(
            &["iptables-restore"],
            harness::exec::Output {
                code: Some(4),
                stdout: vec![],
                stderr: b"lock".to_vec(),
            },
        );
        let mut nem = Nemesis::new(exec.clone(), nodes(2), 1);
        let e = nem.start(&Fault::Partition {
            kind: PartitionKind::One,
        });
        assert!(
            matches!(e.outcome, FaultOutcome::Indeterminate(ref r) if r.contains("lock")),
            "{e}"
        );
    }

    #[test]
    fn kill_and_restart_through_processes() {
        let procs = Arc::new(FakeProcs::default());
        let mut nem =
            Nemesis::new(Arc::new(RecordingExec::new()), nodes(5), 3).with_processes(procs.clone());
        let e = nem.start(&Fault::Kill {
            nodes: NodeSpec::Minority,
        });
        assert_eq!(e.nodes.len(), 2);
        assert_eq!(e.outcome, FaultOutcome::Installed);
        assert_eq!(nem.active(), vec![FaultKind::Kill]);
        let stop = nem.stop(FaultKind::Kill);
        assert_eq!(stop.nodes, e.nodes);
        let log = procs.0.lock().unwrap().clone();
        assert_eq!(log.len(), 4);
        assert!(log[2].starts_with("start"));
        let e = nem.start(&Fault::Pause {
            nodes: NodeSpec::One,
        });
        assert!(matches!(e.outcome, FaultOutcome::Indeterminate(_)));
    }

    #[test]
    fn without_process_control_or_leaders_faults_are_skipped() {
        let mut nem = Nemesis::new(Arc::new(RecordingExec::new()), nodes(3), 3);
        let e = nem.start(&Fault::Kill {
            nodes: NodeSpec::One,
        });
        assert!(matches!(e.outcome, FaultOutcome::Skipped(_)), "{e}");
        let e = nem.start(&Fault::Partition {
            kind: PartitionKind::Primaries,
        });
        assert!(matches!(e.outcome, FaultOutcome::Skipped(_)), "{e}");
        let mut nem = nem.with_leaders(Arc::new(|| [NodeId::nth(2)].into_iter().collect()));
        let e = nem.start(&Fault::Partition {
            kind: PartitionKind::Primaries,
        });
        assert_eq!(e.outcome, FaultOutcome::Installed);
        assert_eq!(e.grudge.unwrap()["n2"].len(), 2);
    }

    #[test]
    fn loss_and_partition_compose_and_heal_separately() {
        let exec = Arc::new(RecordingExec::new());
        let mut nem = Nemesis::new(exec.clone(), nodes(3), 1);
        nem.start(&Fault::Loss {
            p: 0.5,
            nodes: NodeSpec::Nodes([NodeId::nth(1)].into_iter().collect()),
        });
        nem.start(&Fault::Partition {
            kind: PartitionKind::Halves,
        });
        exec.clear();
        nem.stop(FaultKind::Partition);
        let n1 = exec
            .commands()
            .into_iter()
            .find(|c| c.get_netns() == Some("fl-t-n1"))
            .expect("n1 changed");
        let rules = String::from_utf8_lossy(n1.get_stdin().unwrap()).into_owned();
        assert!(
            rules.contains("statistic"),
            "loss survives the partition heal: {rules}"
        );
        assert!(
            !rules.contains("-j DROP\n-A OUTPUT -d 198.18.0.2/32 -j DROP"),
            "{rules}"
        );
        let bad = nem.start(&Fault::Loss {
            p: 1.5,
            nodes: NodeSpec::All,
        });
        assert!(matches!(bad.outcome, FaultOutcome::Skipped(_)));
        assert_eq!(nem.heal_all().len(), 1);
        assert!(nem.active().is_empty());
    }
}
