//! The live history of a run: one append-only `history.jsonl`, shared by the client
//! workers and the nemesis.
//!
//! ```text
//! workers ──Recording<C>──┐
//!                         ├──► HistoryLog (index + time under one lock) ──► history.jsonl
//! nemesis ──fault ops─────┘
//! ```
//!
//! Invariants:
//! - indices are assigned and times read under the same lock that writes the line, so
//!   file order = index order = time order;
//! - every op is flushed before the call returns (`checkers::history::HistoryWriter`),
//!   so nothing recorded is lost when the controller dies;
//! - ops are typed: a workload's [`Codec`] turns its inputs and completions into the
//!   checker's payload for the model that judges it.

use std::fs::File;
use std::io;
use std::path::Path;
use std::sync::Mutex;
use std::time::Instant;

use checkers::faults::FaultEvent;
use checkers::history::{Fault, HistoryWriter, Key, Kind, Op, Payload};

use crate::interpreter::{Completion, ProcessId, Recorder};

/// The run's history file, open for appending.
#[derive(Debug)]
pub struct HistoryLog {
    start: Instant,
    inner: Mutex<Inner>,
}

#[derive(Debug)]
struct Inner {
    writer: HistoryWriter<File>,
    next: u64,
}

impl HistoryLog {
    /// Creates `path`; times are measured from `start`.
    pub fn create(path: &Path, start: Instant) -> io::Result<HistoryLog> {
        let writer = HistoryWriter::create(path)
            .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
        Ok(HistoryLog {
            start,
            inner: Mutex::new(Inner { writer, next: 0 }),
        })
    }

    /// Nanoseconds since the start of the run.
    pub fn now(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    /// The run's time origin.
    pub fn start(&self) -> Instant {
        self.start
    }

    /// Appends a client op; returns its index.
    pub fn client<P: Payload>(
        &self,
        process: ProcessId,
        kind: Kind,
        key: Option<Key>,
        payload: P,
        error: Option<&str>,
    ) -> io::Result<u64> {
        self.append(|index, time| {
            let mut op = Op::client(index, time, process, kind, payload);
            op.key = key;
            op.error = error.map(|e| serde_json::Value::String(e.to_owned()));
            op
        })
    }

    /// Appends a fault event as a nemesis op (`f` is Jepsen's name for it, the value
    /// the event itself); its time is the ops' clock.
    pub fn fault(&self, event: &FaultEvent) -> io::Result<u64> {
        let value = serde_json::to_value(event)
            .map_err(|e| io::Error::other(format!("serializing a fault event: {e}")))?;
        self.append::<NoPayload>(|index, time| {
            Op::nemesis(
                index,
                time,
                Kind::Info,
                Fault {
                    f: event.f(),
                    value,
                },
            )
        })
    }

    fn append<P: Payload>(&self, make: impl FnOnce(u64, u64) -> Op<P>) -> io::Result<u64> {
        let mut inner = self
            .inner
            .lock()
            .map_err(|_| io::Error::other("the history writer panicked earlier"))?;
        let index = inner.next;
        let op = make(index, self.now());
        inner.writer.append(&op)?;
        inner.next += 1;
        Ok(index)
    }

    /// How many ops were written.
    pub fn len(&self) -> u64 {
        self.inner.lock().map(|i| i.next).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Nemesis ops carry no client payload; this type only fills the type parameter.
#[derive(Debug, Clone)]
enum NoPayload {}

impl Payload for NoPayload {
    fn f(&self) -> &'static str {
        match *self {}
    }
    fn value(&self) -> serde_json::Value {
        match *self {}
    }
    fn decode(
        f: &str,
        _value: &serde_json::Value,
        _kind: Kind,
    ) -> Result<Self, checkers::history::PayloadError> {
        Err(checkers::history::PayloadError(format!(
            "{f}: nemesis ops have no client payload"
        )))
    }
}

/// How a workload's ops appear in the history.
pub trait Codec: Send + Sync + 'static {
    type Input;
    type Output;
    type Payload: Payload;

    /// The independent key an op acts on, if the workload has keys.
    fn key(&self, input: &Self::Input) -> Option<Key>;
    /// The payload of the invocation.
    fn invoked(&self, input: &Self::Input) -> Self::Payload;
    /// The payload of the completion (for `fail`/`info`, usually the invocation's).
    fn completed(
        &self,
        input: &Self::Input,
        completion: &Completion<Self::Output>,
    ) -> Self::Payload;
}

/// The interpreter's [`Recorder`] for one workload: its ops, typed, into the log.
#[derive(Debug)]
pub struct Recording<C> {
    log: std::sync::Arc<HistoryLog>,
    codec: C,
}

impl<C> Recording<C> {
    pub fn new(log: std::sync::Arc<HistoryLog>, codec: C) -> Self {
        Recording { log, codec }
    }
}

impl<C> Recorder<C::Input, C::Output> for Recording<C>
where
    C: Codec,
    C::Input: Send + Sync + 'static,
    C::Output: Send + 'static,
{
    fn invoke(&self, process: ProcessId, input: &C::Input) -> io::Result<()> {
        let payload = self.codec.invoked(input);
        self.log
            .client(process, Kind::Invoke, self.codec.key(input), payload, None)
            .map(drop)
    }

    fn complete(
        &self,
        process: ProcessId,
        input: &C::Input,
        completion: &Completion<C::Output>,
    ) -> io::Result<()> {
        let payload = self.codec.completed(input, completion);
        let (kind, error) = match completion {
            Completion::Ok(_) => (Kind::Ok, None),
            Completion::Fail(e) => (Kind::Fail, Some(e.as_str())),
            Completion::Info(e) => (Kind::Info, Some(e.as_str())),
        };
        self.log
            .client(process, kind, self.codec.key(input), payload, error)
            .map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use checkers::format;
    use checkers::history::History;
    use checkers::model::CasOp;
    use std::sync::Arc;

    struct Cas;

    impl Codec for Cas {
        type Input = (i64, Option<i64>);
        type Output = Option<i64>;
        type Payload = CasOp;
        fn key(&self, input: &Self::Input) -> Option<Key> {
            Some(Key::Int(input.0))
        }
        fn invoked(&self, input: &Self::Input) -> CasOp {
            match input.1 {
                Some(v) => CasOp::Write(v),
                None => CasOp::Read(None),
            }
        }
        fn completed(&self, input: &Self::Input, c: &Completion<Option<i64>>) -> CasOp {
            match (input.1, c) {
                (None, Completion::Ok(v)) => CasOp::Read(*v),
                _ => self.invoked(input),
            }
        }
    }

    #[test]
    fn recorded_ops_read_back_as_a_valid_history_in_order() {
        let dir = std::env::temp_dir().join(format!("fl-history-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("history.jsonl");
        let log = Arc::new(HistoryLog::create(&path, Instant::now()).unwrap());
        let rec = Recording::new(Arc::clone(&log), Cas);
        rec.invoke(0, &(7, Some(3))).unwrap();
        let fault = checkers::faults::FaultEvent::start(
            checkers::faults::FaultKind::Partition,
            "one",
            checkers::faults::FaultOutcome::Installed,
        )
        .with_nodes(["n1"]);
        log.fault(&fault).unwrap();
        rec.invoke(1, &(7, None)).unwrap();
        rec.complete(0, &(7, Some(3)), &Completion::Ok(None))
            .unwrap();
        rec.complete(1, &(7, None), &Completion::Ok(Some(3)))
            .unwrap();
        rec.invoke(2, &(8, Some(1))).unwrap();
        rec.complete(2, &(8, Some(1)), &Completion::Info("timed out".into()))
            .unwrap();
        assert_eq!(log.len(), 7);

        let bytes = std::fs::read(&path).unwrap();
        let (_, records) = format::read(&bytes, None).unwrap();
        let history = History::<CasOp>::from_records(&records).unwrap();
        let ops = history.ops();
        assert_eq!(ops.len(), 7);
        assert!(ops
            .windows(2)
            .all(|w| w[0].index + 1 == w[1].index && w[0].time <= w[1].time));
        assert_eq!(ops[4].payload(), Some(&CasOp::Read(Some(3))));
        assert_eq!(ops[4].key, Some(Key::Int(7)));
        assert_eq!(ops[6].kind, Kind::Info);
        // The fault event reads back typed, on the ops' clock.
        let events = checkers::faults::events(&records);
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].1, fault);
        assert_eq!(events[0].0, ops[1].time);
        assert_eq!(ops[6].error, Some(serde_json::json!("timed out")));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
