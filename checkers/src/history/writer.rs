//! [`HistoryWriter`]: appends ops to `history.jsonl` as they happen.
//!
//! Each op becomes one JSON line written with a single `write_all` and flushed at once,
//! so a controller that crashes loses nothing it recorded (at worst the last line is
//! torn, and readers report it with its line number). [`HistoryWriter::sync`] adds an
//! fsync for callers that must survive a machine crash too.

use std::fs::File;
use std::io::{self, Write};
use std::path::Path;

use super::{Op, Payload, Record};
use crate::format::jsonl;

/// Appends one op per line, flushing after each.
#[derive(Debug)]
pub struct HistoryWriter<W: Write> {
    out: W,
    buf: Vec<u8>,
    written: u64,
}

impl HistoryWriter<File> {
    /// Creates (or truncates) `path`.
    pub fn create(path: &Path) -> io::Result<Self> {
        Ok(HistoryWriter::new(File::create(path)?))
    }

    /// fsyncs the file's data.
    pub fn sync(&mut self) -> io::Result<()> {
        self.out.sync_data()
    }
}

impl<W: Write> HistoryWriter<W> {
    /// Writes to any sink (a `File`, a `Vec<u8>` in tests).
    pub fn new(out: W) -> Self {
        HistoryWriter {
            out,
            buf: Vec::with_capacity(256),
            written: 0,
        }
    }

    /// Appends one typed op and flushes.
    pub fn append<P: Payload>(&mut self, op: &Op<P>) -> io::Result<()> {
        self.buf.clear();
        jsonl::encode_op(op, &mut self.buf)?;
        self.emit()
    }

    /// Appends one untyped record and flushes (used by `faultline export`).
    pub fn append_record(&mut self, record: &Record) -> io::Result<()> {
        self.buf.clear();
        jsonl::encode_record(record, &mut self.buf)?;
        self.emit()
    }

    fn emit(&mut self) -> io::Result<()> {
        self.buf.push(b'\n');
        self.out.write_all(&self.buf)?;
        self.out.flush()?;
        self.written += 1;
        Ok(())
    }

    /// How many ops were appended.
    pub fn written(&self) -> u64 {
        self.written
    }

    /// Gives back the sink.
    pub fn into_inner(self) -> W {
        self.out
    }
}
