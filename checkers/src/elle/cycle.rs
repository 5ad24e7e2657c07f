//! [`CycleKind`]: the class of a dependency cycle — which data edges it needs
//! ([`CycleClass`], Adya's phenomena) and whether it also needs process or real-time
//! order ([`Variant`]).
//!
//! | class           | edges of the cycle                                   |
//! |-----------------|------------------------------------------------------|
//! | `G0`            | ww only (write cycle)                                |
//! | `G1c`           | ww and wr, at least one wr (circular information flow) |
//! | `G-single`      | exactly one rw, the rest ww/wr (read skew)           |
//! | `G-nonadjacent` | two or more rw, no two of them adjacent              |
//! | `G2-item`       | two or more rw, some adjacent (write skew)           |
//!
//! `-process` adds process edges (at least one), `-realtime` real-time edges (at least
//! one). A cycle is classified by the edges it actually uses ([`CycleKind::of`]).
//!
//! References: Adya, "Weak Consistency" §4 (G0, G1c, G-single, G2-item); Kingsbury &
//! Alvaro, "Elle" §5 and Elle's `elle.txn/cycle-explainer` (G-nonadjacent, variants).

use std::fmt;

use super::Rel;

/// The data-dependency shape of a cycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CycleClass {
    G0,
    G1c,
    GSingle,
    GNonadjacent,
    G2Item,
}

impl CycleClass {
    /// From most to least severe.
    pub const ALL: [CycleClass; 5] = [
        CycleClass::G0,
        CycleClass::G1c,
        CycleClass::GSingle,
        CycleClass::GNonadjacent,
        CycleClass::G2Item,
    ];

    pub fn name(self) -> &'static str {
        match self {
            CycleClass::G0 => "G0",
            CycleClass::G1c => "G1c",
            CycleClass::GSingle => "G-single",
            CycleClass::GNonadjacent => "G-nonadjacent",
            CycleClass::G2Item => "G2-item",
        }
    }

    /// What the class means, for reports.
    pub fn meaning(self) -> &'static str {
        match self {
            CycleClass::G0 => "a write cycle: appends ordered both ways",
            CycleClass::G1c => {
                "circular information flow: each transaction saw the next one's writes"
            }
            CycleClass::GSingle => "read skew: one transaction missed a write the others depend on",
            CycleClass::GNonadjacent => "anti-dependencies that no snapshot order explains",
            CycleClass::G2Item => "write skew: transactions each missed the other's write",
        }
    }
}

/// Which non-data edges a cycle needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Variant {
    /// Data edges only.
    None,
    /// At least one process edge (no real-time edge).
    Process,
    /// At least one real-time edge.
    Realtime,
}

impl Variant {
    pub const ALL: [Variant; 3] = [Variant::None, Variant::Process, Variant::Realtime];

    fn suffix(self) -> &'static str {
        match self {
            Variant::None => "",
            Variant::Process => "-process",
            Variant::Realtime => "-realtime",
        }
    }
}

/// A class of cycle, e.g. `G-single-realtime`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CycleKind {
    pub class: CycleClass,
    pub variant: Variant,
}

impl CycleKind {
    pub const fn new(class: CycleClass, variant: Variant) -> CycleKind {
        CycleKind { class, variant }
    }

    /// Every kind, data-only first, then process, then real-time variants, each from
    /// most to least severe (the order the search tries them in).
    pub fn all() -> impl Iterator<Item = CycleKind> {
        Variant::ALL.into_iter().flat_map(|v| {
            CycleClass::ALL
                .into_iter()
                .map(move |c| CycleKind::new(c, v))
        })
    }

    /// Elle's name, e.g. `"G-single-realtime"`.
    pub fn name(self) -> String {
        format!("{}{}", self.class.name(), self.variant.suffix())
    }

    /// Classifies a cycle by the kinds of its edges, in order (the last edge returns to
    /// the first transaction).
    pub fn of(rels: &[Rel]) -> CycleKind {
        let count = |r: Rel| rels.iter().filter(|&&x| x == r).count();
        let rw = count(Rel::Rw);
        let adjacent =
            (0..rels.len()).any(|i| rels[i] == Rel::Rw && rels[(i + 1) % rels.len()] == Rel::Rw);
        let class = match rw {
            1 => CycleClass::GSingle,
            0 if count(Rel::Wr) > 0 => CycleClass::G1c,
            0 => CycleClass::G0,
            _ if adjacent => CycleClass::G2Item,
            _ => CycleClass::GNonadjacent,
        };
        let variant = if count(Rel::Realtime) > 0 {
            Variant::Realtime
        } else if count(Rel::Process) > 0 {
            Variant::Process
        } else {
            Variant::None
        };
        CycleKind { class, variant }
    }
}

impl fmt::Display for CycleKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.class.name())?;
        f.write_str(self.variant.suffix())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Rel::*;

    #[test]
    fn classifies_by_the_edges_used() {
        assert_eq!(CycleKind::of(&[Ww, Ww]).name(), "G0");
        assert_eq!(CycleKind::of(&[Ww, Wr]).name(), "G1c");
        assert_eq!(CycleKind::of(&[Rw, Wr]).name(), "G-single");
        assert_eq!(CycleKind::of(&[Rw, Rw]).name(), "G2-item");
        // The last edge is adjacent to the first.
        assert_eq!(CycleKind::of(&[Rw, Wr, Rw]).name(), "G2-item");
        assert_eq!(CycleKind::of(&[Rw, Wr, Rw, Ww]).name(), "G-nonadjacent");
        assert_eq!(CycleKind::of(&[Ww, Process]).name(), "G0-process");
        assert_eq!(
            CycleKind::of(&[Rw, Process, Realtime]).name(),
            "G-single-realtime"
        );
        assert_eq!(CycleKind::all().count(), 15);
        assert_eq!(CycleKind::all().next().unwrap().name(), "G0");
    }
}
