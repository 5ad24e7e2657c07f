//! Durable storage of both bundled protocols: an append-only record log, and small files
//! replaced atomically (Raft's hard state, Zab's two epochs).
//!
//! * Log: a sequence of records `[len: u32 BE][crc32: u32 BE][JSON record]`. On open, an
//!   incomplete or checksum-failing *final* record is a torn write and is cut off; a bad
//!   record followed by more data, an undecodable record or records out of order is
//!   corruption: an error naming the file and the byte offset, never a silent reset.
//! * Small files: write temp, fsync, rename, fsync the directory, so each is always
//!   either its old or its new content, durable when the call returns.
//!
//! ## Telling the truth about fsync
//!
//! Appends and truncations are kept in this process's memory until [`RecordLog::sync`]
//! writes them and fsyncs the file. A SIGKILL therefore loses every change that was not
//! synced, as a power cut loses what sits in the page cache: a node killed by the
//! harness comes back with exactly what it had made durable, so a protocol that answers
//! before its fsync (Zab's `ack-before-fsync`) loses data under the kill fault alone,
//! without a file system that drops unsynced writes.
//!
//! ```text
//!  append/truncate ─► memory (pending bytes, cut point) ─sync─► write + fdatasync ─► disk
//!            SIGKILL here loses them ─┘
//! ```

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::marker::PhantomData;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::types::Position;

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

pub(crate) fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> StorageError + '_ {
    move |source| StorageError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// A record of a [`RecordLog`]: serializable, with a position that orders the log.
pub trait Record: Serialize + DeserializeOwned {
    fn position(&self) -> Position;
    /// Why a record at `position` cannot be record number `n` (1-based) of a log whose
    /// previous record is at `prev`, if it cannot.
    fn check_order(position: Position, prev: Option<Position>, n: usize) -> Result<(), String>;
}

/// What a log held when it was opened.
#[derive(Debug)]
pub struct Recovered<R> {
    pub records: Vec<R>,
    /// Bytes of a torn final record that were cut off, and where they began.
    pub torn_bytes: u64,
    pub torn_at: u64,
}

/// An open record log. Changes are durable only after [`RecordLog::sync`].
pub struct RecordLog<R> {
    path: PathBuf,
    file: File,
    /// Logical offset and position of each record.
    offsets: Vec<u64>,
    positions: Vec<Position>,
    /// Bytes in the file (all of them fsynced).
    file_len: u64,
    /// How much of the file is still part of the log (less after an unsynced truncation).
    keep: u64,
    /// Unsynced bytes that follow `keep`.
    pending: Vec<u8>,
    _records: PhantomData<fn() -> R>,
}

impl<R: Record> RecordLog<R> {
    /// Opens (creating if needed) the log at `path` and recovers its records.
    pub fn open(path: &Path) -> Result<(RecordLog<R>, Recovered<R>), StorageError> {
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(path)
            .map_err(io_err(path))?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes).map_err(io_err(path))?;
        let (records, offsets, valid) = decode::<R>(path, &bytes)?;
        let torn_bytes = bytes.len() as u64 - valid;
        if torn_bytes > 0 {
            file.set_len(valid).map_err(io_err(path))?;
            file.sync_all().map_err(io_err(path))?;
        }
        let log = RecordLog {
            path: path.to_path_buf(),
            file,
            positions: records.iter().map(Record::position).collect(),
            offsets,
            file_len: valid,
            keep: valid,
            pending: Vec::new(),
            _records: PhantomData,
        };
        let recovered = Recovered {
            records,
            torn_bytes,
            torn_at: valid,
        };
        Ok((log, recovered))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// How many records the log holds (synced or not).
    pub fn len(&self) -> usize {
        self.offsets.len()
    }

    pub fn is_empty(&self) -> bool {
        self.offsets.is_empty()
    }

    /// How many records have a position at or below `position`.
    pub fn count_through(&self, position: Position) -> usize {
        self.positions.partition_point(|p| *p <= position)
    }

    /// Adds records at the end (in memory until [`RecordLog::sync`]).
    pub fn append<'a>(
        &mut self,
        records: impl IntoIterator<Item = &'a R>,
    ) -> Result<(), StorageError>
    where
        R: 'a,
    {
        for r in records {
            let position = r.position();
            R::check_order(position, self.positions.last().copied(), self.len() + 1).map_err(
                |detail| StorageError::Corrupt {
                    path: self.path.clone(),
                    detail: format!("append out of order: {detail}"),
                },
            )?;
            self.offsets.push(self.keep + self.pending.len() as u64);
            self.positions.push(position);
            let payload = serde_json::to_vec(r).expect("records always serialize");
            self.pending
                .extend_from_slice(&(payload.len() as u32).to_be_bytes());
            self.pending
                .extend_from_slice(&crc32fast::hash(&payload).to_be_bytes());
            self.pending.extend_from_slice(&payload);
        }
        Ok(())
    }

    /// Keeps the first `n` records and drops the rest (in memory until synced).
    pub fn truncate(&mut self, n: usize) {
        if n >= self.offsets.len() {
            return;
        }
        let at = self.offsets[n];
        if at >= self.keep {
            self.pending.truncate((at - self.keep) as usize);
        } else {
            self.keep = at;
            self.pending.clear();
        }
        self.offsets.truncate(n);
        self.positions.truncate(n);
    }

    /// True when there are changes that [`RecordLog::sync`] would make durable.
    pub fn is_dirty(&self) -> bool {
        self.keep < self.file_len || !self.pending.is_empty()
    }

    /// Writes every change so far and fsyncs the file.
    pub fn sync(&mut self) -> Result<(), StorageError> {
        if !self.is_dirty() {
            return Ok(());
        }
        if self.keep < self.file_len {
            self.file.set_len(self.keep).map_err(io_err(&self.path))?;
        }
        self.file
            .write_all(&self.pending)
            .map_err(io_err(&self.path))?;
        self.file.sync_data().map_err(io_err(&self.path))?;
        self.file_len = self.keep + self.pending.len() as u64;
        self.keep = self.file_len;
        self.pending.clear();
        Ok(())
    }
}

/// Decodes records; returns them, their offsets and the length of the valid prefix.
fn decode<R: Record>(path: &Path, bytes: &[u8]) -> Result<(Vec<R>, Vec<u64>, u64), StorageError> {
    let corrupt = |at: usize, detail: String| StorageError::Corrupt {
        path: path.to_path_buf(),
        detail: format!("record at byte {at}: {detail}"),
    };
    let mut records: Vec<R> = Vec::new();
    let mut offsets = Vec::new();
    let mut prev = None;
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
        let record: R = serde_json::from_slice(payload)
            .map_err(|e| corrupt(pos, format!("undecodable record: {e}")))?;
        let position = record.position();
        R::check_order(position, prev, records.len() + 1).map_err(|d| corrupt(pos, d))?;
        prev = Some(position);
        offsets.push(pos as u64);
        records.push(record);
        pos += HEADER + len;
    }
    Ok((records, offsets, pos as u64))
}

/// Durably replaces `dir/name` with `bytes`: write temp, fsync, rename, fsync the
/// directory. When this returns, the file holds `bytes` whatever happens next.
pub fn write_atomic(dir: &Path, name: &str, bytes: &[u8]) -> Result<(), StorageError> {
    let tmp = dir.join(format!("{name}.tmp"));
    let dst = dir.join(name);
    let mut f = File::create(&tmp).map_err(io_err(&tmp))?;
    f.write_all(bytes).map_err(io_err(&tmp))?;
    f.sync_all().map_err(io_err(&tmp))?;
    fs::rename(&tmp, &dst).map_err(io_err(&dst))?;
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_err(dir))?;
    Ok(())
}

/// The content of `path`, or `None` when it does not exist.
pub fn read_optional(path: &Path) -> Result<Option<Vec<u8>>, StorageError> {
    match fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io_err(path)(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
    struct Rec(u64);

    impl Record for Rec {
        fn position(&self) -> Position {
            self.0
        }
        fn check_order(position: Position, prev: Option<Position>, _: usize) -> Result<(), String> {
            match prev {
                Some(p) if position <= p => Err(format!("{position} after {p}")),
                _ => Ok(()),
            }
        }
    }

    fn tempdir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "faultline-bundled-storage-{name}-{}",
            std::process::id()
        ));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).expect("temp dir");
        dir
    }

    fn reopen(path: &Path) -> Vec<Rec> {
        RecordLog::<Rec>::open(path).expect("reopen").1.records
    }

    #[test]
    fn unsynced_appends_and_truncations_are_lost_as_in_a_power_cut() {
        let dir = tempdir("truth");
        let path = dir.join("log");
        let (mut log, _) = RecordLog::<Rec>::open(&path).expect("open");
        log.append(&[Rec(1), Rec(2), Rec(3)]).expect("append");
        assert_eq!(log.len(), 3);
        // Dropping the log without sync is what SIGKILL does to the process.
        drop(log);
        assert_eq!(reopen(&path), vec![]);

        let (mut log, _) = RecordLog::<Rec>::open(&path).expect("open");
        log.append(&[Rec(1), Rec(2), Rec(3)]).expect("append");
        log.sync().expect("sync");
        log.truncate(1);
        log.append(&[Rec(5)]).expect("append after truncate");
        assert_eq!(log.count_through(4), 1);
        drop(log);
        assert_eq!(reopen(&path), vec![Rec(1), Rec(2), Rec(3)], "unsynced cut");

        let (mut log, _) = RecordLog::<Rec>::open(&path).expect("open");
        log.truncate(1);
        log.append(&[Rec(5)]).expect("append after truncate");
        log.sync().expect("sync");
        drop(log);
        assert_eq!(reopen(&path), vec![Rec(1), Rec(5)]);
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_torn_tail_is_cut_off_but_mid_log_damage_names_the_offset() {
        let dir = tempdir("torn");
        let path = dir.join("log");
        let (mut log, _) = RecordLog::<Rec>::open(&path).expect("open");
        log.append(&[Rec(1), Rec(2)]).expect("append");
        log.sync().expect("sync");
        drop(log);
        let full = fs::read(&path).expect("read log");
        fs::write(&path, &full[..full.len() - 3]).expect("write torn");
        let (_, rec) = RecordLog::<Rec>::open(&path).expect("torn tail recovers");
        assert_eq!(rec.records, vec![Rec(1)]);
        assert!(rec.torn_bytes > 0);
        let mut bad = full.clone();
        bad[HEADER] ^= 0xff; // the first payload byte, with a valid record after it
        fs::write(&path, &bad).expect("write corrupt");
        match RecordLog::<Rec>::open(&path) {
            Err(StorageError::Corrupt { path: p, detail }) => {
                assert_eq!(p, path);
                assert!(detail.contains("record at byte 0"), "{detail}");
            }
            other => panic!("expected corruption, got {:?}", other.map(|_| ())),
        }
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn records_out_of_order_are_refused() {
        let dir = tempdir("order");
        let path = dir.join("log");
        let (mut log, _) = RecordLog::<Rec>::open(&path).expect("open");
        log.append(&[Rec(2)]).expect("append");
        assert!(log.append(&[Rec(2)]).is_err());
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn atomic_files_replace_their_content() {
        let dir = tempdir("atomic");
        write_atomic(&dir, "f", b"1").expect("write");
        write_atomic(&dir, "f", b"22").expect("replace");
        assert_eq!(
            read_optional(&dir.join("f")).expect("read"),
            Some(b"22".to_vec())
        );
        assert_eq!(read_optional(&dir.join("g")).expect("read"), None);
        let _ = fs::remove_dir_all(&dir);
    }
}
