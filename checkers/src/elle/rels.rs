//! [`Rel`] and [`Rels`]: the kinds of dependency edge between two transactions.
//!
//! Adya's direct dependencies (write-write `ww`, write-read `wr`, read-write
//! anti-dependency `rw`) come from the data; `process` and `realtime` come from when
//! and where the transactions ran. An edge of the dependency graph carries one
//! [`Rel`]; a cycle class allows a set of them, a [`Rels`].
//!
//! Reference: Adya, "Weak Consistency" (1999), §3.1 (direct dependencies); Kingsbury &
//! Alvaro, "Elle" (VLDB 2020), §4.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Why one transaction must precede another.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Rel {
    /// T1 appended the value right before T2's append to the same key.
    Ww,
    /// T2 read a list whose last value T1 appended.
    Wr,
    /// T1 read a version that T2's append overwrote (an anti-dependency).
    Rw,
    /// The same process ran T1, then T2.
    Process,
    /// T1 completed before T2 was invoked.
    Realtime,
}

impl Rel {
    /// Every kind, in the order reports list them.
    pub const ALL: [Rel; 5] = [Rel::Ww, Rel::Wr, Rel::Rw, Rel::Process, Rel::Realtime];

    /// The short label drawn on an edge: `ww`, `wr`, `rw`, `process`, `realtime`.
    pub fn name(self) -> &'static str {
        match self {
            Rel::Ww => "ww",
            Rel::Wr => "wr",
            Rel::Rw => "rw",
            Rel::Process => "process",
            Rel::Realtime => "realtime",
        }
    }

    const fn bit(self) -> u8 {
        1 << self as u8
    }
}

impl fmt::Display for Rel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A set of [`Rel`]s.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Rels(u8);

impl Rels {
    pub const NONE: Rels = Rels(0);

    /// The set of these kinds.
    pub const fn of(rels: &[Rel]) -> Rels {
        let mut bits = 0;
        let mut i = 0;
        while i < rels.len() {
            bits |= rels[i].bit();
            i += 1;
        }
        Rels(bits)
    }

    pub const fn with(self, rel: Rel) -> Rels {
        Rels(self.0 | rel.bit())
    }

    pub const fn contains(self, rel: Rel) -> bool {
        self.0 & rel.bit() != 0
    }

    /// The raw bits, for indexing caches.
    pub(crate) const fn bits(self) -> u8 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sets_hold_what_was_put_in() {
        let s = Rels::of(&[Rel::Ww, Rel::Wr]);
        assert!(s.contains(Rel::Ww) && s.contains(Rel::Wr));
        assert!(!s.contains(Rel::Rw));
        assert!(s.with(Rel::Realtime).contains(Rel::Realtime));
        assert!(!Rels::NONE.contains(Rel::Process));
        assert_eq!(Rel::Realtime.to_string(), "realtime");
    }
}
