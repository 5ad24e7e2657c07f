//! Noticing a node that dies mid-run: every [`PROBE_EVERY`] each node is probed
//! ([`Runtime::probe`]: on SSH nodes, whether the node's master connection is still up,
//! a local check that runs nothing on the node); a node whose probes keep failing for
//! [`LOST_AFTER`] is lost, and the run is told to stop.
//!
//! ```text
//! NodeWatch thread ── every 1 s: rt.probe(n1..nN) ──► Losses::observe (pure)
//!        │                                             └─ failing ≥ 3 s ─► Lost
//!        └─ on the first Lost: record it, call `on_lost` (stops the clients and faults)
//! run: after the main phase, `lost()` ─► HarnessError::NodeLost (exit 255), artifacts kept
//! ```
//!
//! No fault of ours makes a probe fail: a partition never cuts the controller (its
//! address is exempt) and a kill or pause signals the service, never the machine. A
//! probe that fails and then passes again within [`LOST_AFTER`] (a slow moment) is
//! forgotten. Namespace nodes are never lost (their probe is always `Ok`).
//!
//! Reference: Jepsen aborts a test whose control connection to a node fails
//! (`jepsen.control` throws, the test ends with its history written).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use runtime::{NodeId, Runtime, RuntimeError};

use crate::run::Joined;

/// How often every node is probed.
pub const PROBE_EVERY: Duration = Duration::from_secs(1);
/// How long a node's probes must keep failing before it counts as lost.
pub const LOST_AFTER: Duration = Duration::from_secs(3);

/// The pure part: which nodes have been failing since when.
#[derive(Debug)]
pub(crate) struct Losses {
    grace: Duration,
    since: BTreeMap<NodeId, Instant>,
}

impl Losses {
    pub(crate) fn new(grace: Duration) -> Losses {
        Losses {
            grace,
            since: BTreeMap::new(),
        }
    }

    /// Takes one probe's answer for `node` at `now`; the error once the node has been
    /// failing for the grace period (and on every failing probe after that).
    pub(crate) fn observe(
        &mut self,
        node: NodeId,
        now: Instant,
        probe: Result<(), RuntimeError>,
    ) -> Option<RuntimeError> {
        match probe {
            Ok(()) => {
                self.since.remove(&node);
                None
            }
            Err(e) => {
                let first = *self.since.entry(node).or_insert(now);
                (now.duration_since(first) >= self.grace).then_some(e)
            }
        }
    }
}

/// A probing thread for the run's nodes; stopped and joined when dropped.
pub(crate) struct NodeWatch {
    lost: Arc<Mutex<Option<RuntimeError>>>,
    _thread: Joined<()>,
}

impl NodeWatch {
    /// Starts probing `rt`'s nodes (system and service nodes); `on_lost` is called once,
    /// on the thread, when the first is lost.
    pub(crate) fn start(
        rt: Arc<dyn Runtime>,
        on_lost: impl FnOnce() + Send + 'static,
    ) -> NodeWatch {
        let lost = Arc::new(Mutex::new(None));
        let stop = Arc::new(AtomicBool::new(false));
        let (slot, flag) = (Arc::clone(&lost), Arc::clone(&stop));
        let thread = Joined::spawn(stop, move || {
            let nodes: Vec<NodeId> = rt
                .nodes()
                .into_iter()
                .chain(rt.service_nodes())
                .map(|n| n.id)
                .collect();
            let mut losses = Losses::new(LOST_AFTER);
            loop {
                let next = Instant::now() + PROBE_EVERY;
                for &node in &nodes {
                    if let Some(e) = losses.observe(node, Instant::now(), rt.probe(node)) {
                        tracing::warn!("node {node} lost: {e}");
                        *slot.lock().unwrap_or_else(|e| e.into_inner()) = Some(e);
                        on_lost();
                        return;
                    }
                }
                // Pacing the probes while watching the stop flag.
                while Instant::now() < next {
                    if flag.load(Ordering::SeqCst) {
                        return;
                    }
                    std::thread::sleep(Duration::from_millis(50));
                }
            }
        });
        NodeWatch {
            lost,
            _thread: thread,
        }
    }

    /// The error of the lost node, once one is.
    pub(crate) fn lost(&self) -> Option<RuntimeError> {
        self.lost.lock().unwrap_or_else(|e| e.into_inner()).take()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gone(node: &str) -> Result<(), RuntimeError> {
        Err(RuntimeError::Unreachable {
            node: node.into(),
            reason: "the SSH connection is gone".into(),
        })
    }

    #[test]
    fn a_node_is_lost_only_after_failing_for_the_whole_grace() {
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        let (n1, n2) = (NodeId::nth(1), NodeId::nth(2));
        let mut l = Losses::new(Duration::from_secs(3));
        assert!(l.observe(n1, at(0), gone("n1")).is_none());
        assert!(l.observe(n2, at(0), Ok(())).is_none());
        assert!(l.observe(n1, at(2_999), gone("n1")).is_none());
        let e = l
            .observe(n1, at(3_000), gone("n1"))
            .expect("lost after 3 s");
        assert!(
            e.to_string().starts_with("n1: cannot reach the node"),
            "{e}"
        );
        assert!(l.observe(n2, at(3_000), Ok(())).is_none());
    }

    #[test]
    fn a_probe_that_passes_again_is_forgotten() {
        let t0 = Instant::now();
        let at = |s: u64| t0 + Duration::from_secs(s);
        let n1 = NodeId::nth(1);
        let mut l = Losses::new(Duration::from_secs(3));
        assert!(l.observe(n1, at(0), gone("n1")).is_none());
        assert!(l.observe(n1, at(2), Ok(())).is_none());
        assert!(
            l.observe(n1, at(3), gone("n1")).is_none(),
            "counts from 3 s"
        );
        assert!(l.observe(n1, at(5), gone("n1")).is_none());
        assert!(l.observe(n1, at(6), gone("n1")).is_some());
    }

    /// Polls `f` until it holds or `limit` passes.
    fn eventually(limit: Duration, f: impl Fn() -> bool) -> bool {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if f() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        f()
    }

    #[test]
    fn the_watch_reports_the_lost_node_once_and_stops_the_run() {
        let rt = Arc::new(runtime::fake::RecordingRuntime::new(3));
        let called = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let c = Arc::clone(&called);
        let watch = NodeWatch::start(rt.clone(), move || {
            c.fetch_add(1, Ordering::SeqCst);
        });
        assert!(watch.lost().is_none());
        rt.lose(NodeId::nth(2), "the SSH connection is gone");
        let limit = LOST_AFTER + PROBE_EVERY * 5;
        assert!(
            eventually(limit, || called.load(Ordering::SeqCst) == 1),
            "on_lost called within {limit:?}"
        );
        let e = watch.lost().expect("the lost node").to_string();
        assert_eq!(e, "n2: cannot reach the node: the SSH connection is gone");
        drop(watch);
        assert_eq!(called.load(Ordering::SeqCst), 1);
        assert!(
            rt.commands().is_empty(),
            "probing runs nothing on the nodes"
        );
    }
}
