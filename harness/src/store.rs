//! The store: where every run leaves its artifacts.
//!
//! ```text
//! store/
//!   latest -> <test>/<YYYYmmddTHHMMSS>        (relative symlink to the newest run)
//!   <test>/
//!     latest -> <YYYYmmddTHHMMSS>
//!     <YYYYmmddTHHMMSS>/
//!       test.json  history.jsonl  results.json  junit.xml  faultline.log  nodes/<n>/…
//! ```
//!
//! Invariants:
//! - A run directory is created before anything else happens in a run, so even a run
//!   that fails during setup leaves `test.json` and its log behind.
//! - Run directories are never reused: a second run in the same second gets a `-2`
//!   suffix, created with `create_dir` (not `create_dir_all`) so two runs cannot race
//!   into the same directory.
//! - JSON artifacts are written whole or not at all (write to a temporary file, then
//!   rename), so a crash never leaves a half-written `results.json`.
//!
//! References: Jepsen's `jepsen.store` (same layout and `latest` links).

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use serde::Serialize;

/// Names of the files in a run directory, in one place.
pub mod files {
    pub const TEST: &str = "test.json";
    pub const HISTORY: &str = "history.jsonl";
    pub const RESULTS: &str = "results.json";
    pub const JUNIT: &str = "junit.xml";
    pub const LOG: &str = "faultline.log";
    pub const NODES: &str = "nodes";
}

/// A store root (by default `./store`).
#[derive(Debug, Clone)]
pub struct Store {
    root: PathBuf,
}

/// One run's directory inside a store.
#[derive(Debug, Clone)]
pub struct RunDir {
    path: PathBuf,
}

/// A run found in the store by [`Store::runs`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunEntry {
    pub test: String,
    pub timestamp: String,
    pub path: PathBuf,
}

impl Store {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Store { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Creates a fresh run directory for `test` started at `started`, and points the
    /// store's and the test's `latest` links at it.
    pub fn create_run(&self, test: &str, started: SystemTime) -> io::Result<RunDir> {
        check_test_name(test)?;
        let test_dir = self.root.join(test);
        fs::create_dir_all(&test_dir).map_err(|e| with_path(e, &test_dir))?;
        let stamp = timestamp(started);
        let mut suffix = 1;
        let (name, path) = loop {
            let name = if suffix == 1 {
                stamp.clone()
            } else {
                format!("{stamp}-{suffix}")
            };
            let path = test_dir.join(&name);
            match fs::create_dir(&path) {
                Ok(()) => break (name, path),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists && suffix < 1000 => suffix += 1,
                Err(e) => return Err(with_path(e, &path)),
            }
        };
        fs::create_dir(path.join(files::NODES)).map_err(|e| with_path(e, &path))?;
        relink(&test_dir.join("latest"), Path::new(&name))?;
        relink(&self.root.join("latest"), &Path::new(test).join(&name))?;
        Ok(RunDir { path })
    }

    /// Every run in the store, newest first (by timestamp, then test name).
    pub fn runs(&self) -> io::Result<Vec<RunEntry>> {
        let mut runs = Vec::new();
        let tests = match fs::read_dir(&self.root) {
            Ok(t) => t,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(runs),
            Err(e) => return Err(with_path(e, &self.root)),
        };
        for test in tests {
            let test = test?;
            if !test.file_type()?.is_dir() {
                continue; // the `latest` symlink, stray files
            }
            let test_name = test.file_name().to_string_lossy().into_owned();
            for run in fs::read_dir(test.path())? {
                let run = run?;
                if !run.file_type()?.is_dir() || !run.path().join(files::TEST).exists() {
                    continue;
                }
                runs.push(RunEntry {
                    test: test_name.clone(),
                    timestamp: run.file_name().to_string_lossy().into_owned(),
                    path: run.path(),
                });
            }
        }
        runs.sort_by(|a, b| {
            b.timestamp
                .cmp(&a.timestamp)
                .then_with(|| a.test.cmp(&b.test))
        });
        Ok(runs)
    }
}

impl RunDir {
    /// Opens an existing run directory (for `faultline check <store-dir>`).
    pub fn open(path: impl Into<PathBuf>) -> io::Result<RunDir> {
        let path = path.into();
        let test = path.join(files::TEST);
        if !test.is_file() {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!(
                    "{} is not a run directory: no {}",
                    path.display(),
                    files::TEST
                ),
            ));
        }
        Ok(RunDir { path })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A file in the run directory (see [`files`]).
    pub fn file(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    /// The directory for one node's logs and data, created on demand.
    pub fn node_dir(&self, node: &str) -> io::Result<PathBuf> {
        let dir = self.path.join(files::NODES).join(node);
        fs::create_dir_all(&dir).map_err(|e| with_path(e, &dir))?;
        Ok(dir)
    }

    /// Writes `value` as pretty JSON to `name`, atomically.
    pub fn write_json<T: Serialize + ?Sized>(&self, name: &str, value: &T) -> io::Result<()> {
        let mut bytes = serde_json::to_vec_pretty(value).map_err(io::Error::other)?;
        bytes.push(b'\n');
        self.write_atomic(name, &bytes)
    }

    /// Writes `bytes` to `name` via a temporary file and a rename.
    pub fn write_atomic(&self, name: &str, bytes: &[u8]) -> io::Result<()> {
        let target = self.file(name);
        let tmp = self.file(&format!(".{name}.tmp"));
        let mut f = fs::File::create(&tmp).map_err(|e| with_path(e, &tmp))?;
        f.write_all(bytes).map_err(|e| with_path(e, &tmp))?;
        f.sync_all().map_err(|e| with_path(e, &tmp))?;
        fs::rename(&tmp, &target).map_err(|e| with_path(e, &target))
    }
}

/// `YYYYmmddTHHMMSS` in UTC.
pub fn timestamp(t: SystemTime) -> String {
    // humantime gives "2026-11-29T09:40:00Z"; keep the digits and the T.
    humantime::format_rfc3339_seconds(t)
        .to_string()
        .chars()
        .filter(|c| c.is_ascii_digit() || *c == 'T')
        .collect()
}

/// Test names become directory names: keep them to a safe alphabet.
fn check_test_name(test: &str) -> io::Result<()> {
    let ok = !test.is_empty()
        && test != "latest"
        && !test.starts_with('.')
        && test
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("test name {test:?} must be non-empty and use only letters, digits, '-', '_' and '.'"),
        ))
    }
}

/// Points the symlink `link` at `target`, replacing an older link atomically.
fn relink(link: &Path, target: &Path) -> io::Result<()> {
    // The temporary name is unique per call, not only per process: runs started at once
    // by the threads of one process (`zoo --jobs`, `test --test-count`) relink the same
    // `latest`, and a shared name made one remove another's link mid-way.
    static CALLS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let call = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tmp = link.with_extension(format!("tmp{}-{call}", std::process::id()));
    let _ = fs::remove_file(&tmp);
    std::os::unix::fs::symlink(target, &tmp).map_err(|e| with_path(e, &tmp))?;
    fs::rename(&tmp, link).map_err(|e| with_path(e, link))
}

fn with_path(e: io::Error, path: &Path) -> io::Error {
    io::Error::new(e.kind(), format!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("fl-store-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn timestamp_is_compact_utc() {
        let t = UNIX_EPOCH + Duration::from_secs(1_795_945_200); // 2026-11-29T09:40:00Z
        assert_eq!(timestamp(t), "20261129T094000");
    }

    #[test]
    fn runs_started_at_once_by_threads_of_one_process_all_get_a_directory() {
        let root = scratch("threads");
        let store = Store::new(&root);
        let t = UNIX_EPOCH + Duration::from_secs(1_795_945_200);
        let made: Vec<io::Result<RunDir>> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..8)
                .map(|_| {
                    s.spawn(|| {
                        (0..25)
                            .map(|_| store.create_run("zoo", t))
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            handles
                .into_iter()
                .flat_map(|h| h.join().unwrap())
                .collect()
        });
        let errors: Vec<String> = made
            .iter()
            .filter_map(|r| r.as_ref().err().map(|e| e.to_string()))
            .collect();
        assert!(
            errors.is_empty(),
            "{} failed: {:?}",
            errors.len(),
            &errors[..errors.len().min(3)]
        );
        assert_eq!(made.len(), 200);
        assert!(fs::canonicalize(root.join("zoo/latest")).unwrap().is_dir());
        let strays: Vec<_> = fs::read_dir(root.join("zoo"))
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().contains(".tmp"))
            .collect();
        assert!(strays.is_empty(), "{strays:?}");
        let _ = fs::remove_dir_all(&root);
    }

    #[test]
    fn runs_get_fresh_directories_and_latest_links() {
        let root = scratch("runs");
        let store = Store::new(&root);
        let t = UNIX_EPOCH + Duration::from_secs(1_795_945_200);
        let a = store.create_run("raft-register", t).unwrap();
        let b = store.create_run("raft-register", t).unwrap();
        assert_ne!(a.path(), b.path());
        assert!(b.path().ends_with("raft-register/20261129T094000-2"));
        assert!(b.file(files::NODES).is_dir());
        assert_eq!(
            fs::canonicalize(root.join("latest")).unwrap(),
            fs::canonicalize(b.path()).unwrap()
        );
        assert_eq!(
            fs::canonicalize(root.join("raft-register/latest")).unwrap(),
            fs::canonicalize(b.path()).unwrap()
        );
        b.write_json(files::TEST, &serde_json::json!({"seed": 7}))
            .unwrap();
        let later = store
            .create_run("etcd-lock", t + Duration::from_secs(1))
            .unwrap();
        later
            .write_json(files::TEST, &serde_json::json!({}))
            .unwrap();
        // `a` has no test.json, so it is not listed; newest first.
        let runs = store.runs().unwrap();
        let names: Vec<_> = runs
            .iter()
            .map(|r| (r.test.as_str(), r.timestamp.as_str()))
            .collect();
        assert_eq!(
            names,
            vec![
                ("etcd-lock", "20261129T094001"),
                ("raft-register", "20261129T094000-2")
            ]
        );
        assert!(RunDir::open(later.path()).is_ok());
        assert!(RunDir::open(a.path()).is_err());
        fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn json_is_written_atomically_and_readable() {
        let root = scratch("json");
        let run = Store::new(&root)
            .create_run("t", SystemTime::now())
            .unwrap();
        run.write_json(files::RESULTS, &vec![1, 2, 3]).unwrap();
        let back: Vec<u32> =
            serde_json::from_slice(&fs::read(run.file(files::RESULTS)).unwrap()).unwrap();
        assert_eq!(back, vec![1, 2, 3]);
        let leftovers: Vec<_> = fs::read_dir(run.path())
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
            .collect();
        assert!(leftovers.is_empty());
        fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn bad_test_names_are_refused() {
        let store = Store::new(scratch("names"));
        for bad in ["", "latest", "../x", "a/b", ".hidden", "sp ace"] {
            let e = store.create_run(bad, SystemTime::now()).unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::InvalidInput, "{bad:?}");
        }
        let _ = fs::remove_dir_all(store.root());
    }
}
