//! Typed commands and the one place that runs them.
//!
//! ```text
//! cluster / nemesis ──► Cmd (argv, optional netns, stdin) ──► dyn Exec ──► Output
//!                                                     ├─ RealExec: fork, setns, exec
//!                                                     └─ RecordingExec: remembers, answers
//! ```
//!
//! Invariants:
//! - a command is an argv vector, never a shell string (`Cmd::new("ip").args([...])`);
//! - a command with [`Cmd::netns`] set is executed *after* `setns(CLONE_NEWNET)` into
//!   `/run/netns/<name>` in the forked child, so it can never touch the host's network
//!   namespace, even transiently;
//! - every run has a deadline ([`Cmd::timeout`], 30 s by default); a command that
//!   overruns it is killed and reported as [`ExecError::Timeout`].
//!
//! Tests of pure code that emits commands use [`RecordingExec`] and assert on the exact
//! commands, as openraft's engine tests assert on emitted `Command`s.

use std::ffi::{OsStr, OsString};
use std::fmt;
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Where named network namespaces live (iproute2's convention).
pub const NETNS_DIR: &str = "/run/netns";

/// A typed command: program, argv, and where to run it.
#[derive(Clone, PartialEq, Eq)]
pub struct Cmd {
    program: OsString,
    args: Vec<OsString>,
    netns: Option<String>,
    stdin: Option<Vec<u8>>,
    env: Vec<(OsString, OsString)>,
    timeout: Duration,
}

impl Cmd {
    /// A command running `program` (looked up in `PATH`) with no arguments.
    pub fn new(program: impl AsRef<OsStr>) -> Self {
        Cmd {
            program: program.as_ref().to_owned(),
            args: Vec::new(),
            netns: None,
            stdin: None,
            env: Vec::new(),
            timeout: Duration::from_secs(30),
        }
    }

    /// Appends one argument.
    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Self {
        self.args.push(arg.as_ref().to_owned());
        self
    }

    /// Appends arguments.
    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_owned()));
        self
    }

    /// Runs the command inside the named network namespace (`/run/netns/<name>`).
    pub fn netns(mut self, name: impl Into<String>) -> Self {
        self.netns = Some(name.into());
        self
    }

    /// Feeds these bytes to the command's standard input.
    pub fn stdin(mut self, bytes: impl Into<Vec<u8>>) -> Self {
        self.stdin = Some(bytes.into());
        self
    }

    /// Sets an environment variable for the command.
    pub fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Self {
        self.env
            .push((key.as_ref().to_owned(), value.as_ref().to_owned()));
        self
    }

    /// Deadline for the whole run (default 30 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    pub fn program(&self) -> &OsStr {
        &self.program
    }

    pub fn get_args(&self) -> &[OsString] {
        &self.args
    }

    pub fn get_netns(&self) -> Option<&str> {
        self.netns.as_deref()
    }

    pub fn get_stdin(&self) -> Option<&[u8]> {
        self.stdin.as_deref()
    }

    /// The variables set with [`Cmd::env`], in order.
    pub fn get_env(&self) -> &[(OsString, OsString)] {
        &self.env
    }

    pub fn get_timeout(&self) -> Duration {
        self.timeout
    }

    /// The argv as lossy strings (program first), for logs, errors and snapshots.
    pub fn argv(&self) -> Vec<String> {
        std::iter::once(&self.program)
            .chain(self.args.iter())
            .map(|a| a.to_string_lossy().into_owned())
            .collect()
    }
}

impl fmt::Display for Cmd {
    /// `[netns fl-x-n1] iptables-restore -w 5` — for humans only, never executed.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(ns) = &self.netns {
            write!(f, "[netns {ns}] ")?;
        }
        write!(f, "{}", self.argv().join(" "))
    }
}

impl fmt::Debug for Cmd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Cmd({self})")
    }
}

/// What a finished command left behind.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Output {
    /// Exit code; `None` when the command was killed by a signal.
    pub code: Option<i32>,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

impl Output {
    /// A successful, silent run (what [`RecordingExec`] answers by default).
    pub fn ok() -> Self {
        Output {
            code: Some(0),
            ..Output::default()
        }
    }

    pub fn success(&self) -> bool {
        self.code == Some(0)
    }

    pub fn stdout_lossy(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    pub fn stderr_lossy(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }
}

/// Why a command could not be run to a successful end.
#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    #[error("cannot open network namespace {ns:?}: {source}")]
    Netns {
        ns: String,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot run `{cmd}`: {source}")]
    Spawn {
        cmd: String,
        #[source]
        source: std::io::Error,
    },
    #[error("`{cmd}` did not finish within {timeout:?} and was killed")]
    Timeout { cmd: String, timeout: Duration },
    #[error("`{cmd}` failed ({status}): {stderr}")]
    Failed {
        cmd: String,
        status: String,
        stderr: String,
    },
}

/// Runs typed commands. `Send + Sync` so one executor serves every thread.
pub trait Exec: Send + Sync {
    /// Runs the command to the end and returns what it printed, whatever its exit code.
    fn output(&self, cmd: &Cmd) -> Result<Output, ExecError>;

    /// Runs the command and fails unless it exits 0 (the error carries its stderr).
    fn run(&self, cmd: &Cmd) -> Result<Output, ExecError> {
        let out = self.output(cmd)?;
        if out.success() {
            Ok(out)
        } else {
            Err(ExecError::Failed {
                cmd: cmd.to_string(),
                status: match out.code {
                    Some(c) => format!("exit {c}"),
                    None => "killed by a signal".to_string(),
                },
                stderr: out.stderr_lossy().trim().to_string(),
            })
        }
    }
}

/// Opens a named network namespace for `setns`.
pub fn open_netns(name: &str) -> Result<OwnedFd, ExecError> {
    let path = netns_path(name);
    File::open(&path)
        .map(OwnedFd::from)
        .map_err(|source| ExecError::Netns {
            ns: name.to_string(),
            source,
        })
}

/// `/run/netns/<name>`.
pub fn netns_path(name: &str) -> PathBuf {
    Path::new(NETNS_DIR).join(name)
}

/// Makes a `std::process::Command` enter `netns` (an fd opened by [`open_netns`]) after
/// fork and before exec, and optionally become the leader of a new process group.
///
/// The fd must outlive the spawn call.
pub fn pre_exec_enter(command: &mut Command, netns: Option<&OwnedFd>, new_group: bool) {
    let raw = netns.map(|fd| fd.as_fd().as_raw_fd());
    // SAFETY: the closure runs between fork and exec and only makes async-signal-safe
    // system calls (setns, setpgid); it allocates nothing.
    unsafe {
        command.pre_exec(move || {
            if let Some(fd) = raw {
                if libc::setns(fd, libc::CLONE_NEWNET) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            if new_group && libc::setpgid(0, 0) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// The real executor: fork, `setns` into the command's namespace, exec.
#[derive(Clone, Copy, Debug, Default)]
pub struct RealExec;

impl Exec for RealExec {
    fn output(&self, cmd: &Cmd) -> Result<Output, ExecError> {
        let text = cmd.to_string();
        let ns_fd = match &cmd.netns {
            Some(ns) => Some(open_netns(ns)?),
            None => None,
        };
        let mut command = Command::new(&cmd.program);
        command
            .args(&cmd.args)
            .envs(cmd.env.iter().map(|(k, v)| (k, v)))
            .stdin(if cmd.stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        pre_exec_enter(&mut command, ns_fd.as_ref(), false);
        let spawn_err = |source| ExecError::Spawn {
            cmd: text.clone(),
            source,
        };
        let mut child = command.spawn().map_err(spawn_err)?;
        drop(ns_fd);
        if let (Some(bytes), Some(mut stdin)) = (cmd.stdin.clone(), child.stdin.take()) {
            // A child that exits early closes the pipe; its exit code tells the story.
            let _ = stdin.write_all(&bytes);
        }
        let stdout = child.stdout.take().map(reader_thread);
        let stderr = child.stderr.take().map(reader_thread);
        let deadline = Instant::now() + cmd.timeout;
        let mut pause = Duration::from_micros(200);
        let status = loop {
            match child.try_wait().map_err(spawn_err)? {
                Some(status) => break status,
                None if Instant::now() >= deadline => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(ExecError::Timeout {
                        cmd: text,
                        timeout: cmd.timeout,
                    });
                }
                None => {
                    std::thread::sleep(pause);
                    pause = (pause * 2).min(Duration::from_millis(10));
                }
            }
        };
        let join = |h: Option<std::thread::JoinHandle<Vec<u8>>>| {
            h.and_then(|h| h.join().ok()).unwrap_or_default()
        };
        Ok(Output {
            code: status.code(),
            stdout: join(stdout),
            stderr: join(stderr),
        })
    }
}

fn reader_thread<R: Read + Send + 'static>(mut r: R) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = r.read_to_end(&mut buf);
        buf
    })
}

/// A test executor: records every command and answers from a script.
///
/// By default every command succeeds silently; [`RecordingExec::respond`] sets the
/// answer for commands whose argv starts with a given prefix.
#[derive(Default)]
pub struct RecordingExec {
    log: Mutex<Vec<Cmd>>,
    script: Mutex<Vec<(Vec<String>, Output)>>,
}

impl RecordingExec {
    pub fn new() -> Self {
        Self::default()
    }

    /// Answer `output` to every later command whose argv starts with `prefix`.
    pub fn respond(&self, prefix: &[&str], output: Output) {
        self.script
            .lock()
            .expect("recording exec lock poisoned")
            .push((prefix.iter().map(|s| s.to_string()).collect(), output));
    }

    /// Every command run so far, in order.
    pub fn commands(&self) -> Vec<Cmd> {
        self.log
            .lock()
            .expect("recording exec lock poisoned")
            .clone()
    }

    /// Forgets the recorded commands.
    pub fn clear(&self) {
        self.log
            .lock()
            .expect("recording exec lock poisoned")
            .clear();
    }
}

impl Exec for RecordingExec {
    fn output(&self, cmd: &Cmd) -> Result<Output, ExecError> {
        self.log
            .lock()
            .expect("recording exec lock poisoned")
            .push(cmd.clone());
        let argv = cmd.argv();
        let script = self.script.lock().expect("recording exec lock poisoned");
        Ok(script
            .iter()
            .rev()
            .find(|(prefix, _)| argv.starts_with(prefix))
            .map(|(_, out)| out.clone())
            .unwrap_or_else(Output::ok))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn real_exec_captures_output_and_exit_code() {
        let out = RealExec
            .output(&Cmd::new("sh").args(["-c", "echo out; echo err >&2; exit 3"]))
            .expect("sh runs");
        assert_eq!(out.code, Some(3));
        assert_eq!(out.stdout_lossy(), "out\n");
        assert_eq!(out.stderr_lossy(), "err\n");
    }

    #[test]
    fn run_fails_with_stderr_in_the_error() {
        let err = RealExec
            .run(&Cmd::new("ls").arg("/definitely/not/here"))
            .expect_err("ls of a missing path fails");
        let text = err.to_string();
        assert!(text.contains("ls /definitely/not/here"), "{text}");
        assert!(text.contains("exit 2"), "{text}");
    }

    #[test]
    fn stdin_is_fed() {
        let out = RealExec
            .run(&Cmd::new("cat").stdin(b"hello".to_vec()))
            .expect("cat runs");
        assert_eq!(out.stdout, b"hello");
    }

    #[test]
    fn timeout_kills_the_command() {
        let start = Instant::now();
        let err = RealExec
            .output(
                &Cmd::new("cat")
                    .arg("/dev/zero")
                    .timeout(Duration::from_millis(100)),
            )
            .map(|_| ())
            .expect_err("cat /dev/zero never ends");
        assert!(matches!(err, ExecError::Timeout { .. }), "{err}");
        assert!(start.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn missing_namespace_is_a_clear_error() {
        let err = RealExec
            .output(&Cmd::new("true").netns("fl-no-such-namespace"))
            .expect_err("namespace does not exist");
        assert!(err.to_string().contains("fl-no-such-namespace"), "{err}");
    }

    #[test]
    fn recording_exec_records_and_answers_by_prefix() {
        let exec = RecordingExec::new();
        exec.respond(
            &["ip", "netns"],
            Output {
                code: Some(1),
                ..Output::default()
            },
        );
        assert!(exec
            .output(&Cmd::new("ip").args(["link"]))
            .unwrap()
            .success());
        assert!(!exec
            .output(&Cmd::new("ip").args(["netns", "list"]).netns("x"))
            .unwrap()
            .success());
        let cmds = exec.commands();
        assert_eq!(cmds.len(), 2);
        assert_eq!(cmds[1].to_string(), "[netns x] ip netns list");
    }
}
