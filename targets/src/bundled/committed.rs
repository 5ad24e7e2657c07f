//! A node's committed log as it reports it for the replica-agreement check: one
//! `(position, digest)` per committed entry, where the digest covers the whole entry
//! (its term or zxid and its payload), so two nodes holding different entries at one
//! position report different digests.

use serde::{Deserialize, Serialize};

use super::types::Position;

/// One committed entry as reported by `GET /committed`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommittedEntry {
    pub position: Position,
    /// 16 hex digits of FNV-1a (64 bit) over the entry's JSON encoding.
    pub digest: String,
}

/// The answer of `GET /committed?from=P`: the committed entries at positions >= `P`, in
/// log order.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommittedLog {
    pub entries: Vec<CommittedEntry>,
}

/// The digest of one entry. Deterministic: JSON field order is the declaration order.
pub fn digest<T: Serialize>(entry: &T) -> String {
    let bytes = serde_json::to_vec(entry).expect("entries always serialize");
    let hash = bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    });
    format!("{hash:016x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_are_stable_and_tell_entries_apart() {
        assert_eq!(digest(&(1u64, "a")), digest(&(1u64, "a")));
        assert_ne!(digest(&(1u64, "a")), digest(&(2u64, "a")));
        assert_eq!(digest(&"").len(), 16);
    }
}
