//! Every node's committed log, asked for while the run goes on and once more at its end,
//! written to `committed.jsonl` for the replica-agreement check.
//!
//! ```text
//! main phase, every SAMPLE_EVERY ─► ask every node at once ─► its last SAMPLE_TAIL entries
//! after the final phase          ─► ask every node at once ─► its whole committed log
//!                                       │
//!                                       ▼ one LogReport per answer, timed on the history's clock
//! ```
//!
//! The final reports alone show replicas that disagree. The samples are what make a
//! *lost* entry visible: a node reported an entry committed, was killed, and after its
//! restart (and re-sync) holds something else at that position, or nothing, while every
//! node may agree again by the end. A sample carries only the tail of a node's log, with
//! its `from` position, so an entry taken back more than `SAMPLE_TAIL` entries behind
//! the node's commit point is not compared (no protocol here takes back that many).
//! A sample asks the node only for what starts where its previous sample's tail began,
//! so the node (whose protocol loop answers it) never lists its whole log mid-run.
//! A node that does not answer (cut off, killed, paused) is left out of that sample.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::net::Ipv4Addr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use checkers::replica_agreement::{LogEntry, LogReport};
use runtime::{ControlHandle, NodeId};

use crate::history::HistoryLog;
use crate::target::Target;

/// How often the committed logs are sampled during the main phase.
pub const SAMPLE_EVERY: Duration = Duration::from_secs(2);
/// How many of a node's last committed entries a sample carries.
pub const SAMPLE_TAIL: usize = 512;
/// How long a sample waits for a node.
pub const SAMPLE_WAIT: Duration = Duration::from_secs(1);

/// The committed-log reports of one run.
pub struct CommittedLogs {
    target: Arc<dyn Target>,
    nodes: Vec<(NodeId, Ipv4Addr)>,
    handle: ControlHandle,
    log: Arc<HistoryLog>,
    out: Mutex<BufWriter<File>>,
    /// Per node, where its last sample's tail began: the next sample asks from there.
    tail_from: Mutex<BTreeMap<NodeId, u64>>,
}

/// What one round of asking got.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Round {
    pub reported: usize,
    /// One line per node that did not answer, with why.
    pub missing: Vec<String>,
}

impl CommittedLogs {
    /// `None` when the target cannot report a committed log (real systems).
    pub fn open(
        target: &Arc<dyn Target>,
        nodes: Vec<(NodeId, Ipv4Addr)>,
        handle: &ControlHandle,
        log: &Arc<HistoryLog>,
        path: &Path,
    ) -> io::Result<Option<CommittedLogs>> {
        let Some(&(id, addr)) = nodes.first() else {
            return Ok(None);
        };
        if target.committed_log(id, addr, 0).is_none() {
            return Ok(None);
        }
        Ok(Some(CommittedLogs {
            target: Arc::clone(target),
            nodes,
            handle: handle.clone(),
            log: Arc::clone(log),
            out: Mutex::new(BufWriter::new(File::create(path)?)),
            tail_from: Mutex::new(BTreeMap::new()),
        }))
    }

    /// Asks every node at once, waiting up to `wait` for each, and writes one report per
    /// answer: the last `tail` entries (with their `from`), or the whole log.
    pub fn collect(&self, wait: Duration, tail: Option<usize>) -> io::Result<Round> {
        let mut tail_from = self.tail_from.lock().unwrap_or_else(|e| e.into_inner());
        let asked: Vec<u64> = self
            .nodes
            .iter()
            .map(|(id, _)| match tail {
                Some(_) => tail_from.get(id).copied().unwrap_or(0),
                None => 0,
            })
            .collect();
        let asks: Vec<_> = self
            .nodes
            .iter()
            .zip(&asked)
            .map(|(&(id, addr), &from)| {
                let target = Arc::clone(&self.target);
                self.handle.spawn(async move {
                    match target.committed_log(id, addr, from) {
                        Some(call) => match tokio::time::timeout(wait, call).await {
                            Ok(Ok(entries)) => Ok(entries),
                            Ok(Err(e)) => Err(e.to_string()),
                            Err(_) => Err(format!("no answer within {wait:?}")),
                        },
                        None => Ok(Vec::new()),
                    }
                })
            })
            .collect();
        let mut round = Round::default();
        let mut out = self.out.lock().unwrap_or_else(|e| e.into_inner());
        for ((ask, &(id, _)), &from) in asks.into_iter().zip(&self.nodes).zip(&asked) {
            let answer = self
                .handle
                .block_on(ask)
                .map_err(|e| io::Error::other(format!("the committed-log request panicked: {e}")))?
                .map_err(|e| io::Error::other(format!("the committed-log request: {e}")));
            match answer {
                Ok(Ok(entries)) => {
                    let report = tail_report(id.to_string(), self.log.now(), from, entries, tail);
                    if tail.is_some() {
                        tail_from.insert(id, report.from);
                    }
                    serde_json::to_writer(&mut *out, &report)?;
                    out.write_all(b"\n")?;
                    round.reported += 1;
                }
                Ok(Err(e)) => round.missing.push(format!("{id}: {e}")),
                Err(e) => return Err(e),
            }
        }
        out.flush()?;
        Ok(round)
    }
}

/// A report of `entries` (in position order, every committed one from position `from`
/// on), cut to the last `tail` of them.
fn tail_report(
    node: String,
    time: u64,
    from: u64,
    entries: Vec<LogEntry>,
    tail: Option<usize>,
) -> LogReport {
    let cut = tail.map_or(0, |t| entries.len().saturating_sub(t));
    if cut == 0 {
        return LogReport {
            node,
            time,
            from,
            entries,
        };
    }
    let entries = entries[cut..].to_vec();
    LogReport {
        node,
        time,
        from: entries[0].position,
        entries,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use checkers::replica_agreement::check;

    fn entries(positions: impl IntoIterator<Item = u64>, tag: &str) -> Vec<LogEntry> {
        positions
            .into_iter()
            .map(|p| LogEntry {
                position: p,
                digest: format!("{tag}{p}"),
            })
            .collect()
    }

    #[test]
    fn a_sample_keeps_the_tail_and_says_where_it_starts() {
        let r = tail_report("n1".into(), 5, 0, entries(10..20, "a"), Some(4));
        assert_eq!(r.from, 16);
        assert_eq!(r.entries, entries(16..20, "a"));
        let whole = tail_report("n1".into(), 5, 0, entries(10..20, "a"), None);
        assert_eq!((whole.from, whole.entries.len()), (0, 10));
        let short = tail_report("n1".into(), 5, 0, entries(10..12, "a"), Some(4));
        assert_eq!((short.from, short.entries.len()), (0, 2));
        // Asked from 16 (the last tail's start), the node answered 16..; a node that took
        // entries back answers less, and the report still covers only from 16 on.
        let asked = tail_report("n1".into(), 7, 16, entries(16..18, "a"), Some(4));
        assert_eq!((asked.from, asked.entries.len()), (16, 2));
    }

    #[test]
    fn samples_show_an_entry_lost_across_a_restart_that_the_final_logs_hide() {
        // n1 reported 1..=5 committed, was killed, and after its restart holds another
        // entry at 5, as do the others by the end: the final reports agree.
        let sample = tail_report("n1".into(), 1, 0, entries(1..=5, "a"), Some(3));
        let mut later = entries(1..=4, "a");
        later.extend(entries(5..=6, "b"));
        let finals: Vec<LogReport> = ["n1", "n2", "n3"]
            .iter()
            .map(|n| tail_report(n.to_string(), 9, 0, later.clone(), None))
            .collect();
        assert!(check(&finals).valid);
        let mut all = finals;
        all.push(sample);
        let r = check(&all);
        assert!(!r.valid);
        assert!(
            r.describe()
                .iter()
                .any(|l| l.contains("n1 lost committed entry a5 at position 5")),
            "{:?}",
            r.describe()
        );
    }
}
