//! [`ConsistencyModel`]: which anomalies each isolation level forbids, and which
//! levels a set of anomalies rules out.
//!
//! ```text
//! strict-serializable ─► serializable ─┬─► snapshot-isolation ─┬─► read-committed ─► read-uncommitted
//!                                      └─► repeatable-read ────┘
//! ```
//! (an arrow: a history satisfying the left model satisfies the right one).
//!
//! | forbidden by                 | anomalies |
//! |------------------------------|-----------|
//! | read-uncommitted and up      | G0, duplicate-elements |
//! | read-committed and up        | G1a, G1b, G1c, dirty-update, incompatible-order, future-read, garbage-read |
//! | snapshot-isolation (+ serializable) | internal, G-single, G-nonadjacent |
//! | repeatable-read (+ serializable)    | G-single, G-nonadjacent, G2-item |
//! | serializable                 | all of the above |
//! | strict-serializable          | all of the above, every `-process` and `-realtime` cycle, lost-append |
//!
//! This is Elle's table (`elle.consistency-model`: `direct-proscribed-anomalies`
//! expanded through `implied-anomalies`, restricted to these models), with one
//! correction Elle itself notes as a TODO: in a list-append history every
//! anti-dependency is an *item* anti-dependency, so a G-single or G-nonadjacent cycle
//! is also Adya's G2-item and repeatable read (PL-2.99) forbids it.
//!
//! References: Adya, "Weak Consistency" §4–5 (PL-1 … PL-3, PL-2.99, PL-SI); Berenson
//! et al. / Adya for snapshot isolation's G-SI; Kingsbury & Alvaro, "Elle" §3.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::{AnomalyKind, CycleClass, Variant};

/// An isolation level a history can be checked against.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum ConsistencyModel {
    #[default]
    StrictSerializable,
    Serializable,
    SnapshotIsolation,
    RepeatableRead,
    ReadCommitted,
    ReadUncommitted,
}

use ConsistencyModel as M;

impl ConsistencyModel {
    /// Strongest first.
    pub const ALL: [ConsistencyModel; 6] = [
        M::StrictSerializable,
        M::Serializable,
        M::SnapshotIsolation,
        M::RepeatableRead,
        M::ReadCommitted,
        M::ReadUncommitted,
    ];

    pub fn name(self) -> &'static str {
        match self {
            M::StrictSerializable => "strict-serializable",
            M::Serializable => "serializable",
            M::SnapshotIsolation => "snapshot-isolation",
            M::RepeatableRead => "repeatable-read",
            M::ReadCommitted => "read-committed",
            M::ReadUncommitted => "read-uncommitted",
        }
    }

    /// Whether every history satisfying `self` also satisfies `other` (reflexive).
    pub fn implies(self, other: ConsistencyModel) -> bool {
        let rank = |m| match m {
            M::StrictSerializable => 0,
            M::Serializable => 1,
            M::SnapshotIsolation | M::RepeatableRead => 2,
            M::ReadCommitted => 3,
            M::ReadUncommitted => 4,
        };
        self == other
            || (rank(self) < rank(other)
                && !matches!(
                    (self, other),
                    (M::SnapshotIsolation, M::RepeatableRead)
                        | (M::RepeatableRead, M::SnapshotIsolation)
                ))
    }

    /// Whether a history with an anomaly of this kind violates the model.
    pub fn forbids(self, kind: AnomalyKind) -> bool {
        use AnomalyKind as A;
        let at_least = |weakest: &[ConsistencyModel]| weakest.iter().any(|&w| self.implies(w));
        match kind {
            A::Cycle(c) if c.variant != Variant::None => self == M::StrictSerializable,
            A::LostAppend => self == M::StrictSerializable,
            A::Cycle(c) => match c.class {
                CycleClass::G0 => true,
                CycleClass::G1c => at_least(&[M::ReadCommitted]),
                CycleClass::GSingle | CycleClass::GNonadjacent => {
                    at_least(&[M::SnapshotIsolation, M::RepeatableRead])
                }
                CycleClass::G2Item => at_least(&[M::RepeatableRead]),
            },
            A::DuplicateElements => true,
            A::G1a
            | A::G1b
            | A::DirtyUpdate
            | A::IncompatibleOrder
            | A::FutureRead
            | A::GarbageRead => at_least(&[M::ReadCommitted]),
            A::Internal => at_least(&[M::SnapshotIsolation]),
        }
    }

    /// Every anomaly kind this model forbids.
    pub fn forbidden(self) -> Vec<AnomalyKind> {
        AnomalyKind::all().filter(|&k| self.forbids(k)).collect()
    }
}

impl fmt::Display for ConsistencyModel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for ConsistencyModel {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        M::ALL.into_iter().find(|m| m.name() == s).ok_or_else(|| {
            format!(
                "unknown consistency model {s:?}; expected one of {}",
                M::ALL.map(M::name).join(", ")
            )
        })
    }
}

/// What a set of anomalies says about the models.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Boundary {
    /// The weakest models ruled out (Elle's `:not`).
    pub not: Vec<ConsistencyModel>,
    /// The stronger models also ruled out.
    pub also_not: Vec<ConsistencyModel>,
    /// The strongest models not ruled out.
    pub satisfies: Vec<ConsistencyModel>,
}

impl Boundary {
    pub fn of(found: impl IntoIterator<Item = AnomalyKind> + Clone) -> Boundary {
        let ruled_out: Vec<M> = M::ALL
            .into_iter()
            .filter(|m| found.clone().into_iter().any(|k| m.forbids(k)))
            .collect();
        let possible: Vec<M> = M::ALL
            .into_iter()
            .filter(|m| !ruled_out.contains(m))
            .collect();
        let not: Vec<M> = ruled_out
            .iter()
            .copied()
            .filter(|&m| !ruled_out.iter().any(|&w| w != m && m.implies(w)))
            .collect();
        Boundary {
            also_not: ruled_out
                .iter()
                .copied()
                .filter(|m| !not.contains(m))
                .collect(),
            not,
            satisfies: possible
                .iter()
                .copied()
                .filter(|&m| !possible.iter().any(|&s| s != m && s.implies(m)))
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use AnomalyKind as A;

    #[test]
    fn the_lattice() {
        assert!(M::StrictSerializable.implies(M::ReadUncommitted));
        assert!(M::Serializable.implies(M::RepeatableRead));
        assert!(!M::SnapshotIsolation.implies(M::RepeatableRead));
        assert!(!M::ReadCommitted.implies(M::Serializable));
        assert_eq!(
            "snapshot-isolation".parse::<M>().unwrap(),
            M::SnapshotIsolation
        );
        assert!("linearizable".parse::<M>().is_err());
    }

    #[test]
    fn forbidden_anomalies_follow_elle() {
        let g = |c, v| A::cycle(c, v);
        use CycleClass::*;
        use Variant as V;
        assert!(M::ReadUncommitted.forbids(g(G0, V::None)));
        assert!(!M::ReadUncommitted.forbids(A::G1a));
        assert!(M::ReadCommitted.forbids(g(G1c, V::None)));
        assert!(!M::ReadCommitted.forbids(g(GSingle, V::None)));
        assert!(!M::ReadCommitted.forbids(A::Internal));
        assert!(M::SnapshotIsolation.forbids(g(GSingle, V::None)));
        assert!(M::SnapshotIsolation.forbids(g(GNonadjacent, V::None)));
        assert!(!M::SnapshotIsolation.forbids(g(G2Item, V::None)));
        assert!(M::RepeatableRead.forbids(g(G2Item, V::None)));
        assert!(M::RepeatableRead.forbids(g(GSingle, V::None)));
        assert!(!M::RepeatableRead.forbids(A::Internal));
        assert!(M::Serializable.forbids(g(G2Item, V::None)));
        assert!(!M::Serializable.forbids(g(GSingle, V::Realtime)));
        assert!(!M::Serializable.forbids(A::LostAppend));
        assert!(M::StrictSerializable.forbids(g(G0, V::Process)));
        assert!(M::StrictSerializable.forbids(A::LostAppend));
        // Stronger models forbid at least what weaker ones do.
        for k in AnomalyKind::all() {
            for a in M::ALL {
                for b in M::ALL {
                    if a.implies(b) && b.forbids(k) {
                        assert!(a.forbids(k), "{a} ⇒ {b} but only {b} forbids {k}");
                    }
                }
            }
        }
    }

    #[test]
    fn boundaries() {
        let b = Boundary::of([A::cycle(CycleClass::G2Item, Variant::None)]);
        assert_eq!(b.not, vec![M::RepeatableRead]);
        assert_eq!(b.also_not, vec![M::StrictSerializable, M::Serializable]);
        assert_eq!(b.satisfies, vec![M::SnapshotIsolation]);
        let b = Boundary::of([A::cycle(CycleClass::GSingle, Variant::Realtime)]);
        assert_eq!(b.not, vec![M::StrictSerializable]);
        assert_eq!(b.satisfies, vec![M::Serializable]);
        let b = Boundary::of(Vec::<AnomalyKind>::new());
        assert!(b.not.is_empty());
        assert_eq!(b.satisfies, vec![M::StrictSerializable]);
        let b = Boundary::of([A::cycle(CycleClass::G0, Variant::None)]);
        assert_eq!(b.not, vec![M::ReadUncommitted]);
        assert!(b.satisfies.is_empty());
        let b = Boundary::of([A::cycle(CycleClass::GSingle, Variant::None)]);
        assert_eq!(b.not, vec![M::SnapshotIsolation, M::RepeatableRead]);
        assert_eq!(b.satisfies, vec![M::ReadCommitted]);
    }
}
