//! Durable state of one node: the log and the hard state (term, vote).
//!
//! * Log: `raft.log`, a sequence of records `[len: u32 BE][crc32: u32 BE][JSON entry]`.
//!   Appends are written and then made durable by [`Storage::sync`]; truncation shortens
//!   the file. On open, an incomplete or checksum-failing *final* record is a torn write
//!   and is cut off; a bad record followed by more data, or non-contiguous indices, is
//!   corruption and an error — never a silent reset.
//! * Hard state: `hardstate.json`, replaced by write-temp, fsync, rename, fsync-dir, so
//!   it is always either the old or the new value.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use super::entry::Entry;
use super::types::{HardState, LogIndex};

const LOG_FILE: &str = "raft.log";
const HARD_STATE_FILE: &str = "hardstate.json";
const HEADER: usize = 8;
const MAX_RECORD: usize = 64 << 20;

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is corrupt: {detail} (refusing to start; move the data directory away to reset the node)")]
    Corrupt { path: PathBuf, detail: String },
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> StorageError + '_ {
    move |source| StorageError::Io {
        path: path.to_path_buf(),
        source,
    }
}

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
    log_path: PathBuf,
    log: File,
    /// File offset where entry `i + 1` starts.
    offsets: Vec<u64>,
    end: u64,
    dirty: bool,
}

impl Storage {
    /// Opens (creating if needed) a data directory and recovers its contents.
    pub fn open(dir: &Path) -> Result<(Storage, Recovered), StorageError> {
        fs::create_dir_all(dir).map_err(io_err(dir))?;
        let hard_path = dir.join(HARD_STATE_FILE);
        let hard = match fs::read(&hard_path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| StorageError::Corrupt {
                path: hard_path.clone(),
                detail: format!("unreadable hard state: {e}"),
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => HardState::default(),
            Err(e) => return Err(io_err(&hard_path)(e)),
        };
        let log_path = dir.join(LOG_FILE);
        let mut log = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(&log_path)
            .map_err(io_err(&log_path))?;
        let mut bytes = Vec::new();
        log.read_to_end(&mut bytes).map_err(io_err(&log_path))?;
        let (entries, offsets, valid) = decode_log(&log_path, &bytes)?;
        let torn_bytes = bytes.len() as u64 - valid;
        if torn_bytes > 0 {
            log.set_len(valid).map_err(io_err(&log_path))?;
            log.sync_all().map_err(io_err(&log_path))?;
        }
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
            log_path,
            log,
            offsets,
            end: valid,
            dirty: false,
        };
        let recovered = Recovered {
            hard,
            log: entries,
            torn_bytes,
        };
        Ok((storage, recovered))
    }

    /// Writes entries at the end of the log (durable after [`Storage::sync`]).
    pub fn append(&mut self, entries: &[Entry]) -> Result<(), StorageError> {
        let mut buf = Vec::new();
        for e in entries {
            if e.index != self.offsets.len() as u64 + 1 {
                return Err(StorageError::Corrupt {
                    path: self.log_path.clone(),
                    detail: format!(
                        "append of index {} after {} entries",
                        e.index,
                        self.offsets.len()
                    ),
                });
            }
            self.offsets.push(self.end + buf.len() as u64);
            let payload = serde_json::to_vec(e).expect("entries always serialize");
            buf.extend_from_slice(&(payload.len() as u32).to_be_bytes());
            buf.extend_from_slice(&crc32fast::hash(&payload).to_be_bytes());
            buf.extend_from_slice(&payload);
        }
        self.log.write_all(&buf).map_err(io_err(&self.log_path))?;
        self.end += buf.len() as u64;
        self.dirty = true;
        Ok(())
    }

    /// Removes every entry with index >= `from` (durable after [`Storage::sync`]).
    pub fn truncate(&mut self, from: LogIndex) -> Result<(), StorageError> {
        let keep = from.saturating_sub(1) as usize;
        if keep >= self.offsets.len() {
            return Ok(());
        }
        let at = self.offsets[keep];
        self.log.set_len(at).map_err(io_err(&self.log_path))?;
        self.offsets.truncate(keep);
        self.end = at;
        self.dirty = true;
        Ok(())
    }

    /// Makes every append and truncation so far durable.
    pub fn sync(&mut self) -> Result<(), StorageError> {
        if self.dirty {
            self.log.sync_data().map_err(io_err(&self.log_path))?;
            self.dirty = false;
        }
        Ok(())
    }

    /// Durably replaces the hard state: write temp, fsync, rename, fsync the directory.
    pub fn save_hard_state(&mut self, hard: &HardState) -> Result<(), StorageError> {
        let tmp = self.dir.join(format!("{HARD_STATE_FILE}.tmp"));
        let dst = self.dir.join(HARD_STATE_FILE);
        let bytes = serde_json::to_vec(hard).expect("hard state always serializes");
        let mut f = File::create(&tmp).map_err(io_err(&tmp))?;
        f.write_all(&bytes).map_err(io_err(&tmp))?;
        f.sync_all().map_err(io_err(&tmp))?;
        fs::rename(&tmp, &dst).map_err(io_err(&dst))?;
        File::open(&self.dir)
            .and_then(|d| d.sync_all())
            .map_err(io_err(&self.dir))?;
        Ok(())
    }
}

/// Decodes records; returns the entries, their offsets and the length of the valid prefix.
fn decode_log(path: &Path, bytes: &[u8]) -> Result<(Vec<Entry>, Vec<u64>, u64), StorageError> {
    let corrupt = |at: usize, detail: String| StorageError::Corrupt {
        path: path.to_path_buf(),
        detail: format!("record at byte {at}: {detail}"),
    };
    let mut entries: Vec<Entry> = Vec::new();
    let mut offsets = Vec::new();
    let mut pos = 0usize;
    while pos < bytes.len() {
        let rest = &bytes[pos..];
        if rest.len() < HEADER {
            break; // torn header
        }
        let len = u32::from_be_bytes(rest[0..4].try_into().expect("4 bytes")) as usize;
        let crc = u32::from_be_bytes(rest[4..8].try_into().expect("4 bytes"));
        if len > MAX_RECORD {
            if pos + HEADER + len.min(rest.len()) >= bytes.len() {
                break; // garbage length in the final, torn record
            }
            return Err(corrupt(pos, format!("record length {len} is implausible")));
        }
        if rest.len() < HEADER + len {
            break; // torn payload
        }
        let payload = &rest[HEADER..HEADER + len];
        let is_last = pos + HEADER + len == bytes.len();
        if crc32fast::hash(payload) != crc {
            if is_last {
                break; // torn final record
            }
            return Err(corrupt(pos, "checksum mismatch".into()));
        }
        let entry: Entry = serde_json::from_slice(payload)
            .map_err(|e| corrupt(pos, format!("undecodable entry: {e}")))?;
        if entry.index != entries.len() as u64 + 1 {
            return Err(corrupt(
                pos,
                format!("index {} follows {}", entry.index, entries.len()),
            ));
        }
        offsets.push(pos as u64);
        entries.push(entry);
        pos += HEADER + len;
    }
    Ok((entries, offsets, pos as u64))
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
        bad[HEADER + 2] ^= 0xff;
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
}
