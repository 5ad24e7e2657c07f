//! Durable state of one Raft node: the log and the hard state (term, vote), on the
//! bundled storage ([`crate::bundled::storage`]).
//!
//! * Log: `raft.log`, a [`RecordLog`] of entries with contiguous indices. Appends and
//!   truncations stay in memory until [`Storage::sync`] (a SIGKILL loses them, as a power
//!   cut would); a torn final record is cut off on open; mid-log damage is an error.
//! * Hard state: `hardstate.json`, replaced atomically and durably at once.

use std::fs;
use std::path::{Path, PathBuf};

use super::entry::Entry;
use super::types::{HardState, LogIndex};
use crate::bundled::storage::{io_err, read_optional, write_atomic, RecordLog};

pub use crate::bundled::storage::StorageError;

const LOG_FILE: &str = "raft.log";
const HARD_STATE_FILE: &str = "hardstate.json";

/// What was on disk when the storage was opened.
#[derive(Debug, Default)]
pub struct Recovered {
    pub hard: HardState,
    pub log: Vec<Entry>,
    /// Bytes of a torn final record that were cut off.
    pub torn_bytes: u64,
}

/// An open data directory.
pub struct Storage {
    dir: PathBuf,
    log: RecordLog<Entry>,
}

impl Storage {
    /// Opens (creating if needed) a data directory and recovers its contents.
    pub fn open(dir: &Path) -> Result<(Storage, Recovered), StorageError> {
        fs::create_dir_all(dir).map_err(io_err(dir))?;
        let hard_path = dir.join(HARD_STATE_FILE);
        let hard = match read_optional(&hard_path)? {
            Some(bytes) => serde_json::from_slice(&bytes).map_err(|e| StorageError::Corrupt {
                path: hard_path.clone(),
                detail: format!("unreadable hard state: {e}"),
            })?,
            None => HardState::default(),
        };
        let (log, recovered) = RecordLog::<Entry>::open(&dir.join(LOG_FILE))?;
        let entries = recovered.records;
        if !entries.is_empty() && !hard_path.exists() {
            return Err(StorageError::Corrupt {
                path: hard_path,
                detail: "log has entries but the hard state file is missing".into(),
            });
        }
        if let Some(last) = entries.last() {
            if last.term > hard.term {
                return Err(StorageError::Corrupt {
                    path: hard_path,
                    detail: format!(
                        "hard state term {} is older than the log's last term {}",
                        hard.term, last.term
                    ),
                });
            }
        }
        let storage = Storage {
            dir: dir.to_path_buf(),
            log,
        };
        let recovered = Recovered {
            hard,
            log: entries,
            torn_bytes: recovered.torn_bytes,
        };
        Ok((storage, recovered))
    }

    /// Adds entries at the end of the log (durable after [`Storage::sync`]).
    pub fn append(&mut self, entries: &[Entry]) -> Result<(), StorageError> {
        self.log.append(entries)
    }

    /// Removes every entry with index >= `from` (durable after [`Storage::sync`]).
    pub fn truncate(&mut self, from: LogIndex) -> Result<(), StorageError> {
        self.log.truncate(from.saturating_sub(1) as usize);
        Ok(())
    }

    /// Makes every append and truncation so far durable.
    pub fn sync(&mut self) -> Result<(), StorageError> {
        self.log.sync()
    }

    /// Durably replaces the hard state: write temp, fsync, rename, fsync the directory.
    pub fn save_hard_state(&mut self, hard: &HardState) -> Result<(), StorageError> {
        let bytes = serde_json::to_vec(hard).expect("hard state always serializes");
        write_atomic(&self.dir, HARD_STATE_FILE, &bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::raft::entry::Payload;

    fn entry(index: LogIndex, term: u64) -> Entry {
        Entry {
            term,
            index,
            payload: Payload::Noop,
        }
    }

    fn tempdir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "faultline-raft-storage-{name}-{}",
            std::process::id()
        ));
        let _ = fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn round_trips_log_and_hard_state_and_truncates() {
        let dir = tempdir("roundtrip");
        let (mut s, rec) = Storage::open(&dir).expect("open fresh");
        assert!(rec.log.is_empty());
        let hard = HardState {
            term: 3,
            voted_for: Some(crate::raft::NodeId::new("n2")),
        };
        s.save_hard_state(&hard).expect("hard state");
        s.append(&[entry(1, 1), entry(2, 2), entry(3, 3)])
            .expect("append");
        s.truncate(3).expect("truncate");
        s.append(&[entry(3, 3)]).expect("append again");
        assert!(s.append(&[entry(5, 3)]).is_err(), "indices are contiguous");
        s.sync().expect("sync");
        drop(s);
        let (_, rec) = Storage::open(&dir).expect("reopen");
        assert_eq!(rec.hard, hard);
        assert_eq!(rec.log, vec![entry(1, 1), entry(2, 2), entry(3, 3)]);
        assert_eq!(rec.torn_bytes, 0);
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_torn_tail_is_cut_off_but_mid_log_corruption_is_an_error() {
        let dir = tempdir("torn");
        let (mut s, _) = Storage::open(&dir).expect("open");
        s.save_hard_state(&HardState {
            term: 1,
            voted_for: None,
        })
        .expect("hard state");
        s.append(&[entry(1, 1), entry(2, 1)]).expect("append");
        s.sync().expect("sync");
        drop(s);
        let path = dir.join(LOG_FILE);
        let full = fs::read(&path).expect("read log");
        // Torn: the last record lost its final bytes.
        fs::write(&path, &full[..full.len() - 3]).expect("write torn");
        let (_, rec) = Storage::open(&dir).expect("torn tail recovers");
        assert_eq!(rec.log, vec![entry(1, 1)]);
        assert!(rec.torn_bytes > 0);
        // Corrupt: flip a byte inside the first record while a valid one follows.
        let mut bad = full.clone();
        bad[10] ^= 0xff;
        fs::write(&path, &bad).expect("write corrupt");
        match Storage::open(&dir) {
            Err(StorageError::Corrupt { .. }) => {}
            other => panic!("expected corruption error, got {:?}", other.map(|_| ())),
        }
        // Corrupt hard state is an error too, never a reset.
        fs::write(&path, &full).expect("restore log");
        fs::write(dir.join(HARD_STATE_FILE), b"{not json").expect("write hs");
        assert!(matches!(
            Storage::open(&dir),
            Err(StorageError::Corrupt { .. })
        ));
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn appends_not_yet_synced_are_lost_with_the_process() {
        let dir = tempdir("unsynced");
        let (mut s, _) = Storage::open(&dir).expect("open");
        s.save_hard_state(&HardState {
            term: 1,
            voted_for: None,
        })
        .expect("hard state");
        s.append(&[entry(1, 1)]).expect("append");
        s.sync().expect("sync");
        s.append(&[entry(2, 1)]).expect("append");
        drop(s); // SIGKILL before the fsync of entry 2
        let (_, rec) = Storage::open(&dir).expect("reopen");
        assert_eq!(rec.log, vec![entry(1, 1)]);
        let _ = fs::remove_dir_all(&dir);
    }
}
