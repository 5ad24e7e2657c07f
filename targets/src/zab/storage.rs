//! Durable state of one Zab node, in ZooKeeper's names: the history `zab.log` (a
//! [`RecordLog`] of transactions, zxids increasing) and the two epochs `acceptedEpoch`
//! and `currentEpoch` (a decimal number and a newline each, replaced atomically).
//!
//! Order is what Zab's safety rests on (research §1.3): an epoch file is written only
//! after every log change before it is fsynced ([`Storage::save_current_epoch`] syncs the
//! log first), so "history, then currentEpoch" holds on disk whatever a SIGKILL
//! interrupts. Log changes not yet synced are lost with the process, as in a power cut.
//!
//! On open, a corrupt or truncated epoch file, mid-log damage, zxids out of order or an
//! acceptedEpoch older than currentEpoch refuse the start with the file and the byte
//! offset; nothing is served from a half-read state. The one repair is a torn final log
//! record: a crash in the middle of a batch's write leaves exactly that, and nothing in
//! that batch was acknowledged (every send waits for the batch's fsync), so it is cut off
//! and reported.

use std::fs;
use std::path::{Path, PathBuf};

use super::core::Durable;
use super::types::{Epoch, Txn, Zxid};
use crate::bundled::storage::{io_err, read_optional, write_atomic, RecordLog};

pub use crate::bundled::storage::StorageError;

pub const LOG_FILE: &str = "zab.log";
pub const ACCEPTED_EPOCH_FILE: &str = "acceptedEpoch";
pub const CURRENT_EPOCH_FILE: &str = "currentEpoch";

/// What was on disk when the storage was opened.
#[derive(Debug)]
pub struct Recovered {
    pub durable: Durable,
    /// Bytes of a torn final record that were cut off, and the offset they began at.
    pub torn_bytes: u64,
    pub torn_at: u64,
    pub log_path: PathBuf,
}

/// An open data directory.
pub struct Storage {
    dir: PathBuf,
    log: RecordLog<Txn>,
}

impl Storage {
    /// Opens (creating if needed) a data directory and recovers its contents.
    pub fn open(dir: &Path) -> Result<(Storage, Recovered), StorageError> {
        fs::create_dir_all(dir).map_err(io_err(dir))?;
        let current_path = dir.join(CURRENT_EPOCH_FILE);
        let accepted_path = dir.join(ACCEPTED_EPOCH_FILE);
        let current = read_epoch(&current_path)?;
        let accepted = read_epoch(&accepted_path)?;
        let current_epoch = current.unwrap_or(0);
        // ZooKeeper's default for a missing acceptedEpoch: the currentEpoch.
        let accepted_epoch = accepted.unwrap_or(current_epoch);
        if accepted_epoch < current_epoch {
            return Err(StorageError::Corrupt {
                path: accepted_path,
                detail: format!(
                    "byte 0: acceptedEpoch {accepted_epoch} is older than currentEpoch {current_epoch}"
                ),
            });
        }
        let log_path = dir.join(LOG_FILE);
        let (log, recovered) = RecordLog::<Txn>::open(&log_path)?;
        let storage = Storage {
            dir: dir.to_path_buf(),
            log,
        };
        let recovered = Recovered {
            durable: Durable {
                accepted_epoch,
                current_epoch,
                log: recovered.records,
            },
            torn_bytes: recovered.torn_bytes,
            torn_at: recovered.torn_at,
            log_path,
        };
        Ok((storage, recovered))
    }

    /// Adds transactions at the end (durable after [`Storage::sync`]).
    pub fn append(&mut self, txns: &[Txn]) -> Result<(), StorageError> {
        self.log.append(txns)
    }

    /// Drops every transaction after `z` (durable after [`Storage::sync`]).
    pub fn truncate_after(&mut self, z: Zxid) {
        let keep = self.log.count_through(z.as_u64());
        self.log.truncate(keep);
    }

    /// Makes every log change so far durable.
    pub fn sync(&mut self) -> Result<(), StorageError> {
        self.log.sync()
    }

    /// Durably records acceptedEpoch, after the log changes before it.
    pub fn save_accepted_epoch(&mut self, e: Epoch) -> Result<(), StorageError> {
        self.save_epoch(ACCEPTED_EPOCH_FILE, e)
    }

    /// Durably records currentEpoch, after the log changes before it (the synced
    /// history), as ZOOKEEPER-4643's fix requires.
    pub fn save_current_epoch(&mut self, e: Epoch) -> Result<(), StorageError> {
        self.save_epoch(CURRENT_EPOCH_FILE, e)
    }

    fn save_epoch(&mut self, name: &str, e: Epoch) -> Result<(), StorageError> {
        self.log.sync()?;
        write_atomic(&self.dir, name, format!("{e}\n").as_bytes())
    }
}

/// Reads an epoch file: `None` when missing; an error naming the byte offset when it
/// is anything but a decimal number and a newline.
fn read_epoch(path: &Path) -> Result<Option<Epoch>, StorageError> {
    let Some(bytes) = read_optional(path)? else {
        return Ok(None);
    };
    let corrupt = |at: usize, detail: String| StorageError::Corrupt {
        path: path.to_path_buf(),
        detail: format!("byte {at}: {detail}"),
    };
    let digits = bytes.iter().take_while(|b| b.is_ascii_digit()).count();
    if digits == bytes.len() {
        return Err(corrupt(
            bytes.len(),
            "truncated: expected a decimal epoch and a newline".into(),
        ));
    }
    if digits == 0 {
        return Err(corrupt(
            0,
            format!("expected a digit, found {:#04x}", bytes[0]),
        ));
    }
    if bytes[digits] != b'\n' {
        return Err(corrupt(
            digits,
            format!("expected a newline, found {:#04x}", bytes[digits]),
        ));
    }
    if digits + 1 != bytes.len() {
        return Err(corrupt(
            digits + 1,
            "unexpected bytes after the epoch".into(),
        ));
    }
    let text = std::str::from_utf8(&bytes[..digits]).expect("ASCII digits");
    text.parse::<Epoch>()
        .map(Some)
        .map_err(|e| corrupt(0, format!("epoch out of range: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::zab::types::Payload;

    fn txn(epoch: u32, counter: u32) -> Txn {
        Txn {
            zxid: Zxid::new(epoch, counter),
            payload: Payload::Noop,
        }
    }

    fn tempdir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "faultline-zab-storage-{name}-{}",
            std::process::id()
        ));
        let _ = fs::remove_dir_all(&dir);
        dir
    }

    fn refused(dir: &Path) -> (PathBuf, String) {
        match Storage::open(dir) {
            Err(StorageError::Corrupt { path, detail }) => (path, detail),
            other => panic!("expected a refusal, got {:?}", other.map(|_| ())),
        }
    }

    #[test]
    fn epochs_and_history_round_trip() {
        let dir = tempdir("roundtrip");
        let (mut s, rec) = Storage::open(&dir).expect("fresh");
        assert_eq!(rec.durable, Durable::default());
        s.save_accepted_epoch(2).expect("accepted");
        s.append(&[txn(1, 1), txn(1, 2), txn(2, 1)])
            .expect("append");
        s.truncate_after(Zxid::new(1, 1));
        s.append(&[txn(2, 1)]).expect("append");
        s.save_current_epoch(2)
            .expect("current syncs the log first");
        drop(s); // no explicit sync: the epoch write made the log durable
        let (_, rec) = Storage::open(&dir).expect("reopen");
        assert_eq!(rec.durable.accepted_epoch, 2);
        assert_eq!(rec.durable.current_epoch, 2);
        assert_eq!(rec.durable.log, vec![txn(1, 1), txn(2, 1)]);
        assert_eq!(
            fs::read(dir.join(CURRENT_EPOCH_FILE)).expect("file"),
            b"2\n"
        );
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn unsynced_history_is_lost_but_an_epoch_write_keeps_what_came_before_it() {
        let dir = tempdir("order");
        let (mut s, _) = Storage::open(&dir).expect("fresh");
        s.append(&[txn(1, 1)]).expect("append");
        s.save_current_epoch(1).expect("epoch");
        s.append(&[txn(1, 2)]).expect("append");
        drop(s); // SIGKILL before the batch's fsync
        let (_, rec) = Storage::open(&dir).expect("reopen");
        assert_eq!(rec.durable.log, vec![txn(1, 1)]);
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn bad_epoch_files_refuse_the_start_with_the_file_and_offset() {
        let dir = tempdir("epochs");
        let (mut s, _) = Storage::open(&dir).expect("fresh");
        s.save_accepted_epoch(3).expect("accepted");
        s.save_current_epoch(3).expect("current");
        drop(s);
        let current = dir.join(CURRENT_EPOCH_FILE);
        for (content, offset) in [
            (&b""[..], "byte 0"),
            (&b"3"[..], "byte 1: truncated"),
            (&b"3x\n"[..], "byte 1: expected a newline"),
            (&b"\n"[..], "byte 0: expected a digit"),
            (&b"3\n3"[..], "byte 2: unexpected bytes"),
            (&b"99999999999\n"[..], "out of range"),
        ] {
            fs::write(&current, content).expect("write");
            let (path, detail) = refused(&dir);
            assert_eq!(path, current);
            assert!(detail.contains(offset), "{content:?}: {detail}");
        }
        fs::write(&current, b"4\n").expect("write");
        let (path, detail) = refused(&dir);
        assert_eq!(path, dir.join(ACCEPTED_EPOCH_FILE));
        assert!(detail.contains("older than currentEpoch 4"), "{detail}");
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_corrupt_log_refuses_the_start_and_a_torn_tail_is_cut() {
        let dir = tempdir("log");
        let (mut s, _) = Storage::open(&dir).expect("fresh");
        s.append(&[txn(1, 1), txn(1, 2)]).expect("append");
        s.sync().expect("sync");
        drop(s);
        let path = dir.join(LOG_FILE);
        let full = fs::read(&path).expect("log");
        fs::write(&path, &full[..full.len() - 2]).expect("torn");
        let (_, rec) = Storage::open(&dir).expect("a torn tail is cut");
        assert_eq!(rec.durable.log, vec![txn(1, 1)]);
        assert!(rec.torn_bytes > 0 && rec.torn_at > 0);
        let mut bad = full.clone();
        bad[9] ^= 0xff;
        fs::write(&path, &bad).expect("corrupt");
        let (p, detail) = refused(&dir);
        assert_eq!(p, path);
        assert!(detail.contains("record at byte 0"), "{detail}");
        let _ = fs::remove_dir_all(&dir);
    }
}
