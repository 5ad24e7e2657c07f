//! The nodes a run deploys onto: network namespaces on this machine (the default), or
//! real machines over SSH when the test names hosts ([`RunOptions::ssh`]). Everything
//! after bring-up sees only the [`Runtime`] interface.
//!
//! ```text
//! RunOptions { nodes, ssh: None }       ─► netns::Cluster::up_with(run, nodes, store dir)
//! RunOptions { ssh: Some(SshNodes), … } ─► ssh::SshCluster::connect(nodes.config(run)),
//!                                          service nodes = SshNodes::service_nodes
//!            │
//!            ▼ Arc<dyn Runtime> for the run ──► Nodes::down: the owner tears down; when a
//!              stuck thread still holds the runtime, everything is removed all the same
//! ```
//!
//! Invariant: a run never leaves its nodes behind. `down` removes namespaces (or, on SSH
//! nodes, services, the `FAULTLINE` chain and the run's directory) on every path,
//! including when something still holds the runtime. A forced interrupt (a second
//! Ctrl-C, or the grace period passed) exits without running `down`: the signal thread
//! then tears namespace runs down from the run registry, and SSH nodes through the
//! forced-exit hook registered here ([`SshCluster::abort`]), which waits for a teardown
//! already in progress.

use std::path::Path;
use std::sync::Arc;

use runtime::netns::cleanup::{ForcedExitHook, Shutdown};
use runtime::netns::{Cluster, ClusterConfig};
use runtime::ssh::SshCluster;
use runtime::Runtime;

use crate::run::{HarnessError, RunOptions};

/// A run's nodes, owned by the run.
pub(crate) enum Nodes {
    Netns(Arc<Cluster>),
    /// The nodes, and their teardown on a forced interrupt (while the run has them).
    Ssh(Arc<SshCluster>, Option<ForcedExitHook>),
}

impl Nodes {
    /// Brings up the nodes `opts` asks for, as run `run` (namespace nodes keep their
    /// files in `dir`, the store's run directory), with `services` service nodes beside
    /// them (a workload's own services): more namespaces, or over SSH the hosts of
    /// `--service-nodes`, which must be exactly that many.
    pub(crate) fn up(
        opts: &RunOptions,
        run: &str,
        dir: &Path,
        services: u16,
        shutdown: Option<&Shutdown>,
    ) -> Result<Nodes, HarnessError> {
        match &opts.ssh {
            None => Cluster::up_with(
                ClusterConfig::new(run, opts.nodes)
                    .service_nodes(services)
                    .dir(dir),
            )
            .map(|c| Nodes::Netns(Arc::new(c)))
            .map_err(|source| HarnessError::Nodes {
                nodes: opts.nodes.saturating_add(services),
                source,
            }),
            // Test::validate refuses a mismatch before anything starts; a test.json
            // edited by hand could still ask for one.
            Some(ssh) if usize::from(services) != ssh.service_nodes.len() => {
                Err(HarnessError::Services(
                    format!(
                        "the workload needs {services} service nodes of its own, the run names \
                         {} (--service-nodes)",
                        ssh.service_nodes.len()
                    )
                    .into(),
                ))
            }
            Some(ssh) => {
                let cluster = SshCluster::connect(&ssh.config(run)).map_err(|source| {
                    HarnessError::SshNodes {
                        nodes: ssh.nodes.len() + ssh.service_nodes.len(),
                        source: Box::new(source),
                    }
                })?;
                let cluster = Arc::new(cluster);
                // Weak: only `down` owns the nodes; the hook holds them while it runs.
                let hook = shutdown.map(|s| {
                    let cluster = Arc::downgrade(&cluster);
                    s.on_forced_exit(move || {
                        let Some(cluster) = cluster.upgrade() else {
                            return;
                        };
                        eprintln!(
                            "faultline: removing run {} from its SSH nodes",
                            cluster.run_name()
                        );
                        if let Err(e) = cluster.abort() {
                            eprintln!("faultline: teardown of the SSH nodes: {e}");
                        }
                    })
                });
                Ok(Nodes::Ssh(cluster, hook))
            }
        }
    }

    /// The nodes as the run uses them.
    pub(crate) fn runtime(&self) -> Arc<dyn Runtime> {
        match self {
            Nodes::Netns(c) => c.clone(),
            Nodes::Ssh(c, _) => c.clone(),
        }
    }

    /// Tears the nodes down. `Err` when teardown failed, or when something still held
    /// the nodes (they are removed anyway).
    pub(crate) fn down(self) -> Result<(), HarnessError> {
        let teardown = |e: String| HarnessError::Teardown(e);
        let still_held = |removed: Result<(), String>| {
            HarnessError::Teardown(match removed {
                Ok(()) => "the nodes were still in use at teardown (removed anyway)".into(),
                Err(e) => format!("the nodes were still in use at teardown: {e}"),
            })
        };
        match self {
            Nodes::Netns(cluster) => match Arc::try_unwrap(cluster) {
                Ok(c) => c.down().map_err(|e| teardown(e.to_string())),
                Err(shared) => Err(still_held(
                    shared.remove_network().map_err(|e| e.to_string()),
                )),
            },
            Nodes::Ssh(cluster, hook) => {
                // Through the shared reference first: a forced interrupt meanwhile
                // waits in its hook for this teardown instead of exiting midway.
                let removed = cluster.remove_all().map_err(|e| e.to_string());
                drop(hook);
                match Arc::try_unwrap(cluster) {
                    // Closes the masters; nothing is left to remove.
                    Ok(c) => {
                        drop(c);
                        removed.map_err(teardown)
                    }
                    Err(_) => Err(still_held(removed)),
                }
            }
        }
    }
}
