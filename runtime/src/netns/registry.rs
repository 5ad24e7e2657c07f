//! The run registry under `/run/faultline/`: which runs exist, which address slot each
//! holds, and which controller process owns it.
//!
//! ```text
//! /run/faultline/
//!   slots/<s>          one file per claimed /24 slot, content = run name (O_EXCL create)
//!   runs/<run>.json    the RunRecord (published by an exclusive hard link: all or nothing)
//! ```
//!
//! Invariants:
//! - a slot file is created with `O_CREAT|O_EXCL`, so two concurrent runs (parallel
//!   tests, two terminals) never get the same addresses;
//! - a run record is written before any namespace of that run exists and removed only
//!   after they are all gone, so `faultline clean` can always find what a SIGKILLed
//!   controller left;
//! - a run is *stale* when its owner process is dead (pid + start time, so a recycled
//!   pid does not count); a *detached* run (the `faultline cluster` sandbox) has no
//!   owner and lives until `cluster down` or `faultline clean`.

use std::fs;
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use super::addr::{self, SLOTS};

/// Default registry location.
pub const DEFAULT_ROOT: &str = "/run/faultline";

/// Slot files without a run record are reclaimed only after this age (a claim in
/// progress links its record within microseconds).
const ORPHAN_SLOT_AGE: Duration = Duration::from_secs(60);

/// The process that owns a run: pid plus its start time (clock ticks since boot), so a
/// recycled pid is not mistaken for the owner.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Owner {
    pub pid: i32,
    pub start_time: u64,
}

impl Owner {
    /// This process.
    pub fn current() -> Owner {
        let pid = std::process::id() as i32;
        Owner {
            pid,
            start_time: process_start_time(pid).unwrap_or(0),
        }
    }

    /// Whether the owner still runs (and is not a zombie).
    pub fn is_alive(&self) -> bool {
        match fs::read_to_string(format!("/proc/{}/stat", self.pid)) {
            Ok(stat) => {
                let fields = stat_fields(&stat);
                fields.first().is_some_and(|state| *state != "Z")
                    && fields
                        .get(19)
                        .and_then(|t| t.parse::<u64>().ok())
                        .is_some_and(|t| t == self.start_time)
            }
            Err(_) => false,
        }
    }
}

/// Fields of `/proc/<pid>/stat` after the command name: index 0 is the state (field 3),
/// index 19 is the start time (field 22).
pub(crate) fn stat_fields(stat: &str) -> Vec<&str> {
    match stat.rfind(')') {
        Some(i) => stat[i + 1..].split_whitespace().collect(),
        None => Vec::new(),
    }
}

fn process_start_time(pid: i32) -> Option<u64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat_fields(&stat).get(19)?.parse().ok()
}

/// One run as recorded on disk.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunRecord {
    pub run: String,
    pub slot: u16,
    pub nodes: u16,
    /// `None` for a detached sandbox cluster.
    pub owner: Option<Owner>,
    /// Directory for node data and logs when the caller gave none.
    pub dir: PathBuf,
    pub created_unix_ms: u64,
}

impl RunRecord {
    /// Stale: owned by a process that no longer runs.
    pub fn is_stale(&self) -> bool {
        self.owner.is_some_and(|o| !o.is_alive())
    }

    pub fn namespaces(&self) -> Vec<String> {
        addr::all_ns(&self.run, self.nodes)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error(
        "a run named {0:?} already exists (see `faultline cluster status`, or `faultline clean`)"
    )]
    RunExists(String),
    #[error("all {SLOTS} address slots of 198.18.0.0/15 are in use; run `faultline clean`")]
    NoFreeSlot,
    #[error("no run named {0:?} in the registry")]
    NoSuchRun(String),
    #[error("registry {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("registry {path}: {source}")]
    Corrupt {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> RegistryError + '_ {
    move |source| RegistryError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Handle on a registry directory.
#[derive(Clone, Debug)]
pub struct Registry {
    root: PathBuf,
}

impl Default for Registry {
    fn default() -> Self {
        Registry::new(DEFAULT_ROOT)
    }
}

impl Registry {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Registry { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Whether this is the machine's registry (`/run/faultline`), the one that accounts
    /// for every `fl-*` namespace; only it may sweep orphan namespaces.
    pub fn is_system(&self) -> bool {
        self.root == Path::new(DEFAULT_ROOT)
    }

    fn runs_dir(&self) -> PathBuf {
        self.root.join("runs")
    }

    fn slots_dir(&self) -> PathBuf {
        self.root.join("slots")
    }

    fn record_path(&self, run: &str) -> PathBuf {
        self.runs_dir().join(format!("{run}.json"))
    }

    /// Default data directory of a run (`/run/faultline/runs/<run>/`).
    pub fn run_dir(&self, run: &str) -> PathBuf {
        self.runs_dir().join(run)
    }

    fn ensure_dirs(&self) -> Result<(), RegistryError> {
        for d in [self.runs_dir(), self.slots_dir()] {
            fs::create_dir_all(&d).map_err(io_err(&d))?;
        }
        Ok(())
    }

    /// Claims a free slot and publishes the run's record, atomically and exclusively.
    pub fn claim(
        &self,
        run: &str,
        nodes: u16,
        owner: Option<Owner>,
    ) -> Result<RunRecord, RegistryError> {
        self.ensure_dirs()?;
        if self.record_path(run).exists() {
            return Err(RegistryError::RunExists(run.to_string()));
        }
        let slot = self.claim_slot(run)?;
        let record = RunRecord {
            run: run.to_string(),
            slot,
            nodes,
            owner,
            dir: self.run_dir(run),
            created_unix_ms: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_millis() as u64)
                .unwrap_or(0),
        };
        let tmp = self.write_tmp(&record)?;
        let target = self.record_path(run);
        let linked = fs::hard_link(&tmp, &target);
        let _ = fs::remove_file(&tmp);
        match linked {
            Ok(()) => Ok(record),
            Err(e) => {
                let _ = fs::remove_file(self.slots_dir().join(slot.to_string()));
                if e.kind() == ErrorKind::AlreadyExists {
                    Err(RegistryError::RunExists(run.to_string()))
                } else {
                    Err(io_err(&target)(e))
                }
            }
        }
    }

    fn claim_slot(&self, run: &str) -> Result<u16, RegistryError> {
        for slot in 0..SLOTS {
            let path = self.slots_dir().join(slot.to_string());
            match fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path)
            {
                Ok(mut f) => {
                    f.write_all(run.as_bytes()).map_err(io_err(&path))?;
                    return Ok(slot);
                }
                Err(e) if e.kind() == ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(io_err(&path)(e)),
            }
        }
        Err(RegistryError::NoFreeSlot)
    }

    fn write_tmp(&self, record: &RunRecord) -> Result<PathBuf, RegistryError> {
        let tmp = self.runs_dir().join(format!(
            ".{}.{}.{:?}.tmp",
            record.run,
            std::process::id(),
            std::thread::current().id()
        ));
        let text = serde_json::to_vec_pretty(record).expect("RunRecord always serializes");
        fs::write(&tmp, text).map_err(io_err(&tmp))?;
        Ok(tmp)
    }

    /// Rewrites an existing record (e.g. to detach a sandbox from its creator).
    pub fn update(&self, record: &RunRecord) -> Result<(), RegistryError> {
        let tmp = self.write_tmp(record)?;
        let target = self.record_path(&record.run);
        fs::rename(&tmp, &target).map_err(io_err(&target))
    }

    /// Reads one run's record.
    pub fn get(&self, run: &str) -> Result<RunRecord, RegistryError> {
        let path = self.record_path(run);
        let text = match fs::read(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == ErrorKind::NotFound => {
                return Err(RegistryError::NoSuchRun(run.to_string()))
            }
            Err(e) => return Err(io_err(&path)(e)),
        };
        serde_json::from_slice(&text).map_err(|source| RegistryError::Corrupt { path, source })
    }

    /// Every readable record, by run name. Unreadable ones are logged and skipped.
    pub fn list(&self) -> Result<Vec<RunRecord>, RegistryError> {
        let dir = self.runs_dir();
        let entries = match fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io_err(&dir)(e)),
        };
        let mut runs = Vec::new();
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let Some(run) = name.strip_suffix(".json") else {
                continue;
            };
            if name.starts_with('.') {
                continue;
            }
            match self.get(run) {
                Ok(r) => runs.push(r),
                Err(e) => tracing::warn!("skipping run record {name}: {e}"),
            }
        }
        runs.sort_by(|a, b| a.run.cmp(&b.run));
        Ok(runs)
    }

    /// Removes a run's slot and record (after its namespaces are gone). Idempotent.
    pub fn release(&self, run: &str) -> Result<(), RegistryError> {
        if let Ok(record) = self.get(run) {
            let slot = self.slots_dir().join(record.slot.to_string());
            if fs::read_to_string(&slot).is_ok_and(|owner| owner == run) {
                remove_if_exists(&slot)?;
            }
        }
        remove_if_exists(&self.record_path(run))?;
        let dir = self.run_dir(run);
        if dir.exists() {
            fs::remove_dir_all(&dir).map_err(io_err(&dir))?;
        }
        Ok(())
    }

    /// Slot files whose run has no record any more, older than a minute, are removed.
    pub fn reclaim_orphan_slots(&self) -> Result<Vec<u16>, RegistryError> {
        let dir = self.slots_dir();
        let Ok(entries) = fs::read_dir(&dir) else {
            return Ok(Vec::new());
        };
        let mut reclaimed = Vec::new();
        for entry in entries.flatten() {
            let path = entry.path();
            let Ok(slot) = entry.file_name().to_string_lossy().parse::<u16>() else {
                continue;
            };
            let run = fs::read_to_string(&path).unwrap_or_default();
            let old = entry
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|age| age > ORPHAN_SLOT_AGE);
            if old && !self.record_path(&run).exists() {
                remove_if_exists(&path)?;
                reclaimed.push(slot);
            }
        }
        reclaimed.sort_unstable();
        Ok(reclaimed)
    }
}

fn remove_if_exists(path: &Path) -> Result<(), RegistryError> {
    match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io_err(path)(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_registry(tag: &str) -> (Registry, TempDir) {
        let dir = std::env::temp_dir().join(format!(
            "fl-registry-{tag}-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = fs::remove_dir_all(&dir);
        (Registry::new(&dir), TempDir(dir))
    }

    struct TempDir(PathBuf);
    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn claims_are_exclusive_and_slots_distinct() {
        let (reg, _d) = temp_registry("excl");
        let a = reg.claim("a", 3, Some(Owner::current())).unwrap();
        let b = reg.claim("b", 3, None).unwrap();
        assert_ne!(a.slot, b.slot);
        assert!(matches!(
            reg.claim("a", 3, None),
            Err(RegistryError::RunExists(_))
        ));
        assert_eq!(
            reg.list()
                .unwrap()
                .iter()
                .map(|r| &r.run)
                .collect::<Vec<_>>(),
            ["a", "b"]
        );
        reg.release("a").unwrap();
        let c = reg.claim("c", 3, None).unwrap();
        assert_eq!(c.slot, a.slot, "a released slot is reused");
    }

    #[test]
    fn concurrent_claims_never_share_a_slot() {
        let (reg, _d) = temp_registry("conc");
        let handles: Vec<_> = (0..16)
            .map(|i| {
                let reg = reg.clone();
                std::thread::spawn(move || reg.claim(&format!("r{i}"), 1, None).unwrap().slot)
            })
            .collect();
        let mut slots: Vec<u16> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        slots.sort_unstable();
        slots.dedup();
        assert_eq!(slots.len(), 16);
    }

    #[test]
    fn owners_are_alive_or_stale() {
        let me = Owner::current();
        assert!(me.is_alive());
        let recycled = Owner {
            pid: me.pid,
            start_time: me.start_time + 1,
        };
        assert!(!recycled.is_alive());
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id() as i32;
        child.wait().unwrap();
        assert!(!Owner { pid, start_time: 0 }.is_alive());
    }
}
