//! Planted-bug switches: each protocol's own `Bug` enum, and the set a node runs with.

use std::collections::BTreeSet;

/// The switches a node runs with; empty means correct.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BugSet<B>(BTreeSet<B>);

impl<B> Default for BugSet<B> {
    fn default() -> Self {
        BugSet(BTreeSet::new())
    }
}

impl<B: Ord> BugSet<B> {
    pub fn none() -> Self {
        BugSet(BTreeSet::new())
    }

    pub fn has(&self, bug: B) -> bool {
        self.0.contains(&bug)
    }
}

impl<B: Ord> FromIterator<B> for BugSet<B> {
    fn from_iter<I: IntoIterator<Item = B>>(iter: I) -> Self {
        BugSet(iter.into_iter().collect())
    }
}
