//! The candidates of a run: the election workload's [`Services`]. Started on the run's
//! service nodes once the coordination system is up, with the fenced resource on the
//! controller; stopped after the final phase.
//!
//! ```text
//! Candidates::start ─► Resource::serve on the runtime's exempt address (port chosen by bind)
//!                   ─► per mode, per candidate: Runtime::start_service(service node,
//!                        PROGRAM --name cK --mode M --target SYS --nodes n1=A:P,… --resource …)
//!                   ─► every candidate Ready (or the one that is not, named) ─► leader query
//! Candidates::stop  ─► kill every candidate, stop the resource
//! ```
//!
//! Candidates are named `c1`, `c2`, … in mode order (`--candidate-mode`), `candidates`
//! of each mode, and candidate k runs on the k-th service node. Their history processes
//! start at [`PROCESS_BASE`], far above the interpreter's.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use harness::history::HistoryLog;
use harness::run::{LeaderQuery, OpenError, Services};
use runtime::{ControlHandle, NodeId, Runtime, ServiceSpec, ServiceState};

use super::resource::{Resource, Start};
use super::{ElectionOpts, Mode};

/// The first history process of the candidates' incarnations.
pub const PROCESS_BASE: u64 = 1_000_000;
/// How long the coordination system may take to answer a candidate at start (by
/// default).
pub const START_TIMEOUT: Duration = Duration::from_secs(15);

/// The candidate program's argv before its flags, on a node (the real one:
/// `faultline node candidate`).
pub type Program = Arc<dyn Fn(&dyn Runtime, NodeId) -> Result<Vec<String>, String> + Send + Sync>;

/// `faultline node candidate` from the runtime's faultline binary.
pub fn faultline_program() -> Program {
    Arc::new(|rt: &dyn Runtime, node| {
        let bin = rt.faultline_binary(node).map_err(|e| e.to_string())?;
        Ok(vec![
            bin.display().to_string(),
            "node".into(),
            "candidate".into(),
        ])
    })
}

/// Which recipe the candidates run and where the system's clients connect.
#[derive(Clone)]
pub struct Recipe {
    /// `--target` of `faultline node candidate` (`raft`, `zab`, …).
    pub system: &'static str,
    /// The port of every system node the candidates talk to.
    pub port: u16,
}

struct Running {
    resource: Arc<Resource>,
    server: tokio::task::JoinHandle<()>,
    /// (name, mode, node)
    candidates: Vec<(String, Mode, NodeId)>,
}

/// The candidates of one run.
pub struct Candidates {
    opts: ElectionOpts,
    recipe: Recipe,
    program: Program,
    start_timeout: Duration,
    running: Option<Running>,
}

impl Candidates {
    pub fn new(opts: ElectionOpts, recipe: Recipe, program: Program) -> Self {
        Candidates {
            opts,
            recipe,
            program,
            start_timeout: START_TIMEOUT,
            running: None,
        }
    }

    /// How long the system may take to answer a candidate at start
    /// ([`START_TIMEOUT`] by default).
    pub fn with_start_timeout(mut self, t: Duration) -> Self {
        self.start_timeout = t;
        self
    }

    /// The flags of candidate `k` (from 1) of `mode`, talking to `endpoints` first at
    /// `home`.
    fn argv(
        &self,
        name: &str,
        mode: Mode,
        endpoints: &str,
        home: usize,
        resource: SocketAddr,
    ) -> Vec<String> {
        let o = &self.opts;
        [
            "--name",
            name,
            "--mode",
            mode.name(),
            "--target",
            self.recipe.system,
            "--nodes",
            endpoints,
            "--home",
            &home.to_string(),
            "--resource",
            &resource.to_string(),
            "--ttl-ms",
            &o.ttl_ms.to_string(),
            "--write-interval-ms",
            &o.write_interval_ms.to_string(),
            "--lease-margin-ms",
            &o.lease_margin_ms.to_string(),
            "--start-timeout-ms",
            &self.start_timeout.as_millis().to_string(),
        ]
        .into_iter()
        .map(str::to_string)
        .collect()
    }

    fn launch(
        &mut self,
        rt: &dyn Runtime,
        handle: &ControlHandle,
        log: &Arc<HistoryLog>,
    ) -> Result<(), String> {
        let control = *rt
            .exempt()
            .first()
            .ok_or("the runtime has no controller address to keep the resource on")?;
        let bind = |ip: std::net::Ipv4Addr| {
            handle
                .block_on(tokio::net::TcpListener::bind((ip, 0)))
                .map_err(|e| std::io::Error::other(e.to_string()))
                .and_then(|r| r)
        };
        let listener = match bind(control) {
            Ok(l) => l,
            // Remote nodes that see the controller through a NAT (Vagrant's VirtualBox
            // provider: 10.0.2.2) name an address that is not the controller's own;
            // their connections to it arrive on one of its own, so listen on all of
            // them and tell the candidates the address they see.
            Err(e) if e.kind() == std::io::ErrorKind::AddrNotAvailable && rt.remote() => {
                let l = bind(std::net::Ipv4Addr::UNSPECIFIED)
                    .map_err(|e| format!("the resource cannot listen on any address here: {e}"))?;
                tracing::info!(
                    "the nodes see the controller as {control}, not one of its own addresses \
                     (a NAT between them): the resource listens on all of its addresses"
                );
                l
            }
            Err(e) => return Err(format!("the resource cannot listen on {control}: {e}")),
        };
        let port = listener
            .local_addr()
            .map_err(|e| format!("the resource: {e}"))?
            .port();
        let addr = SocketAddr::from((control, port));
        let resource = Resource::new(Arc::clone(log), PROCESS_BASE);
        let server = handle.spawn(Arc::clone(&resource).serve(listener));
        self.running = Some(Running {
            resource,
            server,
            candidates: Vec::new(),
        });

        let service = rt.service_nodes();
        let wanted = usize::from(self.opts.total());
        if service.len() < wanted {
            return Err(format!(
                "{wanted} candidates need {wanted} service nodes, the runtime has {}",
                service.len()
            ));
        }
        let nodes = rt.nodes();
        let endpoints: Vec<String> = nodes
            .iter()
            .map(|n| format!("{}={}:{}", n.id, n.addr, self.recipe.port))
            .collect();
        let endpoints = endpoints.join(",");
        let mut k = 0;
        for &mode in &self.opts.modes {
            for _ in 0..self.opts.candidates {
                let node = service[k].id;
                k += 1;
                let name = format!("c{k}");
                let mut argv = (self.program)(rt, node).map_err(|e| format!("{name}: {e}"))?;
                argv.extend(self.argv(&name, mode, &endpoints, k % nodes.len().max(1), addr));
                let dir = rt.node_dir(node).map_err(|e| format!("{name}: {e}"))?;
                rt.start_service(
                    node,
                    ServiceSpec::new(argv, &dir, dir.join("candidate.log")),
                )
                .map_err(|e| format!("candidate {name} on {node}: {e}"))?;
                if let Some(r) = self.running.as_mut() {
                    r.candidates.push((name, mode, node));
                }
            }
        }
        Ok(())
    }

    /// Waits until every candidate has reached the system, or names the one that
    /// cannot (it said so, or its process ended).
    fn await_ready(&self, rt: &dyn Runtime) -> Result<(), String> {
        let running = self.running.as_ref().expect("launched");
        let patience = self.start_timeout + Duration::from_secs(5);
        let deadline = Instant::now() + patience;
        loop {
            let starts = running.resource.starts();
            let mut waiting = Vec::new();
            for (name, _, node) in &running.candidates {
                match starts.get(name) {
                    Some(Start::Ready) => continue,
                    Some(Start::Unreachable(why)) => {
                        return Err(format!(
                        "candidate {name} on {node} cannot reach the coordination service: {why}"
                    ))
                    }
                    _ => {}
                }
                if let Ok(ServiceState::Exited(code)) = rt.service_state(*node) {
                    // It says why before it exits: read that first.
                    if let Some(Start::Unreachable(why)) = running.resource.starts().get(name) {
                        return Err(format!(
                            "candidate {name} on {node} cannot reach the coordination service: {why}"
                        ));
                    }
                    return Err(format!(
                        "candidate {name} on {node} exited at start ({}); see nodes/{node}/candidate.log",
                        code.map_or("killed by a signal".into(), |c| format!("exit code {c}"))
                    ));
                }
                waiting.push(name.as_str());
            }
            if waiting.is_empty() {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "candidates {} did not reach the coordination service within {:?}",
                    waiting.join(", "),
                    patience
                ));
            }
            // Pacing a poll of the resource's table, bounded by the deadline above.
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Services for Candidates {
    fn nodes(&self) -> u16 {
        self.opts.total()
    }

    fn start(
        &mut self,
        rt: &Arc<dyn Runtime>,
        handle: &ControlHandle,
        log: &Arc<HistoryLog>,
    ) -> Result<LeaderQuery, OpenError> {
        self.launch(rt.as_ref(), handle, log)?;
        self.await_ready(rt.as_ref())?;
        let running = self.running.as_ref().expect("launched");
        let resource = Arc::clone(&running.resource);
        let node_of: BTreeMap<String, NodeId> = running
            .candidates
            .iter()
            .map(|(name, _, node)| (name.clone(), *node))
            .collect();
        Ok(Arc::new(move || {
            resource
                .leaders()
                .values()
                .flat_map(|c| c.keys())
                .filter_map(|name| node_of.get(name).copied())
                .collect::<BTreeSet<NodeId>>()
        }))
    }

    /// Every mode's resource accepts a write again (a leader acts on the healed
    /// system).
    fn recover(&self, timeout: Duration) -> Result<Duration, String> {
        let running = self
            .running
            .as_ref()
            .ok_or("the candidates never started")?;
        let started = Instant::now();
        let before = running.resource.accepted_by_mode();
        loop {
            let now = running.resource.accepted_by_mode();
            let waiting: Vec<&str> = self
                .opts
                .modes
                .iter()
                .filter(|m| now.get(m) <= before.get(m))
                .map(|m| m.name())
                .collect();
            if waiting.is_empty() {
                return Ok(started.elapsed());
            }
            if started.elapsed() >= timeout {
                return Err(format!(
                    "no write accepted in {} mode within {timeout:?}",
                    waiting.join(", ")
                ));
            }
            // Pacing a poll of the resource's counters, bounded by `timeout`.
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn stop(&mut self, rt: &dyn Runtime) {
        let Some(running) = self.running.take() else {
            return;
        };
        for (name, _, node) in &running.candidates {
            if let Err(e) = rt.kill(*node) {
                tracing::warn!("stopping candidate {name} on {node}: {e}");
            }
        }
        running.server.abort();
        let (accepted, rejected) = running.resource.writes();
        tracing::info!(
            "candidates stopped: {} writes accepted, {rejected} fenced off",
            accepted
        );
    }
}
