//! The nemesis: turns fault steps into packet filters and signals on a run's nodes,
//! through the node runtime, and records each as a [`FaultEvent`].
//!
//! ```text
//! Step ──► Nemesis::invoke ──┬─ partition / loss ──► FilterTable per node ──► Runtime::apply_filter
//!                            └─ kill / pause ──────► Runtime::signal / start (the service's group)
//!                            ──► FaultEvent (phase, kind, spec, nodes, grudge, outcome)
//! ```
//!
//! Invariants: the nemesis remembers every active fault (grudge, lossy nodes, killed
//! and paused nodes), so each stop heals exactly what its start did and
//! [`Nemesis::heal_all`] leaves the nodes fault-free; random choices come from a
//! ChaCha rng seeded from the run's seed; filters only name node addresses and the
//! runtime exempts the controller, so clients are never cut off. Runtime errors are
//! outcomes (`Indeterminate`, `Skipped`), never harness errors.
//! References: Jepsen `jepsen.nemesis.combined` (`db-nodes`, partition specs).

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;
use std::sync::Arc;

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use runtime::{FilterTable, NodeId, Runtime, RuntimeError};

use crate::fault::{Fault, FaultEvent, FaultKind, FaultOutcome, FaultPhase};
use crate::grudge::{self, Grudge, PartitionKind};
use crate::iptables;
use crate::schedule::Step;
use crate::spec::NodeSpec;

/// Something that starts and stops faults: what the schedule drives.
pub trait FaultInjector: Send {
    fn invoke(&mut self, step: &Step) -> FaultEvent;
    /// Stops every active fault; one event per healed family.
    fn heal_all(&mut self) -> Vec<FaultEvent>;
}

/// The current leaders, as the target sees them (for `primaries`).
pub type LeaderQuery = Arc<dyn Fn() -> BTreeSet<NodeId> + Send + Sync>;

/// The network faults in force, as data (so a stateless CLI can persist and restore
/// them between invocations).
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct NetFaults {
    pub partition: Option<Grudge>,
    pub loss: BTreeMap<NodeId, f64>,
}

pub struct Nemesis {
    rt: Arc<dyn Runtime>,
    /// The system's nodes: every spec but the candidates' picks among these.
    addrs: BTreeMap<NodeId, Ipv4Addr>,
    /// The run's service nodes (election candidates): `leader-candidate` and
    /// `candidate` pick among these, and partitions may cut them off.
    services: BTreeMap<NodeId, Ipv4Addr>,
    leaders: Option<LeaderQuery>,
    rng: ChaCha8Rng,
    partition: Option<Grudge>,
    loss: BTreeMap<NodeId, f64>,
    killed: BTreeSet<NodeId>,
    paused: BTreeSet<NodeId>,
    /// The table each node holds now, as far as we know (absent: unknown).
    applied: BTreeMap<NodeId, FilterTable>,
}

impl Nemesis {
    /// A nemesis over a run's nodes. `seed` drives every random choice.
    pub fn new(rt: Arc<dyn Runtime>, seed: u64) -> Self {
        let addrs = rt.nodes().into_iter().map(|n| (n.id, n.addr)).collect();
        let services = rt
            .service_nodes()
            .into_iter()
            .map(|n| (n.id, n.addr))
            .collect();
        Nemesis {
            rt,
            addrs,
            services,
            leaders: None,
            rng: ChaCha8Rng::seed_from_u64(seed),
            partition: None,
            loss: BTreeMap::new(),
            killed: BTreeSet::new(),
            paused: BTreeSet::new(),
            applied: BTreeMap::new(),
        }
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
        self.addrs.keys().copied().collect()
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

    /// The nodes a spec means now (seeded rng; the leader query for `primaries` and
    /// `leader-candidate`).
    pub fn resolve(&mut self, spec: &NodeSpec) -> BTreeSet<NodeId> {
        let nodes = self.node_ids();
        let services: Vec<NodeId> = self.services.keys().copied().collect();
        let leaders = self.leaders.clone();
        spec.resolve(&nodes, &services, &mut self.rng, move || {
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
        if kind == PartitionKind::LeaderCandidate {
            let leading = self.resolve(&NodeSpec::LeaderCandidate);
            return grudge::cut_off(&order, &leading);
        }
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
            grudge: grudge.map(|g| g.names(&self.grudge_nodes(&g))),
            outcome,
        };
        tracing::info!(target: "nemesis", "{e}");
        e
    }

    /// The nodes a grudge is recorded over: the system's, and the service nodes it
    /// touches (a run's history does not list every idle candidate).
    fn grudge_nodes(&self, g: &Grudge) -> Vec<NodeId> {
        let touched = g.affected();
        self.addrs
            .keys()
            .copied()
            .chain(
                self.services
                    .keys()
                    .copied()
                    .filter(|n| touched.contains(n)),
            )
            .collect()
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

    /// Computes every node's table for the current faults and installs what changed,
    /// on all nodes at once.
    fn apply_filters(&mut self) -> FaultOutcome {
        let grudge = self.partition.clone().unwrap_or_default();
        let all: BTreeMap<NodeId, Ipv4Addr> = self
            .addrs
            .iter()
            .chain(&self.services)
            .map(|(n, a)| (*n, *a))
            .collect();
        let tables = iptables::filters(&grudge, &self.loss, &all);
        let work: Vec<(NodeId, FilterTable)> = tables
            .into_iter()
            // A service node that was never filtered needs no empty table.
            .filter(|(node, t)| {
                let never = self.services.contains_key(node) && !self.applied.contains_key(node);
                self.applied.get(node) != Some(t) && !(never && t.is_empty())
            })
            .collect();
        let rt = &self.rt;
        let results: Vec<(NodeId, FilterTable, Result<(), RuntimeError>)> =
            std::thread::scope(|s| {
                let handles: Vec<_> = work
                    .into_iter()
                    .map(|(node, table)| {
                        s.spawn(move || {
                            let r = rt.apply_filter(node, &table);
                            (node, table, r)
                        })
                    })
                    .collect();
                handles
                    .into_iter()
                    .map(|h| h.join().expect("a filter thread does not panic"))
                    .collect()
            });
        let mut failures = Vec::new();
        for (node, table, result) in results {
            match result {
                Ok(()) => {
                    self.applied.insert(node, table);
                }
                Err(e) => {
                    self.applied.remove(&node);
                    failures.push(e.to_string());
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
        let starting = phase == FaultPhase::Start;
        if targets.is_empty() {
            let why = if starting {
                format!("no node matches {spec}")
            } else if kind == FaultKind::Kill {
                "no node to restart".to_string()
            } else {
                "no node to resume".to_string()
            };
            return (Vec::new(), FaultOutcome::Skipped(why));
        }
        let mut failures = Vec::new();
        if kind == FaultKind::Kill && starting && targets.len() > 1 {
            // Several nodes die at one moment, as in a power cut, not one after
            // another: a kill waits for its process group to be gone (tens of ms each),
            // and in that time the nodes not yet killed would write what the first
            // could not (a late fsync). Freezing them all first stops every write at
            // once; a node that is not running cannot be frozen, which the kill below
            // reports.
            for node in &targets {
                let _ = self.rt.pause(*node);
            }
        }
        for node in &targets {
            let result = match (kind, starting) {
                (FaultKind::Kill, true) => self.rt.kill(*node).map(|_| ()),
                (FaultKind::Kill, false) => match self.rt.start(*node) {
                    Ok(_) | Err(RuntimeError::AlreadyRunning { .. }) => Ok(()),
                    Err(e) => Err(e),
                },
                (FaultKind::Pause, true) => self.rt.pause(*node),
                (FaultKind::Pause, false) => self.rt.resume(*node),
                _ => unreachable!("signal_all is only called for kill and pause"),
            };
            let set = if kind == FaultKind::Kill {
                &mut self.killed
            } else {
                &mut self.paused
            };
            match result {
                Ok(()) if starting => {
                    set.insert(*node);
                }
                Ok(()) => {
                    set.remove(node);
                }
                Err(e) => failures.push(e.to_string()),
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
        if self.applied.values().any(|t| !t.is_empty()) {
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
    use runtime::exec::Output;
    use runtime::fake::{Action, RecordingRuntime};
    use runtime::{ServiceSpec, ServiceState, Signal};

    fn fake(n: u16) -> Arc<RecordingRuntime> {
        Arc::new(RecordingRuntime::new(n))
    }

    #[test]
    fn a_partition_installs_exact_tables_then_heals_only_changed_nodes() {
        let rt = fake(3);
        let mut nem = Nemesis::new(rt.clone(), 1);
        let g = grudge::isolate(&nem.node_ids(), NodeId::nth(3));
        let e = nem.start(&Fault::Grudge { grudge: g });
        assert_eq!(e.outcome, FaultOutcome::Installed);
        assert_eq!(e.f(), "start-partition");
        assert_eq!(e.describe(), "partition {n1,n2} | {n3}");
        let mut cmds = rt.commands();
        cmds.sort();
        assert_eq!(
            cmds,
            [
                "n1: iptables -w 5 -C INPUT -j FAULTLINE",
                "n1: iptables -w 5 -C OUTPUT -j FAULTLINE",
                "n1: iptables-restore -w 5 --noflush",
                "n2: iptables -w 5 -C INPUT -j FAULTLINE",
                "n2: iptables -w 5 -C OUTPUT -j FAULTLINE",
                "n2: iptables-restore -w 5 --noflush",
                "n3: iptables -w 5 -C INPUT -j FAULTLINE",
                "n3: iptables -w 5 -C OUTPUT -j FAULTLINE",
                "n3: iptables-restore -w 5 --noflush",
            ]
        );
        let tables = rt.filter_tables();
        assert_eq!(
            tables[&NodeId::nth(3)],
            "*filter\n:FAULTLINE - [0:0]\n\
             -A FAULTLINE -s 198.18.0.254/32 -j RETURN\n\
             -A FAULTLINE -d 198.18.0.254/32 -j RETURN\n\
             -A FAULTLINE -s 198.18.0.1/32 -j DROP\n\
             -A FAULTLINE -s 198.18.0.2/32 -j DROP\n\
             -A FAULTLINE -d 198.18.0.1/32 -j DROP\n\
             -A FAULTLINE -d 198.18.0.2/32 -j DROP\n\
             COMMIT\n"
        );
        rt.clear();
        let e = nem.stop(FaultKind::Partition);
        assert_eq!(e.f(), "stop-partition");
        assert_eq!(e.nodes.len(), 3);
        assert_eq!(
            rt.filter_tables().values().collect::<Vec<_>>(),
            vec!["*filter\n:FAULTLINE - [0:0]\nCOMMIT\n"; 3],
            "the heal empties our chain and nothing else"
        );
        rt.clear();
        assert!(nem.heal_all().is_empty(), "nothing active");
        assert!(rt.actions().is_empty());
    }

    #[test]
    fn failing_iptables_is_indeterminate_and_retried() {
        let rt = fake(2);
        rt.respond(
            &["iptables-restore"],
            Output {
                code: Some(4),
                stdout: vec![],
                stderr: b"lock".to_vec(),
            },
        );
        let mut nem = Nemesis::new(rt.clone(), 1);
        let e = nem.start(&Fault::Partition {
            kind: PartitionKind::One,
        });
        assert!(
            matches!(e.outcome, FaultOutcome::Indeterminate(ref r) if r.contains("lock")),
            "{e}"
        );
        rt.respond(&["iptables-restore"], Output::ok());
        rt.clear();
        nem.stop(FaultKind::Partition);
        assert_eq!(rt.filter_tables().len(), 2, "both nodes are written again");
    }

    #[test]
    fn kill_and_restart_through_the_runtime() {
        let rt = fake(5);
        for n in rt.node_ids() {
            rt.start_service(n, ServiceSpec::new(["prog"], "/d", "/d/log"))
                .unwrap();
        }
        rt.clear();
        let mut nem = Nemesis::new(rt.clone(), 3);
        let e = nem.start(&Fault::Kill {
            nodes: NodeSpec::Minority,
        });
        assert_eq!(e.nodes.len(), 2);
        assert_eq!(e.outcome, FaultOutcome::Installed);
        assert_eq!(nem.active(), vec![FaultKind::Kill]);
        let stop = nem.stop(FaultKind::Kill);
        assert_eq!(stop.nodes, e.nodes);
        let actions = rt.actions();
        assert_eq!(actions.len(), 6);
        // Both nodes are frozen before either is killed: they stop at one moment.
        let signals: Vec<Signal> = actions[..4]
            .iter()
            .map(|a| match a {
                Action::Signal { signal, .. } => *signal,
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(
            signals,
            [Signal::Stop, Signal::Stop, Signal::Kill, Signal::Kill]
        );
        assert!(matches!(actions[4], Action::Start { .. }));
        // A single node is killed at once.
        rt.clear();
        nem.start(&Fault::Kill {
            nodes: NodeSpec::One,
        });
        nem.stop(FaultKind::Kill);
        assert!(matches!(
            rt.actions()[0],
            Action::Signal {
                signal: Signal::Kill,
                ..
            }
        ));
        assert!(rt.node_ids().iter().all(|n| rt.is_running(*n)));
        // Pausing a node whose service is not running cannot be done.
        rt.kill(NodeId::nth(1)).unwrap();
        let e = nem.start(&Fault::Pause {
            nodes: NodeSpec::Nodes([NodeId::nth(1)].into_iter().collect()),
        });
        assert!(matches!(e.outcome, FaultOutcome::Indeterminate(_)), "{e}");
    }

    #[test]
    fn without_leaders_primaries_are_skipped() {
        let rt = fake(3);
        let mut nem = Nemesis::new(rt.clone(), 3);
        let e = nem.start(&Fault::Kill {
            nodes: NodeSpec::Primaries,
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
    fn candidate_faults_hit_the_leading_candidates_and_heal() {
        // n1..n3 run the system (n2 leads it); n4..n6 are candidates, n5 leads.
        let rt = Arc::new(RecordingRuntime::new(3).with_service_nodes(3));
        for n in (1..=6).map(NodeId::nth) {
            rt.start_service(n, ServiceSpec::new(["prog"], "/d", "/d/log"))
                .unwrap();
        }
        rt.clear();
        let leading: LeaderQuery = Arc::new(|| [2, 5].into_iter().map(NodeId::nth).collect());
        let mut nem = Nemesis::new(rt.clone(), 1).with_leaders(leading);

        let e = nem.start(&Fault::Pause {
            nodes: NodeSpec::LeaderCandidate,
        });
        assert_eq!(
            (e.nodes.clone(), e.outcome.clone()),
            (vec!["n5".to_string()], FaultOutcome::Installed)
        );
        assert_eq!(
            rt.service_state(NodeId::nth(5)).unwrap(),
            ServiceState::Paused
        );
        assert_eq!(
            rt.service_state(NodeId::nth(2)).unwrap(),
            ServiceState::Running
        );
        nem.stop(FaultKind::Pause);
        assert_eq!(
            rt.service_state(NodeId::nth(5)).unwrap(),
            ServiceState::Running
        );

        let e = nem.start(&Fault::Kill {
            nodes: NodeSpec::Candidate,
        });
        let killed: NodeId = e.nodes[0].parse().unwrap();
        assert!(killed.index() > 3, "a candidate, not a system node: {e}");
        assert!(!rt.is_running(killed));
        nem.stop(FaultKind::Kill);
        assert!(rt.is_running(killed), "restarted");

        rt.clear();
        let e = nem.start(&Fault::Partition {
            kind: PartitionKind::LeaderCandidate,
        });
        assert_eq!(e.outcome, FaultOutcome::Installed);
        let g = e.grudge.clone().unwrap();
        assert_eq!(g["n5"].len(), 3, "cut off from every system node: {g:?}");
        assert!(!g.contains_key("n4"), "idle candidates are not listed");
        let tables = rt.filter_tables();
        assert!(tables[&NodeId::nth(5)].contains("-s 198.18.0.2/32 -j DROP"));
        assert!(tables[&NodeId::nth(1)].contains("-s 198.18.0.5/32 -j DROP"));
        assert!(
            !tables.contains_key(&NodeId::nth(4)),
            "untouched candidates get no table"
        );
        assert!(!tables[&NodeId::nth(5)].contains("198.18.0.254/32 -j DROP"));
        rt.clear();
        nem.stop(FaultKind::Partition);
        let healed = rt.filter_tables();
        assert_eq!(
            healed[&NodeId::nth(5)],
            "*filter\n:FAULTLINE - [0:0]\nCOMMIT\n"
        );
        // Without candidates the candidate faults find nothing.
        let mut plain = Nemesis::new(fake(3), 1);
        let e = plain.start(&Fault::Pause {
            nodes: NodeSpec::LeaderCandidate,
        });
        assert!(matches!(e.outcome, FaultOutcome::Skipped(_)), "{e}");
    }

    #[test]
    fn loss_and_partition_compose_and_heal_separately() {
        let rt = fake(3);
        let mut nem = Nemesis::new(rt.clone(), 1);
        nem.start(&Fault::Loss {
            p: 0.5,
            nodes: NodeSpec::Nodes([NodeId::nth(1)].into_iter().collect()),
        });
        nem.start(&Fault::Partition {
            kind: PartitionKind::Halves,
        });
        rt.clear();
        nem.stop(FaultKind::Partition);
        let rules = rt.filter_tables()[&NodeId::nth(1)].clone();
        assert!(
            rules.contains("statistic"),
            "loss survives the partition heal: {rules}"
        );
        assert!(!rules.contains("-d 198.18.0.2/32 -j DROP"), "{rules}");
        let bad = nem.start(&Fault::Loss {
            p: 1.5,
            nodes: NodeSpec::All,
        });
        assert!(matches!(bad.outcome, FaultOutcome::Skipped(_)));
        assert_eq!(nem.heal_all().len(), 1);
        assert!(nem.active().is_empty());
    }
}
