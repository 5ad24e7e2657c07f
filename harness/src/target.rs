//! `Target`: a system under test, deployed onto a run's nodes through the node runtime.
//!
//! ```text
//! Target::setup(&dyn Runtime) ──► every node's service slot runs the system ──► healthy
//! Target::status(node)        ──► NodeStatus (role, term, leader) ──► observer, primaries
//! Target::committed_log(node, from) ──► (position, digest)* sampled and after the final phase ──► replica agreement
//! ```
//!
//! The protocol is tiny, after Jepsen's `DB`: setting up, and knowing when the
//! cluster serves requests. Killing, restarting and pausing need nothing from the
//! target: its processes live in the nodes' service slots, which the runtime signals
//! for every system alike. Reporting leaders and committed logs are optional
//! capabilities: callers ask first ([`Target::status`] and [`Target::committed_log`]
//! return `None` when the system cannot say). A target never
//! names a namespace or a host: files go through [`Runtime::write_file`], commands
//! through [`Runtime::exec`].
//!
//! The clients a workload needs (the `Kv` or `Lock` API) are made by the target's
//! module in the `targets` crate; the harness never names a particular system.

use std::future::Future;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::time::Duration;

use checkers::replica_agreement::LogEntry;
use checkers::split_brain::Role;

use runtime::{NodeId, Runtime, RuntimeError, ServiceSpec};

/// A boxed future, for the async parts of object-safe traits.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// One node's view of the cluster, as it reported it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeStatus {
    pub role: Role,
    /// Raft term, Zab epoch, …
    pub term: u64,
    /// The leader the node believes in, by node name (`n1`, …).
    pub leader: Option<String>,
    /// Whom the node voted for in `term`, when the system reports it.
    pub voted_for: Option<String>,
}

/// Why a node could not say what it is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StatusError {
    /// No connection could be made (refused, unreachable, reset).
    #[error("unreachable: {0}")]
    Unreachable(String),
    /// The node did not answer in time (paused, partitioned, overloaded).
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    /// It answered, but not with a status.
    #[error("bad answer: {0}")]
    BadAnswer(String),
}

/// Why a target could not be set up or did not become healthy.
#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    /// Set-up failed: the message names the node and what went wrong.
    #[error("{0}")]
    Setup(String),
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    /// The cluster did not serve requests within the deadline.
    #[error("{what} within {waited:?}: {last}")]
    NotHealthy {
        what: String,
        waited: Duration,
        last: String,
    },
}

/// A system under test.
pub trait Target: Send + Sync + 'static {
    /// Short name (`raft`, `etcd`, …).
    fn name(&self) -> &str;

    /// Installs what is missing, writes each node's configuration and starts the system
    /// in every node's service slot (Jepsen's `setup!`): everything it does goes through
    /// the runtime, so a recording runtime shows it exactly.
    fn deploy(&self, rt: &dyn Runtime) -> Result<(), TargetError>;

    /// How long the side of the cluster that lost its leader takes to elect another:
    /// the longest election timeout (Raft, etcd), or the time followers take to give up
    /// on a silent leader plus an election (ZooKeeper). The default fault mix scales its
    /// windows and gaps to it (`nemesis::Mix::default_for`); a target that cannot say
    /// is assumed to take [`nemesis::DEFAULT_FAILOVER`] (1 s).
    fn failover(&self) -> Duration {
        nemesis::DEFAULT_FAILOVER
    }

    /// How long a freshly deployed cluster may take to serve requests.
    fn setup_timeout(&self) -> Duration {
        Duration::from_secs(30)
    }

    /// [`Target::deploy`], then waits (with [`Target::setup_timeout`]) until the cluster
    /// serves requests.
    fn setup(&self, rt: &dyn Runtime) -> Result<(), TargetError> {
        self.deploy(rt)?;
        self.await_healthy(rt, self.setup_timeout()).map(drop)
    }

    /// Waits up to `timeout` until the cluster serves requests again (after faults were
    /// healed); returns how long that took.
    fn await_healthy(&self, rt: &dyn Runtime, timeout: Duration) -> Result<Duration, TargetError>;

    /// Asks one node (at `addr`) for its role, term and leader; `None` when the system
    /// cannot report this. Runs on the clients' runtime, and never blocks it.
    fn status(
        &self,
        node: NodeId,
        addr: Ipv4Addr,
    ) -> Option<BoxFuture<'_, Result<NodeStatus, StatusError>>>;

    /// Asks one node (at `addr`) for its committed log from position `from` on (0: the
    /// whole log), one `(position, digest)` per committed entry, for the
    /// replica-agreement check; `None` when the system cannot report it. Runs on the
    /// clients' runtime, and never blocks it.
    fn committed_log(
        &self,
        node: NodeId,
        addr: Ipv4Addr,
        from: u64,
    ) -> Option<BoxFuture<'_, Result<Vec<LogEntry>, StatusError>>> {
        let _ = (node, addr, from);
        None
    }

    /// Files on a node worth keeping with the run besides its service log (paths on the
    /// node, absolute or relative to its data directory).
    fn log_files(&self, node: NodeId) -> Vec<PathBuf> {
        let _ = node;
        Vec::new()
    }
}

/// The start every target's `setup` shares: for each node, let `spec` write what the
/// node needs (through the runtime) and describe its service, start it in the node's
/// slot; then wait until every node accepts TCP connections on `port`.
pub fn start_on_every_node(
    rt: &dyn Runtime,
    port: u16,
    port_timeout: std::time::Duration,
    mut spec: impl FnMut(NodeId, &Path) -> Result<ServiceSpec, TargetError>,
) -> Result<(), TargetError> {
    for node in rt.node_ids() {
        let dir = rt.node_dir(node)?;
        let service = spec(node, &dir)?;
        rt.start_service(node, service)?;
    }
    for node in rt.node_ids() {
        rt.wait_for_port(node, port, port_timeout)?;
    }
    Ok(())
}

/// What one round of a health poll found.
pub enum Probe {
    /// Healthy: stop polling.
    Healthy,
    /// Not yet; the text says what was seen (reported if the deadline passes).
    NotYet(String),
}

/// The wait every target's `await_healthy` shares: run `probe` until it reports
/// [`Probe::Healthy`] or `timeout` has passed, backing off between rounds from `first`
/// up to `max` (each wait bounded by the deadline). Returns how long it took; past the
/// deadline, [`TargetError::NotHealthy`] names `what` was awaited and the last round.
pub fn poll_until_healthy(
    what: &str,
    timeout: Duration,
    (first, max): (Duration, Duration),
    mut probe: impl FnMut() -> Result<Probe, TargetError>,
) -> Result<Duration, TargetError> {
    let started = std::time::Instant::now();
    let mut pause = first;
    loop {
        let last = match probe()? {
            Probe::Healthy => return Ok(started.elapsed()),
            Probe::NotYet(last) => last,
        };
        let elapsed = started.elapsed();
        if elapsed >= timeout {
            return Err(TargetError::NotHealthy {
                what: what.to_string(),
                waited: timeout,
                last,
            });
        }
        // Back-off between polls of observable state, bounded by the deadline.
        std::thread::sleep(pause.min(timeout - elapsed));
        pause = (pause * 2).min(max);
    }
}

/// Whether a majority of `statuses` (one per node, errors included) follows one leader
/// in one term, and that leader itself answers that it leads that term; `Err` lists
/// what each node said, for [`Probe::NotYet`].
///
/// The leader's own answer matters right after a heal: a killed leader that was just
/// restarted is still named by followers that have not yet noticed it died (for up to
/// an election timeout, or the Zab's sync limit). Counting only their answers called
/// such a cluster healthy at once, and the final phase's reads all failed.
pub fn majority_leader<'a, E: std::fmt::Display + 'a>(
    statuses: impl IntoIterator<Item = (NodeId, &'a Result<NodeStatus, E>)>,
) -> Result<(u64, String), String> {
    let mut votes: std::collections::BTreeMap<(u64, &str), usize> = Default::default();
    let mut leading: std::collections::BTreeSet<(u64, String)> = Default::default();
    let mut seen = Vec::new();
    let mut n = 0;
    for (id, s) in statuses {
        n += 1;
        match s {
            Ok(s) => {
                if let Some(l) = &s.leader {
                    *votes.entry((s.term, l.as_str())).or_default() += 1;
                }
                if s.role == Role::Leader {
                    leading.insert((s.term, id.to_string()));
                }
                seen.push(format!(
                    "{id}: {:?} term {} leader {:?}",
                    s.role, s.term, s.leader
                ));
            }
            Err(e) => seen.push(format!("{id}: {e}")),
        }
    }
    let majority = n / 2 + 1;
    match votes.into_iter().find(|((term, leader), v)| {
        *v >= majority && leading.contains(&(*term, leader.to_string()))
    }) {
        Some(((term, leader), _)) => Ok((term, leader.to_string())),
        None => Err(seen.join("; ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(term: u64, leader: Option<&str>) -> Result<NodeStatus, StatusError> {
        Ok(NodeStatus {
            role: Role::Follower,
            term,
            leader: leader.map(str::to_string),
            voted_for: None,
        })
    }

    fn leader(term: u64, me: &str) -> Result<NodeStatus, StatusError> {
        Ok(NodeStatus {
            role: Role::Leader,
            ..status(term, Some(me)).unwrap()
        })
    }

    fn ids(n: u8) -> Vec<NodeId> {
        (1..=u16::from(n)).map(NodeId::nth).collect()
    }

    #[test]
    fn a_majority_must_follow_one_leader_in_one_term() {
        let round = [
            leader(3, "n1"),
            status(3, Some("n1")),
            status(3, Some("n1")),
            Err(StatusError::Unreachable("connection refused".into())),
            status(2, Some("n4")),
        ];
        assert_eq!(
            majority_leader(ids(5).into_iter().zip(&round)),
            Ok((3, "n1".to_string()))
        );
        // Right after a heal: the killed leader n1 was restarted and is not leading
        // yet, but the followers have not noticed. Not healthy.
        let restarted = [
            Ok(NodeStatus {
                role: Role::Candidate,
                ..status(3, None).unwrap()
            }),
            status(3, Some("n1")),
            status(3, Some("n1")),
            status(3, Some("n1")),
            status(3, Some("n1")),
        ];
        let seen = majority_leader(ids(5).into_iter().zip(&restarted)).unwrap_err();
        assert!(seen.contains("n1: Candidate term 3 leader None"), "{seen}");
        // Nor when it leads another term than the one they follow it in.
        let mut stale = restarted.clone();
        stale[0] = leader(4, "n1");
        assert!(majority_leader(ids(5).into_iter().zip(&stale)).is_err());
        stale[0] = leader(3, "n1");
        assert_eq!(
            majority_leader(ids(5).into_iter().zip(&stale)),
            Ok((3, "n1".to_string()))
        );
        // Same leader, but split over two terms: no majority in either.
        let split = [
            status(3, Some("n1")),
            status(3, Some("n1")),
            status(4, Some("n1")),
            Err(StatusError::Timeout(Duration::from_millis(100))),
            status(4, None),
        ];
        let seen = majority_leader(ids(5).into_iter().zip(&split)).unwrap_err();
        assert!(seen.contains("n4: no answer within 100ms"), "{seen}");
        assert!(seen.contains("n5: Follower term 4 leader None"), "{seen}");
    }

    #[test]
    fn polling_stops_when_healthy_and_reports_the_last_round_at_the_deadline() {
        let mut rounds = 0;
        let took = poll_until_healthy(
            "ready",
            Duration::from_secs(10),
            (Duration::from_millis(1), Duration::from_millis(2)),
            || {
                rounds += 1;
                Ok(if rounds < 3 {
                    Probe::NotYet(format!("round {rounds}"))
                } else {
                    Probe::Healthy
                })
            },
        )
        .unwrap();
        assert_eq!(rounds, 3);
        assert!(took < Duration::from_secs(10));

        let mut rounds = 0;
        let err = poll_until_healthy(
            "a leader",
            Duration::from_millis(30),
            (Duration::from_millis(1), Duration::from_millis(5)),
            || {
                rounds += 1;
                Ok(Probe::NotYet(format!("round {rounds}")))
            },
        )
        .unwrap_err();
        match err {
            TargetError::NotHealthy { what, last, .. } => {
                assert_eq!(what, "a leader");
                assert_eq!(
                    last,
                    format!("round {rounds}"),
                    "the last round is reported"
                );
            }
            other => panic!("unexpected {other:?}"),
        }
        // A probe error ends the wait at once.
        let mut rounds = 0;
        let err = poll_until_healthy(
            "x",
            Duration::from_secs(10),
            (Duration::from_millis(1), Duration::from_millis(1)),
            || {
                rounds += 1;
                Err(TargetError::Setup("poll panicked".into()))
            },
        );
        assert!(matches!(err, Err(TargetError::Setup(_))));
        assert_eq!(rounds, 1);
    }
}
