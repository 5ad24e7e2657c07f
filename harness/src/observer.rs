//! The status observer: polls every node's role, term and believed leader throughout a
//! run, for the split-brain checker and for leader-targeted faults.
//!
//! ```text
//! every interval: Target::status(n1..nN) concurrently ──► status.jsonl (one line per answer)
//!                                                     └─► latest round ──► leaders() (primaries)
//! ```
//!
//! Invariants: an answer is timestamped on the history's clock when it arrives, so
//! observations and ops share one time axis; a node that does not answer within the
//! poll interval is simply absent from that round (it may be paused or cut off); each
//! round is flushed to disk before the next starts.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::net::Ipv4Addr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use checkers::split_brain::{Observation, Role};
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};

use crate::history::HistoryLog;
use crate::target::Target;
use runtime::{ControlHandle, NodeId};

/// A running observer; [`Observer::stop`] ends it and returns what it saw.
pub struct Observer {
    shared: Arc<Shared>,
    stop: watch::Sender<bool>,
    task: JoinHandle<io::Result<()>>,
    handle: ControlHandle,
}

#[derive(Default)]
struct Shared {
    all: Mutex<Vec<Observation>>,
    /// The latest answer of each node.
    latest: Mutex<BTreeMap<NodeId, Observation>>,
}

impl Observer {
    /// Starts polling on the control runtime, appending to `path`. Returns `None` when
    /// the target cannot report status.
    pub fn start(
        handle: &ControlHandle,
        target: Arc<dyn Target>,
        nodes: Vec<(NodeId, Ipv4Addr)>,
        log: Arc<HistoryLog>,
        path: &Path,
        interval: Duration,
    ) -> io::Result<Option<Observer>> {
        let Some((first, _)) = nodes.first() else {
            return Ok(None);
        };
        if target.status(*first, nodes[0].1).is_none() {
            return Ok(None);
        }
        let file = File::create(path)
            .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
        let shared = Arc::new(Shared::default());
        let (stop, stop_rx) = watch::channel(false);
        let task = handle.spawn(poll(
            target,
            nodes,
            log,
            BufWriter::new(file),
            interval,
            Arc::clone(&shared),
            stop_rx,
        ));
        Ok(Some(Observer {
            shared,
            stop,
            task,
            handle: handle.clone(),
        }))
    }

    /// The nodes that lead the highest term any node currently claims to lead (the
    /// `primaries` of leader-targeted faults).
    pub fn leaders(&self) -> BTreeSet<NodeId> {
        leaders_of(&self.shared.latest.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// A query for the nemesis that reads the latest round.
    pub fn leader_query(&self) -> Arc<dyn Fn() -> BTreeSet<NodeId> + Send + Sync> {
        let shared = Arc::clone(&self.shared);
        Arc::new(move || leaders_of(&shared.latest.lock().unwrap_or_else(|e| e.into_inner())))
    }

    /// Stops polling and returns every observation, in arrival order.
    pub fn stop(self) -> io::Result<Vec<Observation>> {
        let _ = self.stop.send(true);
        let joined = self
            .handle
            .block_on(self.task)
            .map_err(|e| io::Error::other(format!("the status observer panicked: {e}")))?;
        joined.map_err(|e| io::Error::other(format!("the status observer stopped: {e}")))??;
        let all = std::mem::take(&mut *self.shared.all.lock().unwrap_or_else(|e| e.into_inner()));
        Ok(all)
    }
}

fn leaders_of(latest: &BTreeMap<NodeId, Observation>) -> BTreeSet<NodeId> {
    let top = latest
        .values()
        .filter(|o| o.role == Role::Leader)
        .map(|o| o.term)
        .max();
    latest
        .iter()
        .filter(|(_, o)| o.role == Role::Leader && Some(o.term) == top)
        .map(|(n, _)| *n)
        .collect()
}

async fn poll(
    target: Arc<dyn Target>,
    nodes: Vec<(NodeId, Ipv4Addr)>,
    log: Arc<HistoryLog>,
    mut out: BufWriter<File>,
    interval: Duration,
    shared: Arc<Shared>,
    mut stop: watch::Receiver<bool>,
) -> io::Result<()> {
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            _ = stop.changed() => return out.flush(),
        }
        if *stop.borrow() {
            return out.flush();
        }
        let mut round = JoinSet::new();
        for (node, addr) in nodes.iter().copied() {
            let target = Arc::clone(&target);
            let log = Arc::clone(&log);
            round.spawn(async move {
                let fut = target.status(node, addr)?;
                let status = tokio::time::timeout(interval, fut).await.ok()?.ok()?;
                Some((node, log.now(), status))
            });
        }
        let mut answers = Vec::new();
        while let Some(joined) = round.join_next().await {
            if let Ok(Some(answer)) = joined {
                answers.push(answer);
            }
        }
        answers.sort_by_key(|(node, time, _)| (*time, *node));
        for (node, time, status) in answers {
            let o = Observation {
                time,
                node: node.to_string(),
                role: status.role,
                term: status.term,
                leader: status.leader,
                voted_for: status.voted_for,
            };
            serde_json::to_writer(&mut out, &o)?;
            out.write_all(b"\n")?;
            shared
                .latest
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(node, o.clone());
            shared.all.lock().unwrap_or_else(|e| e.into_inner()).push(o);
        }
        out.flush()?;
    }
}

/// Reads a `status.jsonl` back (for `faultline check` on a stored run). Errors name
/// the line.
pub fn read_observations(path: &Path) -> Result<Vec<Observation>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            serde_json::from_str(l).map_err(|e| {
                format!(
                    "{}:{}: not a status observation: {e}",
                    path.display(),
                    i + 1
                )
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obs(node: &str, role: Role, term: u64) -> Observation {
        Observation {
            time: 0,
            node: node.into(),
            role,
            term,
            leader: None,
            voted_for: None,
        }
    }

    #[test]
    fn leaders_are_the_claimants_of_the_highest_term() {
        let mut latest = BTreeMap::new();
        assert!(leaders_of(&latest).is_empty());
        latest.insert(NodeId::nth(1), obs("n1", Role::Leader, 3));
        latest.insert(NodeId::nth(2), obs("n2", Role::Follower, 4));
        latest.insert(NodeId::nth(3), obs("n3", Role::Leader, 4));
        assert_eq!(leaders_of(&latest), BTreeSet::from([NodeId::nth(3)]));
        latest.insert(NodeId::nth(4), obs("n4", Role::Leader, 4));
        assert_eq!(
            leaders_of(&latest),
            BTreeSet::from([NodeId::nth(3), NodeId::nth(4)])
        );
    }

    #[test]
    fn observations_read_back_with_line_numbers_on_errors() {
        let dir = std::env::temp_dir().join(format!("fl-observer-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("status.jsonl");
        let good = serde_json::to_string(&obs("n1", Role::Leader, 2)).unwrap();
        std::fs::write(&path, format!("{good}\n{good}\n")).unwrap();
        assert_eq!(read_observations(&path).unwrap().len(), 2);
        std::fs::write(&path, format!("{good}\n{{\"time\":1}}\n")).unwrap();
        let e = read_observations(&path).unwrap_err();
        assert!(e.contains("status.jsonl:2:"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
