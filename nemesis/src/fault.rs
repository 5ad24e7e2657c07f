//! Faults to start, and the events the nemesis records for them.
//!
//! ```text
//! Step::Start(Fault) ──► Nemesis ──► FaultEvent { phase: start, kind, spec, nodes, grudge, outcome }
//! Step::Stop(kind)   ──► Nemesis ──► FaultEvent { phase: stop, kind, nodes, outcome }
//! ```
//!
//! The event type belongs to the history model (`checkers::faults`): the nemesis
//! writes it, the checkers and the report read it back, typed, with no string parsing.
//! Every fault family has a start and a stop (its heal), so a window runs from a start
//! to the next stop of its kind. An outcome is never a failure of the harness:
//! `Skipped` means nothing was done (with the reason), `Indeterminate` that some of it
//! may have happened (e.g. an iptables call timed out).

use std::fmt;

pub use checkers::faults::{FaultEvent, FaultKind, FaultOutcome, FaultPhase};
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

impl Fault {
    /// What was asked for, as the user spells it (`majority`, `primaries`, `0.2 on one`);
    /// empty for an explicit grudge, whose sides the event describes.
    pub fn spec(&self) -> String {
        match self {
            Fault::Partition { kind } => kind.to_string(),
            Fault::Grudge { .. } => String::new(),
            Fault::Kill { nodes } | Fault::Pause { nodes } => nodes.to_string(),
            Fault::Loss { p, nodes } => format!("{p} on {nodes}"),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_spell_their_spec_as_the_user_does() {
        assert_eq!(
            Fault::Partition {
                kind: PartitionKind::MajoritiesRing
            }
            .spec(),
            "majorities-ring"
        );
        assert_eq!(
            Fault::Kill {
                nodes: NodeSpec::Minority
            }
            .spec(),
            "minority"
        );
        assert_eq!(
            Fault::Loss {
                p: 0.2,
                nodes: NodeSpec::One
            }
            .spec(),
            "0.2 on one"
        );
        assert_eq!(
            Fault::Grudge {
                grudge: Grudge::default()
            }
            .spec(),
            ""
        );
    }
}
