//! Monotonic reads per client: the part of sequential consistency a single client can
//! see, checked for `--read-mode local`.
//!
//! ```text
//! history: ok reads with the position (zxid, log index) they were served at ──► check()
//! ```
//!
//! ZooKeeper's plain reads are not linearizable, only sequentially consistent, and its
//! "single system image" guarantee says a client never sees an older state than one it
//! has already seen, even after it reconnects to another server: a server whose last
//! zxid is behind the client's refuses the session (programmer's guide, "ZooKeeper
//! consistency guarantees"; `ZooKeeperServer` "client must try another server"). So per
//! client, in the order its reads completed, the position each read was served at
//! never decreases. A read served at a lower position than an earlier read of the same
//! client is flagged.
//!
//! A client's reads are sequential, so completion order is invocation order. Pure:
//! observations in, a [`MonotonicReadsReport`] out.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// One successful read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadObservation {
    /// The client (a session: one worker, across its reconnects).
    pub client: String,
    /// When the read completed (ns since the start of the run).
    pub time: u64,
    /// The position of the state the read saw (Zab zxid, Raft log index).
    pub position: u64,
    /// The node that answered, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
}

/// A read that went back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum MonotonicReadsAnomaly {
    /// `later` saw an older state than `earlier`, which the same client read before.
    WentBack {
        client: String,
        earlier: ReadObservation,
        later: ReadObservation,
    },
}

/// What the monotonic-reads checker found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MonotonicReadsReport {
    pub valid: bool,
    pub anomalies: Vec<MonotonicReadsAnomaly>,
    pub clients: usize,
    pub reads: usize,
}

impl MonotonicReadsReport {
    /// One line per anomaly, in plain words.
    pub fn describe(&self) -> Vec<String> {
        self.anomalies
            .iter()
            .map(|MonotonicReadsAnomaly::WentBack { client, earlier, later }| {
                format!(
                    "client {client} read position {} at {}{}, then position {} at {}{}: its reads went back",
                    earlier.position,
                    secs(earlier.time),
                    from(&earlier.node),
                    later.position,
                    secs(later.time),
                    from(&later.node)
                )
            })
            .collect()
    }
}

fn from(node: &Option<String>) -> String {
    node.as_ref()
        .map(|n| format!(" from {n}"))
        .unwrap_or_default()
}

fn secs(ns: u64) -> String {
    format!("{:.3} s", ns as f64 / 1e9)
}

/// Checks every client's reads, given in any order.
pub fn check(reads: &[ReadObservation]) -> MonotonicReadsReport {
    let mut sorted: Vec<&ReadObservation> = reads.iter().collect();
    sorted.sort_by(|a, b| a.time.cmp(&b.time).then_with(|| a.client.cmp(&b.client)));
    // client -> the read with the highest position so far.
    let mut newest: BTreeMap<&str, &ReadObservation> = BTreeMap::new();
    let mut anomalies = Vec::new();
    for r in sorted {
        match newest.get(r.client.as_str()) {
            Some(seen) if r.position < seen.position => {
                anomalies.push(MonotonicReadsAnomaly::WentBack {
                    client: r.client.clone(),
                    earlier: (*seen).clone(),
                    later: r.clone(),
                });
            }
            _ => {
                newest.insert(r.client.as_str(), r);
            }
        }
    }
    MonotonicReadsReport {
        valid: anomalies.is_empty(),
        anomalies,
        clients: newest.len(),
        reads: reads.len(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    fn read(client: &str, time: u64, position: u64, node: &str) -> ReadObservation {
        ReadObservation {
            client: client.into(),
            time: time * MS,
            position,
            node: Some(node.into()),
        }
    }

    #[test]
    fn non_decreasing_positions_per_client_are_valid() {
        let r = check(&[
            read("c1", 1, 5, "n1"),
            read("c1", 2, 5, "n2"),
            read("c1", 3, 9, "n3"),
            // Another client may see older states than c1 did.
            read("c2", 4, 1, "n3"),
        ]);
        assert!(r.valid, "{:?}", r.describe());
        assert_eq!((r.clients, r.reads), (2, 4));
    }

    #[test]
    fn a_read_older_than_the_clients_last_is_flagged_once_per_read() {
        let r = check(&[
            read("c1", 3, 4, "n2"),
            read("c1", 1, 5, "n1"),
            read("c1", 4, 6, "n1"),
            read("c1", 2, 9, "n1"),
        ]);
        assert!(!r.valid);
        assert_eq!(r.anomalies.len(), 2, "{:?}", r.describe());
        assert_eq!(
            r.describe()[0],
            "client c1 read position 9 at 0.002 s from n1, then position 4 at 0.003 s from n2: its reads went back"
        );
    }
}
