//! [`NodeId`]: a node's name inside a run, whatever runtime the node lives in.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A node's name inside a run: `n1`, `n2`, … (a newtype so it is never confused with a
/// namespace or host name). Ordered by index, so `n2 < n10`; serialized as `"n<i>"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NodeId(u16);

impl NodeId {
    /// The `i`-th node (1-based): `n<i>`.
    pub fn nth(i: u16) -> Self {
        assert!(i >= 1, "node indices start at 1");
        NodeId(i)
    }

    /// Parses `n<i>` with `i >= 1` (no leading zeros).
    pub fn parse(s: &str) -> Option<Self> {
        let i: u16 = s.strip_prefix('n')?.parse().ok()?;
        (i >= 1 && s == format!("n{i}")).then_some(NodeId(i))
    }

    /// The 1-based index.
    pub fn index(&self) -> u16 {
        self.0
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(&format!("n{}", self.0))
    }
}

impl std::str::FromStr for NodeId {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        NodeId::parse(s).ok_or_else(|| format!("{s:?} is not a node name (n1, n2, ...)"))
    }
}

impl Serialize for NodeId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for NodeId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_ids_parse_and_order() {
        assert_eq!(NodeId::parse("n3"), Some(NodeId::nth(3)));
        assert_eq!(NodeId::parse("n0"), None);
        assert_eq!(NodeId::parse("n03"), None);
        assert_eq!(NodeId::parse("x3"), None);
        let mut v = vec![NodeId::nth(10), NodeId::nth(2)];
        v.sort();
        assert_eq!(v, vec![NodeId::nth(2), NodeId::nth(10)]);
        assert_eq!(serde_json::to_string(&NodeId::nth(4)).unwrap(), "\"n4\"");
        let back: NodeId = serde_json::from_str("\"n4\"").unwrap();
        assert_eq!(back, NodeId::nth(4));
    }
}
