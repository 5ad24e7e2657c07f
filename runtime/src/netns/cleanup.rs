//! Cleanup you can trust: tearing a run down from its registry record alone, sweeping
//! what dead controllers left (`faultline clean`, and every new run), and SIGINT /
//! SIGTERM handling.
//!
//! ```text
//! teardown(record):  SIGKILL every process in the run's namespaces (wait until gone)
//!                    ──► ip -force -batch "netns del …"   (iptables rules die with them)
//!                    ──► registry.release(run)
//! clean(scope):      runs in scope ──► teardown; then fl-* namespaces with no record
//! signals:           SIGINT/SIGTERM ──► flag for the owner ──grace / 2nd signal──►
//!                    forced-exit hooks (runs the registry does not know: SSH nodes)
//!                    ──► teardown of every run this process owns ──► exit 128+sig
//! ```
//!
//! Invariants: teardown needs nothing but the record (so it works for a SIGKILLed
//! controller); every step is attempted even when an earlier one failed, each failure is
//! logged, and the first is returned. A namespace is considered orphaned only if no
//! record names its run: records are written before a run's first namespace and
//! removed after its last.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::addr;
use super::network as netns;
use super::registry::{Owner, Registry, RunRecord};
use crate::exec::Exec;

/// How long teardown waits for killed processes to vanish.
pub const TEARDOWN_KILL_TIMEOUT: Duration = Duration::from_secs(10);

/// Tears a run down from its record. Best effort; returns the first error.
pub fn teardown(exec: &dyn Exec, registry: &Registry, record: &RunRecord) -> Result<(), String> {
    let namespaces = record.namespaces();
    teardown_namespaces(exec, &namespaces)
        .and(registry.release(&record.run).map_err(|e| e.to_string()))
}

/// Kills every process in the namespaces, then deletes them. Best effort.
pub fn teardown_namespaces(exec: &dyn Exec, namespaces: &[String]) -> Result<(), String> {
    let mut first: Option<String> = None;
    let mut note = |e: String| {
        tracing::warn!("teardown: {e}");
        first.get_or_insert(e);
    };
    std::thread::scope(|s| {
        let handles: Vec<_> = namespaces
            .iter()
            .map(|ns| s.spawn(move || netns::kill_all_in(ns, TEARDOWN_KILL_TIMEOUT)))
            .collect();
        for h in handles {
            if let Err(e) = h.join().expect("kill thread does not panic") {
                note(e);
            }
        }
    });
    let existing = netns::existing_namespaces();
    let present: Vec<String> = namespaces
        .iter()
        .filter(|ns| existing.contains(*ns))
        .cloned()
        .collect();
    if !present.is_empty() {
        if let Err(e) = exec.run(&netns::delete_namespaces_cmd(&present)) {
            note(e.to_string());
        }
    }
    match first {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// Which runs `clean` removes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CleanScope {
    /// Runs whose owner process is dead (done before every new run).
    Stale,
    /// Stale runs and detached sandbox clusters: everything no live controller owns
    /// (`faultline clean`).
    Unowned,
    /// Everything, including runs of live controllers (`faultline clean --all`).
    All,
    /// One run by name.
    Run(String),
}

/// What `clean` removed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CleanReport {
    pub runs: Vec<String>,
    pub orphan_namespaces: Vec<String>,
    pub errors: Vec<String>,
}

/// Removes runs in `scope`, then (except for `Run`) namespaces no record accounts for.
pub fn clean(exec: &dyn Exec, registry: &Registry, scope: &CleanScope) -> CleanReport {
    let mut report = CleanReport::default();
    let records = match registry.list() {
        Ok(r) => r,
        Err(e) => {
            report.errors.push(e.to_string());
            Vec::new()
        }
    };
    let mut known: BTreeSet<String> = BTreeSet::new();
    for record in &records {
        let chosen = match scope {
            CleanScope::Stale => record.is_stale(),
            CleanScope::Unowned => record.owner.is_none_or(|o| !o.is_alive()),
            CleanScope::All => true,
            CleanScope::Run(run) => &record.run == run,
        };
        if !chosen {
            known.insert(record.run.clone());
            continue;
        }
        match teardown(exec, registry, record) {
            Ok(()) => report.runs.push(record.run.clone()),
            Err(e) => {
                known.insert(record.run.clone());
                report.errors.push(format!("run {}: {e}", record.run));
            }
        }
    }
    if let CleanScope::Run(run) = scope {
        if !records.iter().any(|r| &r.run == run) && registry.is_system() {
            let orphans: Vec<String> = netns::existing_namespaces()
                .into_iter()
                .filter(|ns| addr::run_of_ns(ns) == Some(run.as_str()))
                .collect();
            sweep(exec, orphans, &mut report);
        }
        return report;
    }
    // Only the machine's own registry accounts for every fl-* namespace; a registry
    // elsewhere (tests) must never sweep namespaces it does not know.
    if !registry.is_system() {
        return report;
    }
    // Re-read: a run claimed meanwhile must not lose its fresh namespaces.
    if let Ok(now) = registry.list() {
        known.extend(now.into_iter().map(|r| r.run));
    }
    let orphans: Vec<String> = netns::existing_namespaces()
        .into_iter()
        .filter(|ns| addr::run_of_ns(ns).is_some_and(|run| !known.contains(run)))
        .collect();
    sweep(exec, orphans, &mut report);
    if let Err(e) = registry.reclaim_orphan_slots() {
        report.errors.push(e.to_string());
    }
    report
}

fn sweep(exec: &dyn Exec, orphans: Vec<String>, report: &mut CleanReport) {
    if orphans.is_empty() {
        return;
    }
    match teardown_namespaces(exec, &orphans) {
        Ok(()) => report.orphan_namespaces.extend(orphans),
        Err(e) => report.errors.push(e),
    }
}

/// What a forced exit must still do for a run the registry does not know.
type Hook = Arc<dyn Fn() + Send + Sync>;

/// Set when SIGINT or SIGTERM arrived; the owner should wind down (heal, collect logs,
/// `down`). If it has not exited after the grace period, or on a second signal, the
/// forced-exit hooks run ([`Shutdown::on_forced_exit`]), every run this process owns is
/// torn down and the process exits with 128+signal.
#[derive(Clone)]
pub struct Shutdown {
    flag: Arc<AtomicBool>,
    /// Set once the forced exit began.
    forced: Arc<AtomicBool>,
    hooks: Arc<Mutex<BTreeMap<u64, Hook>>>,
    next: Arc<AtomicU64>,
}

impl std::fmt::Debug for Shutdown {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shutdown")
            .field("requested", &self.requested())
            .finish()
    }
}

/// Keeps a forced-exit hook registered; dropping it removes the hook.
#[must_use = "the hook is removed when this is dropped"]
pub struct ForcedExitHook {
    hooks: Arc<Mutex<BTreeMap<u64, Hook>>>,
    id: u64,
}

impl Drop for ForcedExitHook {
    fn drop(&mut self) {
        self.hooks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&self.id);
    }
}

impl Shutdown {
    fn new() -> Shutdown {
        Shutdown {
            flag: Arc::new(AtomicBool::new(false)),
            forced: Arc::new(AtomicBool::new(false)),
            hooks: Arc::new(Mutex::new(BTreeMap::new())),
            next: Arc::new(AtomicU64::new(0)),
        }
    }

    pub fn requested(&self) -> bool {
        self.flag.load(Ordering::SeqCst)
    }

    /// For the main thread once it is done: when a forced exit is under way, waits for
    /// it (the signal thread exits the process with 128+signal after every hook and
    /// teardown has run), so the process never exits with its own code meanwhile.
    pub fn await_forced_exit(&self) {
        if self.forced.load(Ordering::SeqCst) {
            loop {
                std::thread::park();
            }
        }
    }

    /// Registers `f` to run, on the signal thread, if the process is forced out (the
    /// grace period passed, or a second signal came) while the guard lives: the
    /// teardown of nodes the run registry does not know (SSH nodes). `f` must finish
    /// on its own; the process exits after every hook returned.
    pub fn on_forced_exit(&self, f: impl Fn() + Send + Sync + 'static) -> ForcedExitHook {
        let id = self.next.fetch_add(1, Ordering::SeqCst);
        self.hooks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id, Arc::new(f));
        ForcedExitHook {
            hooks: Arc::clone(&self.hooks),
            id,
        }
    }

    /// Runs every registered hook, all at once (each tears down its own nodes), and
    /// returns once all have.
    fn run_forced_exit_hooks(&self) {
        let hooks: Vec<Hook> = self
            .hooks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .cloned()
            .collect();
        std::thread::scope(|s| {
            for hook in &hooks {
                s.spawn(move || hook());
            }
        });
    }
}

/// Installs the SIGINT/SIGTERM handler (a watcher thread; call once per process).
pub fn install_signal_handler(
    exec: Arc<dyn Exec>,
    registry: Registry,
    grace: Duration,
) -> std::io::Result<Shutdown> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM])?;
    let shutdown = Shutdown::new();
    let forced = shutdown.clone();
    let flag = Arc::clone(&shutdown.flag);
    std::thread::Builder::new()
        .name("faultline-signals".to_string())
        .spawn(move || {
            let Some(first) = signals.forever().next() else {
                return;
            };
            flag.store(true, Ordering::SeqCst);
            eprintln!("faultline: signal {first}: healing and tearing down (again to force)");
            let handle = signals.handle();
            let (tx, rx) = std::sync::mpsc::channel();
            std::thread::spawn(move || {
                if let Some(sig) = signals.forever().next() {
                    let _ = tx.send(sig);
                }
            });
            let sig = rx.recv_timeout(grace).unwrap_or(first);
            handle.close();
            forced.forced.store(true, Ordering::SeqCst);
            forced.run_forced_exit_hooks();
            let me = Owner::current();
            for record in registry.list().unwrap_or_default() {
                if record.owner.is_some_and(|o| o.pid == me.pid) {
                    if let Err(e) = teardown(exec.as_ref(), &registry, &record) {
                        eprintln!("faultline: teardown of run {}: {e}", record.run);
                    }
                }
            }
            std::process::exit(128 + sig);
        })?;
    Ok(shutdown)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exec::RecordingExec;

    #[test]
    fn forced_exit_hooks_run_while_registered() {
        let shutdown = Shutdown::new();
        let ran = Arc::new(Mutex::new(Vec::new()));
        let hook = |name: &'static str| {
            let ran = Arc::clone(&ran);
            move || ran.lock().unwrap().push(name)
        };
        let a = shutdown.on_forced_exit(hook("a"));
        let b = shutdown.clone().on_forced_exit(hook("b"));
        drop(a);
        shutdown.run_forced_exit_hooks();
        assert_eq!(*ran.lock().unwrap(), ["b"], "a was removed with its guard");
        drop(b);
        shutdown.run_forced_exit_hooks();
        assert_eq!(ran.lock().unwrap().len(), 1);
    }

    #[test]
    fn scopes_choose_the_right_runs() {
        let dir = std::env::temp_dir().join(format!("fl-clean-scopes-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let registry = Registry::new(&dir);
        let dead = Owner {
            pid: i32::MAX - 7,
            start_time: 1,
        };
        // Names no real namespace can have, so nothing on this machine is touched.
        registry
            .claim("zz-scope-live", 1, Some(Owner::current()))
            .unwrap();
        registry.claim("zz-scope-dead", 1, Some(dead)).unwrap();
        registry.claim("zz-scope-sandbox", 1, None).unwrap();
        let exec = RecordingExec::new();
        let names = |r: CleanReport| r.runs;
        assert_eq!(
            names(clean(&exec, &registry, &CleanScope::Stale)),
            ["zz-scope-dead"]
        );
        assert_eq!(
            names(clean(&exec, &registry, &CleanScope::Unowned)),
            ["zz-scope-sandbox"]
        );
        assert_eq!(
            registry
                .list()
                .unwrap()
                .iter()
                .map(|r| r.run.as_str())
                .collect::<Vec<_>>(),
            ["zz-scope-live"]
        );
        assert_eq!(
            names(clean(
                &exec,
                &registry,
                &CleanScope::Run("zz-scope-live".into())
            )),
            ["zz-scope-live"]
        );
        assert!(
            exec.commands().is_empty(),
            "no namespace existed, none deleted"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
