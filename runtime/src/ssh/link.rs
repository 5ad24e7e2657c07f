//! One node's SSH connection: an `openssh` master (the system's `ssh -M`, multiplexed),
//! behind the same [`Exec`] interface local commands use. Commands go over the master's
//! control socket with `openssh`'s native mux client (no local `ssh` process per
//! command).
//!
//! ```text
//! SshCluster ──Exec::output(Cmd)──► SshLink ──mux protocol on <ctl>──► 'prog' 'arg'… on the node
//!                                      └─ master: ssh -M -f -N [-F cfg] [-l user] [-p port] [-i key] host
//! ```
//!
//! The master `ssh` process is spawned by a task on the given tokio
//! runtime, so it lives in that runtime's network: the controller's own, or — in the
//! tests — a control namespace's ([`crate::ControlRuntime`]). Callers block on a
//! channel, never on the runtime, so this works from any thread.
//!
//! Invariants: the master uses `BatchMode=yes` (never prompts), `ServerAliveInterval`
//! (a dead node is noticed, not waited for forever), and the host-key policy given;
//! every command has the [`Cmd`]'s deadline; an SSH failure (unreachable, auth refused,
//! host key changed, master gone) is an [`ExecError`] naming the host, never an exit code;
//! a command's exit status is its outcome, 127 (not found) included.

use std::path::PathBuf;
use std::process::Output as ProcessOutput;
use std::sync::Arc;
use std::time::Duration;

use openssh::{KnownHosts, Session, SessionBuilder, Stdio};
use tokio::io::AsyncWriteExt;

use super::config::{Host, HostKeyChecking, SshConfig};
use crate::control::ControlHandle;
use crate::exec::{Cmd, Exec, ExecError, Output};

/// How often the master checks that the node still answers (three misses end it, so a
/// node that stops answering is noticed within 15 s; a closed connection at once).
pub const SERVER_ALIVE: Duration = Duration::from_secs(5);

/// The exit status of a command the remote shell could not find.
pub const EXIT_NOT_FOUND: i32 = 127;

/// What the SSH runtime needs of one node's connection: commands ([`Exec`]), and the
/// state of the connection itself.
pub trait NodeLink: Exec {
    /// `Ok` while the connection is up; ssh's reason once it is gone (the node closed
    /// it, or stopped answering the master's keep-alives). Local and cheap: no command
    /// runs on the node.
    fn alive(&self) -> Result<(), String>;

    /// Ends the connection now, for a controller about to exit without running
    /// destructors (a forced interrupt). Best effort.
    fn stop(&self) {}
}

/// A live master connection to one host.
pub struct SshLink {
    host: Host,
    session: Option<Arc<Session>>,
    handle: ControlHandle,
}

impl std::fmt::Debug for SshLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SshLink({})", self.host)
    }
}

/// Runs `fut` on `handle`'s runtime and waits for it on this thread.
fn run_on<F>(handle: &ControlHandle, fut: F) -> Option<F::Output>
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    handle.spawn(async move {
        let _ = tx.send(fut.await);
    });
    rx.recv().ok()
}

/// An openssh error with its causes (`ssh`'s own message is in the source).
fn describe(e: &openssh::Error) -> String {
    let mut s = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(cause) = src {
        let c = cause.to_string();
        if !c.is_empty() && !s.contains(&c) {
            s.push_str(": ");
            s.push_str(c.trim());
        }
        src = cause.source();
    }
    s
}

impl SshLink {
    /// Opens the master connection to `host` with `cfg`'s options. The error names the
    /// host and carries ssh's reason (e.g. "Connection refused", "Permission denied
    /// (publickey)", "Host key verification failed").
    pub fn connect(
        cfg: &SshConfig,
        host: &Host,
        handle: &ControlHandle,
    ) -> Result<SshLink, String> {
        let mut b = SessionBuilder::default();
        if let Some(user) = &cfg.user {
            b.user(user.clone());
        }
        if let Some(port) = cfg.port {
            b.port(port);
        }
        if let Some(key) = &cfg.private_key {
            b.keyfile(key);
        }
        if let Some(file) = &cfg.ssh_config {
            b.config_file(file);
        }
        if let Some(file) = &cfg.known_hosts {
            b.user_known_hosts_file(file);
        }
        b.known_hosts_check(match cfg.host_key_checking {
            HostKeyChecking::Yes => KnownHosts::Strict,
            HostKeyChecking::No => KnownHosts::Accept,
            HostKeyChecking::AcceptNew => KnownHosts::Add,
        })
        .connect_timeout(cfg.connect_timeout)
        .server_alive_interval(SERVER_ALIVE)
        .control_directory(std::env::temp_dir());
        let dest = host.as_str().to_string();
        let wait = cfg.connect_timeout + Duration::from_secs(5);
        let session = run_on(handle, async move {
            tokio::time::timeout(wait, b.connect_mux(dest)).await
        })
        .ok_or_else(|| format!("{host}: the SSH runtime stopped while connecting"))?
        .map_err(|_| format!("{host}: ssh did not connect within {wait:?}"))?
        .map_err(|e| format!("{host}: ssh: {}", describe(&e)))?;
        Ok(SshLink {
            host: host.clone(),
            session: Some(Arc::new(session)),
            handle: handle.clone(),
        })
    }

    pub fn host(&self) -> &Host {
        &self.host
    }

    /// Whether the master connection still works (a mux alive check on its control
    /// socket: `ssh -O check`).
    pub fn check(&self) -> Result<(), String> {
        let session = self.session()?;
        run_on(&self.handle, async move { session.check().await })
            .ok_or_else(|| format!("{}: the SSH runtime stopped", self.host))?
            .map_err(|e| {
                format!(
                    "{}: the SSH connection is gone: {}",
                    self.host,
                    describe(&e)
                )
            })
    }

    fn session(&self) -> Result<Arc<Session>, String> {
        self.session
            .clone()
            .ok_or_else(|| format!("{}: the SSH connection is closed", self.host))
    }

    /// Closes the master (`ssh -O exit`) once no command is running.
    pub fn close(&mut self) -> Result<(), String> {
        let Some(session) = self.session.take() else {
            return Ok(());
        };
        let host = self.host.clone();
        match Arc::try_unwrap(session) {
            Ok(session) => run_on(&self.handle, async move { session.close().await })
                .ok_or_else(|| format!("{host}: the SSH runtime stopped"))?
                .map_err(|e| format!("{host}: closing ssh: {}", describe(&e))),
            // A command still runs somewhere; dropping the last Arc closes the master.
            Err(_) => Ok(()),
        }
    }

    /// The control socket (for tests and `faultline cluster`).
    pub fn control_socket(&self) -> Option<PathBuf> {
        self.session
            .as_ref()
            .map(|s| s.control_socket().to_path_buf())
    }
}

impl Drop for SshLink {
    fn drop(&mut self) {
        if let Err(e) = self.close() {
            tracing::debug!("{e}");
        }
    }
}

impl NodeLink for SshLink {
    fn alive(&self) -> Result<(), String> {
        self.check()
    }

    /// `ssh -S <control socket> -O exit`: the master goes even though commands (or the
    /// `Arc`s of stuck threads) still hold the session.
    fn stop(&self) {
        let Some(ctl) = self.control_socket() else {
            return;
        };
        let cmd = Cmd::new("ssh")
            .arg("-S")
            .arg(ctl)
            .args(["-O", "exit", "--", self.host.as_str()])
            .timeout(Duration::from_secs(5));
        if let Err(e) = crate::exec::RealExec.run(&cmd) {
            tracing::debug!("{}: stopping the ssh master: {e}", self.host);
        }
    }
}

impl Exec for SshLink {
    /// Runs `cmd` on the node through the master: its argv quoted for the remote shell,
    /// its stdin fed, its deadline kept (the local `ssh` is killed when it passes).
    fn output(&self, cmd: &Cmd) -> Result<Output, ExecError> {
        let text = format!("[{}] {cmd}", self.host);
        let fail = |why: String| ExecError::Spawn {
            cmd: text.clone(),
            source: std::io::Error::other(why),
        };
        if cmd.get_netns().is_some() || !cmd.get_env().is_empty() {
            return Err(fail(
                "a command for an SSH node takes neither a namespace nor an environment".into(),
            ));
        }
        let session = self.session().map_err(fail)?;
        let program = cmd.program().to_string_lossy().into_owned();
        let args: Vec<String> = cmd
            .get_args()
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        let stdin = cmd.get_stdin().map(<[u8]>::to_vec);
        let timeout = cmd.get_timeout();
        let host = self.host.clone();
        let fut = async move {
            let mut c = session.arc_command(program);
            c.args(&args)
                .stdin(if stdin.is_some() {
                    Stdio::piped()
                } else {
                    Stdio::null()
                })
                .stdout(Stdio::piped())
                .stderr(Stdio::piped());
            let run = async {
                let mut child = c.spawn().await?;
                if let (Some(bytes), Some(mut pipe)) = (stdin, child.stdin().take()) {
                    // A command that exits early closes the pipe; its status tells.
                    let _ = pipe.write_all(&bytes).await;
                    let _ = pipe.shutdown().await;
                    drop(pipe);
                }
                child.wait_with_output().await
            };
            tokio::time::timeout(timeout, run).await
        };
        let res: Result<Result<ProcessOutput, openssh::Error>, _> = run_on(&self.handle, fut)
            .ok_or_else(|| fail(format!("{host}: the SSH runtime stopped")))?;
        match res {
            Err(_) => Err(ExecError::Timeout { cmd: text, timeout }),
            // openssh turns exit status 127 into an error; it is the command's outcome
            // (the shell's "not found"), not a failure of the connection. Its output is
            // lost with it.
            Ok(Err(openssh::Error::Remote(e))) if e.kind() == std::io::ErrorKind::NotFound => {
                Ok(Output {
                    code: Some(EXIT_NOT_FOUND),
                    stdout: Vec::new(),
                    stderr: format!("{e} (exit {EXIT_NOT_FOUND})").into_bytes(),
                })
            }
            Ok(Err(e)) => Err(fail(format!("ssh to {}: {}", self.host, describe(&e)))),
            Ok(Ok(out)) => Ok(Output {
                code: out.status.code(),
                stdout: out.stdout,
                stderr: out.stderr,
            }),
        }
    }
}
