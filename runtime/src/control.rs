//! The control-namespace runtime: a tokio runtime whose every thread lives in
//! `fl-<run>-ctl`, so sockets opened by client code (tokio, reqwest, hyper) are created
//! in the control namespace and reach node addresses over the run's bridge.
//!
//! ```text
//! caller thread (host ns) ──spawn / block_on──► worker threads (setns'd into fl-<run>-ctl)
//!                                                  └─ TcpStream::connect(198.18.s.i:port)
//! ```
//!
//! Invariants:
//! - every thread the runtime starts (workers and blocking-pool threads, whoever asks
//!   for them) enters the control namespace in `on_thread_start` before running any
//!   task; if that ever fails the process aborts, because a socket opened in the host
//!   namespace could send traffic somewhere real;
//! - futures never run on the caller's thread: [`ControlHandle::block_on`] spawns the
//!   future onto a worker and only waits for its result there. Do not use a raw
//!   `tokio::runtime::Handle::block_on` from outside: it would poll the future (and
//!   open its sockets) on the calling thread.

use std::future::Future;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::MetadataExt;
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;

use crate::exec::{netns_path, open_netns, ExecError};

/// Owns the runtime; dropping it shuts the runtime down (1 s grace for tasks).
pub struct ControlRuntime {
    rt: Option<tokio::runtime::Runtime>,
    ns: String,
}

/// Cheap, cloneable access to the control runtime.
#[derive(Clone, Debug)]
pub struct ControlHandle {
    handle: tokio::runtime::Handle,
}

#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    #[error(transparent)]
    Netns(#[from] ExecError),
    #[error("cannot build the control runtime: {0}")]
    Build(#[source] std::io::Error),
    #[error("control runtime threads are not in namespace {0}")]
    WrongNamespace(String),
}

impl ControlRuntime {
    /// Starts a multi-threaded runtime with `workers` threads inside namespace `ns`.
    pub fn new(ns: &str, workers: usize) -> Result<Self, ControlError> {
        let fd: Arc<OwnedFd> = Arc::new(open_netns(ns)?);
        let hook_fd = Arc::clone(&fd);
        let hook_ns = ns.to_string();
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(workers.max(1))
            .thread_name(format!("{ns}-rt"))
            .enable_all()
            .on_thread_start(move || {
                // SAFETY: setns on a valid namespace fd changes only this thread.
                if unsafe { libc::setns(hook_fd.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
                    eprintln!(
                        "faultline: cannot enter control namespace {hook_ns}: {}; aborting \
                         rather than opening sockets in the host namespace",
                        std::io::Error::last_os_error()
                    );
                    std::process::abort();
                }
            })
            .build()
            .map_err(ControlError::Build)?;
        let this = ControlRuntime {
            rt: Some(rt),
            ns: ns.to_string(),
        };
        // Prove it: a task reports the namespace its thread is in.
        let want = fs_ino(&netns_path(ns));
        let got = this
            .handle()
            .block_on(async { fs_ino(std::path::Path::new("/proc/thread-self/ns/net")) })
            .ok()
            .flatten();
        if want.is_none() || got != want {
            return Err(ControlError::WrongNamespace(ns.to_string()));
        }
        Ok(this)
    }

    pub fn namespace(&self) -> &str {
        &self.ns
    }

    pub fn handle(&self) -> ControlHandle {
        ControlHandle {
            handle: self
                .rt
                .as_ref()
                .expect("runtime is present until drop")
                .handle()
                .clone(),
        }
    }
}

impl Drop for ControlRuntime {
    fn drop(&mut self) {
        if let Some(rt) = self.rt.take() {
            rt.shutdown_timeout(Duration::from_secs(1));
        }
    }
}

impl ControlHandle {
    /// Spawns a task on the control runtime.
    pub fn spawn<F>(&self, fut: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.handle.spawn(fut)
    }

    /// Runs blocking code on a control-namespace thread.
    pub fn spawn_blocking<F, R>(&self, f: F) -> JoinHandle<R>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        self.handle.spawn_blocking(f)
    }

    /// Runs `fut` on a control-namespace worker and blocks the calling (non-async)
    /// thread until it finishes. Errors only if the task panicked or was cancelled.
    /// Must not be called from inside an async context.
    pub fn block_on<F>(&self, fut: F) -> Result<F::Output, tokio::task::JoinError>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let task = self.handle.spawn(fut);
        self.handle.block_on(task)
    }

    /// The underlying tokio handle, for APIs that need one. Only `spawn`-style use keeps
    /// the namespace invariant (see the module doc).
    pub fn tokio(&self) -> &tokio::runtime::Handle {
        &self.handle
    }
}

fn fs_ino(path: &std::path::Path) -> Option<(u64, u64)> {
    std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()))
}

/// A tokio runtime on the controller's own network (SSH nodes, tests): clients connect
/// to the nodes' addresses directly. Dropping it shuts it down (1 s grace for tasks).
pub struct PlainRuntime {
    rt: Option<tokio::runtime::Runtime>,
}

impl PlainRuntime {
    pub fn new(workers: usize) -> Result<Self, ControlError> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(workers.max(1))
            .thread_name("faultline-clients")
            .enable_all()
            .build()
            .map_err(ControlError::Build)?;
        Ok(PlainRuntime { rt: Some(rt) })
    }

    pub fn handle(&self) -> ControlHandle {
        ControlHandle {
            handle: self
                .rt
                .as_ref()
                .expect("runtime is present until drop")
                .handle()
                .clone(),
        }
    }
}

impl Drop for PlainRuntime {
    fn drop(&mut self) {
        if let Some(rt) = self.rt.take() {
            rt.shutdown_timeout(Duration::from_secs(1));
        }
    }
}
