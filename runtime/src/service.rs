//! The service slot of a node: one long-running program started inside the node's
//! namespace, in its own process group, with its output appended to a log file.
//!
//! ```text
//! ServiceSpec (argv, env, cwd, log) ──start──► child = leader of a new process group
//!                                              ├─ kill:   SIGKILL to the group (STONITH)
//!                                              ├─ pause:  SIGSTOP to the group
//!                                              └─ resume: SIGCONT to the group
//! ```
//!
//! Invariants: the child enters the namespace and its new process group between fork
//! and exec, so it never runs a single instruction in the host namespace; `kill`
//! returns only after every member of the group is gone (or a zombie), so a restarted
//! node can bind its port again; a spec is kept so `start` after `kill` runs the same
//! program again (Jepsen's `Kill` capability: `kill!` / `start!`).

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fs::{self, OpenOptions};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use serde::{Deserialize, Serialize};

use crate::exec::{open_netns, pre_exec_enter};
use crate::wait::poll_until;

/// How long `kill` waits for a killed group to disappear.
pub const KILL_TIMEOUT: Duration = Duration::from_secs(10);

/// What to run on a node.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceSpec {
    /// Program and arguments (`argv[0]` is looked up in `PATH` unless it is a path).
    pub argv: Vec<OsString>,
    /// Extra environment on top of the controller's.
    pub env: BTreeMap<OsString, OsString>,
    /// Working directory (created if missing): the node's data dir.
    pub cwd: PathBuf,
    /// stdout and stderr are appended here (parent dirs created).
    pub log: PathBuf,
}

impl ServiceSpec {
    pub fn new<I, S>(argv: I, cwd: impl Into<PathBuf>, log: impl Into<PathBuf>) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        ServiceSpec {
            argv: argv.into_iter().map(Into::into).collect(),
            env: BTreeMap::new(),
            cwd: cwd.into(),
            log: log.into(),
        }
    }

    pub fn env(mut self, key: impl Into<OsString>, value: impl Into<OsString>) -> Self {
        self.env.insert(key.into(), value.into());
        self
    }
}

/// What the slot holds right now.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ServiceState {
    /// Never started, or killed.
    Stopped,
    Running,
    /// Stopped with SIGSTOP.
    Paused,
    /// The program ended on its own (exit code, or `None` if a signal ended it).
    Exited(Option<i32>),
}

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error("node {node}: no service spec was given (start_service first)")]
    NoSpec { node: String },
    #[error("node {node}: the service is already running (pid {pid})")]
    AlreadyRunning { node: String, pid: u32 },
    #[error("node {node}: the service is not running")]
    NotRunning { node: String },
    #[error("node {node}: cannot start {argv:?}: {source}")]
    Spawn {
        node: String,
        argv: Vec<OsString>,
        #[source]
        source: std::io::Error,
    },
    #[error("node {node}: {what}: {source}")]
    Signal {
        node: String,
        what: &'static str,
        #[source]
        source: nix::Error,
    },
    #[error("node {node}: {source}")]
    Wait {
        node: String,
        #[source]
        source: crate::wait::WaitError,
    },
}

/// One node's service slot (owned by the cluster's `Node`, behind a mutex).
#[derive(Debug, Default)]
pub struct Service {
    spec: Option<ServiceSpec>,
    child: Option<Child>,
    /// Process group of the last start; outlives the leader (a launcher that forks the
    /// real program and exits leaves the group behind, and kill must still reach it).
    pgid: Option<i32>,
    paused: bool,
    exited: Option<Option<i32>>,
}

impl Service {
    pub fn spec(&self) -> Option<&ServiceSpec> {
        self.spec.as_ref()
    }

    pub fn set_spec(&mut self, spec: ServiceSpec) {
        self.spec = Some(spec);
    }

    /// Process group id (= pid of the program started) while any of it runs.
    pub fn pid(&mut self) -> Option<u32> {
        self.live_group().map(|g| g as u32)
    }

    fn refresh(&mut self) {
        if let Some(child) = &mut self.child {
            if let Ok(Some(status)) = child.try_wait() {
                self.exited = Some(status.code());
                self.child = None;
            }
        }
    }

    /// The live process group, if any member of it still runs.
    fn live_group(&mut self) -> Option<i32> {
        self.refresh();
        let pgid = self.pgid?;
        if self.child.is_some() || !group_alive(pgid).is_empty() {
            Some(pgid)
        } else {
            self.pgid = None;
            self.paused = false;
            None
        }
    }

    /// Running (or paused) while any process of the group lives, even if the first
    /// process (a launcher) has exited.
    pub fn state(&mut self) -> ServiceState {
        match (self.live_group(), self.paused, self.exited) {
            (Some(_), true, _) => ServiceState::Paused,
            (Some(_), false, _) => ServiceState::Running,
            (None, _, Some(code)) => ServiceState::Exited(code),
            (None, _, None) => ServiceState::Stopped,
        }
    }

    /// Starts the spec'd program inside `ns` (fails if it is already running).
    pub fn start(&mut self, node: &str, ns: &str) -> Result<u32, ServiceError> {
        if let Some(pgid) = self.live_group() {
            return Err(ServiceError::AlreadyRunning {
                node: node.to_string(),
                pid: pgid as u32,
            });
        }
        let spec = self.spec.clone().ok_or_else(|| ServiceError::NoSpec {
            node: node.to_string(),
        })?;
        let spawn_err = |source| ServiceError::Spawn {
            node: node.to_string(),
            argv: spec.argv.clone(),
            source,
        };
        let (program, args) = spec
            .argv
            .split_first()
            .ok_or_else(|| spawn_err(std::io::Error::other("empty argv")))?;
        fs::create_dir_all(&spec.cwd).map_err(spawn_err)?;
        if let Some(parent) = spec.log.parent() {
            fs::create_dir_all(parent).map_err(spawn_err)?;
        }
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&spec.log)
            .map_err(spawn_err)?;
        let log_err = log.try_clone().map_err(spawn_err)?;
        let fd = open_netns(ns).map_err(|e| spawn_err(std::io::Error::other(e.to_string())))?;
        let mut command = Command::new(program);
        command
            .args(args)
            .envs(&spec.env)
            .current_dir(&spec.cwd)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_err);
        pre_exec_enter(&mut command, Some(&fd), true);
        let child = command.spawn().map_err(spawn_err)?;
        let pid = child.id();
        tracing::debug!(node, pid, argv = ?spec.argv, "service started");
        self.child = Some(child);
        self.pgid = Some(pid as i32);
        self.paused = false;
        self.exited = None;
        Ok(pid)
    }

    /// SIGKILLs the whole process group and waits until it is gone. Returns whether
    /// anything was running.
    pub fn kill(&mut self, node: &str) -> Result<bool, ServiceError> {
        let Some(raw) = self.live_group() else {
            return Ok(false);
        };
        let pgid = Pid::from_raw(raw);
        // ESRCH: the group is already gone; that is what we want.
        match killpg(pgid, Signal::SIGKILL) {
            Ok(()) | Err(nix::errno::Errno::ESRCH) => {}
            Err(source) => {
                return Err(ServiceError::Signal {
                    node: node.to_string(),
                    what: "SIGKILL to the process group",
                    source,
                });
            }
        }
        // Reap the leader; the rest of the group is reaped by whoever adopted it.
        if let Some(mut child) = self.child.take() {
            let _ = child.wait();
        }
        self.pgid = None;
        self.paused = false;
        self.exited = None;
        poll_until(
            KILL_TIMEOUT,
            &format!("process group {pgid} of node {node} to die"),
            || group_alive(pgid.as_raw()).is_empty().then_some(()),
        )
        .map_err(|source| ServiceError::Wait {
            node: node.to_string(),
            source,
        })?;
        Ok(true)
    }

    /// SIGSTOP to the group.
    pub fn pause(&mut self, node: &str) -> Result<(), ServiceError> {
        self.signal(node, Signal::SIGSTOP, "SIGSTOP to the process group")?;
        self.paused = true;
        Ok(())
    }

    /// SIGCONT to the group.
    pub fn resume(&mut self, node: &str) -> Result<(), ServiceError> {
        self.signal(node, Signal::SIGCONT, "SIGCONT to the process group")?;
        self.paused = false;
        Ok(())
    }

    fn signal(&mut self, node: &str, sig: Signal, what: &'static str) -> Result<(), ServiceError> {
        let pgid = self.live_group().ok_or_else(|| ServiceError::NotRunning {
            node: node.to_string(),
        })?;
        killpg(Pid::from_raw(pgid), sig).map_err(|source| ServiceError::Signal {
            node: node.to_string(),
            what,
            source,
        })
    }
}

/// Live (non-zombie) members of a process group, found through /proc.
pub fn group_alive(pgid: i32) -> Vec<i32> {
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
                let f = crate::netns::registry::stat_fields(&stat);
                let live = f.first().is_some_and(|s| *s != "Z" && *s != "X");
                // Field 5 (pgrp) is index 2 after the command name.
                live && f.get(2).and_then(|g| g.parse::<i32>().ok()) == Some(pgid)
            })
        })
        .collect()
}
