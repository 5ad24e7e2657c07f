//! A recording fake runtime for tests: no root, no processes, no network. It remembers
//! every action (commands, services, signals, files) in order, answers commands from a
//! script, and keeps files and service states in memory — so a test can drive the
//! nemesis or a target's setup and assert the exact commands and filter tables they
//! would apply, as openraft's engine tests assert on emitted commands.
//!
//! ```text
//! nemesis / Target::setup ──► RecordingRuntime ──► actions(): [Exec { n1, "iptables-restore …" },
//!                                                             StartService { n2, argv }, …]
//! ```

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use crate::control::{ControlHandle, PlainRuntime};
use crate::exec::{Cmd, Output};
use crate::service::{ServiceSpec, ServiceState};
use crate::{NodeId, NodeInfo, Runtime, RuntimeError, Signal};

/// One thing done to a node.
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    /// A command (argv joined, and stdin as text when there was one).
    Exec {
        node: NodeId,
        argv: String,
        stdin: Option<String>,
    },
    StartService {
        node: NodeId,
        argv: Vec<String>,
    },
    Start {
        node: NodeId,
    },
    Signal {
        node: NodeId,
        signal: Signal,
    },
    WriteFile {
        node: NodeId,
        path: PathBuf,
        bytes: Vec<u8>,
    },
}

impl Action {
    pub fn node(&self) -> NodeId {
        match self {
            Action::Exec { node, .. }
            | Action::StartService { node, .. }
            | Action::Start { node }
            | Action::Signal { node, .. }
            | Action::WriteFile { node, .. } => *node,
        }
    }
}

#[derive(Default)]
struct State {
    actions: Vec<Action>,
    script: Vec<(Vec<String>, Output)>,
    files: BTreeMap<(NodeId, PathBuf), Vec<u8>>,
    services: BTreeMap<NodeId, (Option<ServiceSpec>, ServiceState)>,
    next_pid: u32,
    /// Nodes whose machine is gone ([`Runtime::probe`] fails).
    lost: BTreeMap<NodeId, String>,
}

/// The fake: `n` nodes at 198.18.0.1.. with the controller at 198.18.0.254.
pub struct RecordingRuntime {
    run: String,
    nodes: Vec<NodeInfo>,
    service_nodes: Vec<NodeInfo>,
    dir: PathBuf,
    state: Mutex<State>,
    clients: Mutex<Option<PlainRuntime>>,
}

impl RecordingRuntime {
    pub fn new(n: u16) -> Self {
        RecordingRuntime {
            run: "fake".into(),
            nodes: (1..=n)
                .map(|i| NodeInfo {
                    id: NodeId::nth(i),
                    addr: crate::netns::addr::node_addr(0, i),
                })
                .collect(),
            service_nodes: Vec::new(),
            dir: PathBuf::from("/fake/run"),
            state: Mutex::new(State {
                next_pid: 1000,
                ..State::default()
            }),
            clients: Mutex::new(None),
        }
    }

    /// Adds `k` service nodes after the system's (`n<N+1>`…, see
    /// [`Runtime::service_nodes`]).
    pub fn with_service_nodes(mut self, k: u16) -> Self {
        let n = self.nodes.len() as u16;
        self.service_nodes = (n + 1..=n + k)
            .map(|i| NodeInfo {
                id: NodeId::nth(i),
                addr: crate::netns::addr::node_addr(0, i),
            })
            .collect();
        self
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// From now on `node`'s machine is gone: [`Runtime::probe`] fails with `reason`.
    pub fn lose(&self, node: NodeId, reason: &str) {
        self.state().lost.insert(node, reason.to_string());
    }

    /// Answer `output` to every later command whose argv starts with `prefix`.
    pub fn respond(&self, prefix: &[&str], output: Output) {
        self.state()
            .script
            .push((prefix.iter().map(|s| s.to_string()).collect(), output));
    }

    /// Everything done so far, in order.
    pub fn actions(&self) -> Vec<Action> {
        self.state().actions.clone()
    }

    /// The commands run so far, as `n1: argv` lines (stdin left out).
    pub fn commands(&self) -> Vec<String> {
        self.actions()
            .into_iter()
            .filter_map(|a| match a {
                Action::Exec { node, argv, .. } => Some(format!("{node}: {argv}")),
                _ => None,
            })
            .collect()
    }

    /// The last filter table (`iptables-restore` input) applied on each node.
    pub fn filter_tables(&self) -> BTreeMap<NodeId, String> {
        let mut out = BTreeMap::new();
        for a in self.actions() {
            if let Action::Exec {
                node,
                argv,
                stdin: Some(text),
            } = a
            {
                if argv.starts_with("iptables-restore") {
                    out.insert(node, text);
                }
            }
        }
        out
    }

    /// Forgets the recorded actions.
    pub fn clear(&self) {
        self.state().actions.clear();
    }

    /// A file written so far (`rel` inside the node's directory).
    pub fn file(&self, node: NodeId, rel: &Path) -> Option<Vec<u8>> {
        self.state()
            .files
            .get(&(node, self.dir.join(node.to_string()).join(rel)))
            .cloned()
    }

    fn check(&self, node: NodeId) -> Result<(), RuntimeError> {
        if self
            .nodes
            .iter()
            .chain(&self.service_nodes)
            .any(|n| n.id == node)
        {
            Ok(())
        } else {
            Err(RuntimeError::NoSuchNode {
                run: self.run.clone(),
                node: node.to_string(),
            })
        }
    }
}

impl Runtime for RecordingRuntime {
    fn run_name(&self) -> &str {
        &self.run
    }

    fn nodes(&self) -> Vec<NodeInfo> {
        self.nodes.clone()
    }

    fn service_nodes(&self) -> Vec<NodeInfo> {
        self.service_nodes.clone()
    }

    fn clients(&self) -> Result<ControlHandle, RuntimeError> {
        let mut rt = self.clients.lock().unwrap_or_else(|e| e.into_inner());
        if rt.is_none() {
            *rt = Some(PlainRuntime::new(1).map_err(|e| RuntimeError::Other(e.to_string()))?);
        }
        Ok(rt.as_ref().expect("just made").handle())
    }

    fn exempt(&self) -> Vec<Ipv4Addr> {
        vec![crate::netns::addr::control_addr(0)]
    }

    fn exec(&self, node: NodeId, cmd: &Cmd) -> Result<Output, RuntimeError> {
        self.check(node)?;
        let argv = cmd.argv();
        let mut st = self.state();
        st.actions.push(Action::Exec {
            node,
            argv: argv.join(" "),
            stdin: cmd
                .get_stdin()
                .map(|b| String::from_utf8_lossy(b).into_owned()),
        });
        Ok(st
            .script
            .iter()
            .rev()
            .find(|(prefix, _)| argv.starts_with(prefix))
            .map(|(_, out)| out.clone())
            .unwrap_or_else(Output::ok))
    }

    fn node_dir(&self, node: NodeId) -> Result<PathBuf, RuntimeError> {
        self.check(node)?;
        Ok(self.dir.join(node.to_string()))
    }

    fn write_file(&self, node: NodeId, rel: &Path, bytes: &[u8]) -> Result<PathBuf, RuntimeError> {
        let path = self.node_dir(node)?.join(rel);
        let mut st = self.state();
        st.actions.push(Action::WriteFile {
            node,
            path: path.clone(),
            bytes: bytes.to_vec(),
        });
        st.files.insert((node, path.clone()), bytes.to_vec());
        Ok(path)
    }

    fn read_file(&self, node: NodeId, rel: &Path) -> Result<Vec<u8>, RuntimeError> {
        let path = self.node_dir(node)?.join(rel);
        self.state()
            .files
            .get(&(node, path.clone()))
            .cloned()
            .ok_or_else(|| RuntimeError::Io {
                node: node.to_string(),
                what: format!("reading {}", path.display()),
                source: std::io::Error::from(std::io::ErrorKind::NotFound),
            })
    }

    fn start_service(&self, node: NodeId, spec: ServiceSpec) -> Result<u32, RuntimeError> {
        self.check(node)?;
        let mut st = self.state();
        st.actions.push(Action::StartService {
            node,
            argv: spec
                .argv
                .iter()
                .map(|a| a.to_string_lossy().into_owned())
                .collect(),
        });
        st.next_pid += 1;
        let pid = st.next_pid;
        st.services
            .insert(node, (Some(spec), ServiceState::Running));
        Ok(pid)
    }

    fn start(&self, node: NodeId) -> Result<u32, RuntimeError> {
        self.check(node)?;
        let mut st = self.state();
        st.actions.push(Action::Start { node });
        let slot = st
            .services
            .entry(node)
            .or_insert((None, ServiceState::Stopped));
        match slot {
            (None, _) => Err(RuntimeError::NoService {
                node: node.to_string(),
            }),
            (_, ServiceState::Running | ServiceState::Paused) => {
                Err(RuntimeError::AlreadyRunning {
                    node: node.to_string(),
                    pid: 0,
                })
            }
            (_, state) => {
                *state = ServiceState::Running;
                st.next_pid += 1;
                Ok(st.next_pid)
            }
        }
    }

    fn signal(&self, node: NodeId, signal: Signal) -> Result<bool, RuntimeError> {
        self.check(node)?;
        let mut st = self.state();
        st.actions.push(Action::Signal { node, signal });
        let state = st
            .services
            .get_mut(&node)
            .map(|(_, s)| s)
            .filter(|s| matches!(s, ServiceState::Running | ServiceState::Paused));
        match (state, signal) {
            (None, Signal::Kill) => Ok(false),
            (None, _) => Err(RuntimeError::NotRunning {
                node: node.to_string(),
            }),
            (Some(s), Signal::Kill) => {
                *s = ServiceState::Stopped;
                Ok(true)
            }
            (Some(s), Signal::Stop) => {
                *s = ServiceState::Paused;
                Ok(true)
            }
            (Some(s), Signal::Cont) => {
                *s = ServiceState::Running;
                Ok(true)
            }
        }
    }

    fn service_state(&self, node: NodeId) -> Result<ServiceState, RuntimeError> {
        self.check(node)?;
        Ok(self
            .state()
            .services
            .get(&node)
            .map_or(ServiceState::Stopped, |(_, s)| *s))
    }

    fn wait_for_port(
        &self,
        node: NodeId,
        _port: u16,
        _timeout: Duration,
    ) -> Result<(), RuntimeError> {
        self.check(node)
    }

    fn faultline_binary(&self, node: NodeId) -> Result<PathBuf, RuntimeError> {
        self.check(node)?;
        Ok(PathBuf::from("/fake/bin/faultline"))
    }

    fn probe(&self, node: NodeId) -> Result<(), RuntimeError> {
        match self.state().lost.get(&node) {
            Some(reason) => Err(RuntimeError::Unreachable {
                node: node.to_string(),
                reason: reason.clone(),
            }),
            None => Ok(()),
        }
    }

    fn collect(&self, node: NodeId, _files: &[PathBuf], _dest: &Path) -> Result<(), RuntimeError> {
        self.check(node)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::filter::FilterTable;

    #[test]
    fn it_records_commands_filters_and_services() {
        let rt = RecordingRuntime::new(2);
        let n1 = NodeId::nth(1);
        let t = FilterTable {
            drop_from: [crate::netns::addr::node_addr(0, 2)].into_iter().collect(),
            ..FilterTable::default()
        };
        rt.apply_filter(n1, &t).unwrap();
        assert_eq!(
            rt.commands(),
            [
                "n1: iptables-restore -w 5 --noflush",
                "n1: iptables -w 5 -C INPUT -j FAULTLINE",
                "n1: iptables -w 5 -C OUTPUT -j FAULTLINE",
            ]
        );
        assert!(rt.filter_tables()[&n1].contains("-A FAULTLINE -s 198.18.0.2/32 -j DROP"));
        // Missing jumps are inserted.
        rt.clear();
        rt.respond(
            &["iptables", "-w", "5", "-C"],
            Output {
                code: Some(1),
                ..Output::default()
            },
        );
        rt.apply_filter(n1, &t).unwrap();
        assert!(rt
            .commands()
            .contains(&"n1: iptables -w 5 -I INPUT 1 -j FAULTLINE".to_string()));

        assert!(!rt.kill(n1).unwrap(), "nothing runs yet");
        rt.start_service(n1, ServiceSpec::new(["prog"], "/d", "/d/log"))
            .unwrap();
        assert!(rt.is_running(n1));
        assert!(rt.kill(n1).unwrap());
        assert_eq!(rt.service_state(n1).unwrap(), ServiceState::Stopped);
        rt.start(n1).unwrap();
        assert!(rt.start(n1).is_err(), "already running");
        assert!(rt.exec(NodeId::nth(3), &Cmd::new("true")).is_err());
    }

    #[test]
    fn service_nodes_follow_the_system_s_and_take_every_per_node_call() {
        let rt = RecordingRuntime::new(3).with_service_nodes(2);
        assert_eq!(rt.node_ids(), [1, 2, 3].map(NodeId::nth));
        let extra: Vec<NodeId> = rt.service_nodes().iter().map(|n| n.id).collect();
        assert_eq!(extra, [NodeId::nth(4), NodeId::nth(5)]);
        let n5 = NodeId::nth(5);
        assert_eq!(rt.addr(n5).unwrap(), crate::netns::addr::node_addr(0, 5));
        rt.start_service(n5, ServiceSpec::new(["candidate"], "/d", "/d/log"))
            .unwrap();
        rt.pause(n5).unwrap();
        assert_eq!(rt.service_state(n5).unwrap(), ServiceState::Paused);
        assert!(rt.exec(NodeId::nth(6), &Cmd::new("true")).is_err());
    }
}
