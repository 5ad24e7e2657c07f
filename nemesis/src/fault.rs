//! Faults, their outcomes, and the nemesis events that go into the history.
//!
//! ```text
//! Step::Start(Fault) ──► Nemesis ──► Event { f: start-<kind>, targets, grudge, outcome }
//! Step::Stop(kind)   ──► Nemesis ──► Event { f: stop-<kind>, targets, outcome }
//! ```
//!
//! Every fault family has a start and a stop (its heal), so a report can draw a window
//! from `start-partition` to the next `stop-partition`. An outcome is never a failure of
//! the harness: `Skipped` means nothing was done (with the reason), `Indeterminate`
//! means some of it may have happened (e.g. an iptables call timed out).

use std::fmt;

use harness::cluster::NodeId;
use serde::{Deserialize, Serialize};

use crate::grudge::{Grudge, PartitionKind};
use crate::spec::NodeSpec;

/// A fault to start.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "type")]
pub enum Fault {
    /// A partition computed when it starts (random kinds use the nemesis's seeded rng;
    /// `primaries` asks the leader query).
    Partition { kind: PartitionKind },
    /// An explicit grudge.
    Grudge { grudge: Grudge },
    /// SIGKILL the target process on these nodes; the stop restarts them.
    Kill { nodes: NodeSpec },
    /// SIGSTOP; the stop sends SIGCONT.
    Pause { nodes: NodeSpec },
    /// Drop a random fraction `p` of node-to-node packets on these nodes.
    Loss { p: f64, nodes: NodeSpec },
}

impl Fault {
    pub fn kind(&self) -> FaultKind {
        match self {
            Fault::Partition { .. } | Fault::Grudge { .. } => FaultKind::Partition,
            Fault::Kill { .. } => FaultKind::Kill,
            Fault::Pause { .. } => FaultKind::Pause,
            Fault::Loss { .. } => FaultKind::Loss,
        }
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fault::Partition { kind } => write!(f, "partition {kind}"),
            Fault::Grudge { grudge } => write!(f, "partition {grudge}"),
            Fault::Kill { nodes } => write!(f, "kill {nodes}"),
            Fault::Pause { nodes } => write!(f, "pause {nodes}"),
            Fault::Loss { p, nodes } => write!(f, "loss {p} on {nodes}"),
        }
    }
}

/// A fault family: what a stop heals.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FaultKind {
    Partition,
    Kill,
    Pause,
    Loss,
}

impl FaultKind {
    pub const ALL: [FaultKind; 4] = [
        FaultKind::Partition,
        FaultKind::Kill,
        FaultKind::Pause,
        FaultKind::Loss,
    ];

    pub fn name(self) -> &'static str {
        match self {
            FaultKind::Partition => "partition",
            FaultKind::Kill => "kill",
            FaultKind::Pause => "pause",
            FaultKind::Loss => "loss",
        }
    }
}

impl std::str::FromStr for FaultKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        FaultKind::ALL
            .into_iter()
            .find(|k| k.name() == s)
            .ok_or_else(|| format!("unknown fault {s:?}; one of partition, kill, pause, loss"))
    }
}

impl fmt::Display for FaultKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What the nemesis achieved.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "type", content = "reason")]
pub enum Outcome {
    Installed,
    Skipped(String),
    Indeterminate(String),
}

/// Start or stop of a fault family.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Phase {
    Start,
    Stop,
}

/// One nemesis operation, as the history records it (`process: "nemesis"`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Nanoseconds since the nemesis's epoch (the run's start).
    pub time_ns: u64,
    /// `start-partition`, `stop-kill`, … (see [`Event::f`]).
    pub f: String,
    pub phase: Phase,
    pub kind: FaultKind,
    /// The fault as requested (start events only).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub fault: Option<Fault>,
    /// Nodes acted on (for partitions: every node whose rules changed).
    pub targets: Vec<NodeId>,
    /// The grudge installed (start-partition only).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub grudge: Option<Grudge>,
    pub outcome: Outcome,
}

impl Event {
    /// `start-partition`, `stop-loss`, …
    pub fn f(phase: Phase, kind: FaultKind) -> String {
        let p = match phase {
            Phase::Start => "start",
            Phase::Stop => "stop",
        };
        format!("{p}-{}", kind.name())
    }
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let targets: Vec<String> = self.targets.iter().map(NodeId::to_string).collect();
        write!(f, "{} [{}]", self.f, targets.join(","))?;
        if let Some(g) = &self.grudge {
            write!(f, " {g}")?;
        }
        match &self.outcome {
            Outcome::Installed => write!(f, ": installed"),
            Outcome::Skipped(r) => write!(f, ": skipped ({r})"),
            Outcome::Indeterminate(r) => write!(f, ": indeterminate ({r})"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_serialize_with_start_stop_names() {
        let e = Event {
            time_ns: 5,
            f: Event::f(Phase::Start, FaultKind::Kill),
            phase: Phase::Start,
            kind: FaultKind::Kill,
            fault: Some(Fault::Kill {
                nodes: NodeSpec::Minority,
            }),
            targets: vec![NodeId::nth(2)],
            grudge: None,
            outcome: Outcome::Skipped("no process control".into()),
        };
        let json = serde_json::to_string(&e).unwrap();
        assert_eq!(
            json,
            r#"{"time_ns":5,"f":"start-kill","phase":"start","kind":"kill","fault":{"type":"kill","nodes":"minority"},"targets":["n2"],"outcome":{"type":"skipped","reason":"no process control"}}"#
        );
        let back: Event = serde_json::from_str(&json).unwrap();
        assert_eq!(back, e);
        assert_eq!(
            e.to_string(),
            "start-kill [n2]: skipped (no process control)"
        );
    }
}
