//! [`MultiRegister`]: transactions of reads and writes over named registers, checked
//! for linearizability as a whole (Knossos's `multi-register`).
//!
//! ```text
//! {:f :txn, :value [[:read :x nil] [:write :y 2]]}   invoke
//! {:f :txn, :value [[:read :x 1]   [:write :y 2]]}   ok: the reads are filled in
//! ```
//!
//! A transaction applies its micro-ops in order, atomically: a read must see the
//! register's current value (a write earlier in the same transaction included), a
//! write sets it. Every register starts at the model's initial value (nil unless
//! `--initial-value` gives one). The history is one object: registers are not split
//! into partitions, since one transaction spans several (only Jepsen's independent
//! `:key`, when ops have one, splits it).
//!
//! An indeterminate transaction may have applied its writes, or not; its reads
//! constrain nothing (their values are unknown). A read of nil in an `ok` transaction
//! means the register holds nothing, as everywhere in faultline; Knossos instead
//! accepts nil reads in any state (`docs/history-format.md`).
//!
//! Micro-op names are `:read`/`:write` (Knossos) or `:r`/`:w` (some Jepsen test
//! suites); register names are keywords, strings or integers; values are integers.
//!
//! The search state is a vector of values indexed by register slot. Slots are numbered
//! as [`Model::call`] first meets each register name (the only shared state, behind a
//! lock; the numbering changes no verdict). Registers past the end of the vector hold
//! the initial value, and trailing initial values are trimmed, so every state has one
//! representation.
//!
//! Reference: Knossos `knossos.model/multi-register`.

use std::collections::BTreeSet;
use std::sync::Mutex as Lock;

use serde_json::{json, Value};

use super::{show, Completion, Model};
use crate::history::{Key, Kind, Payload, PayloadError, Record};

/// One read or write inside a transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MicroOp {
    /// Read a register: `None` when invoked (or when it read nil).
    Read(Key, Option<i64>),
    Write(Key, i64),
}

/// A multi-register transaction (`:f :txn`): micro-ops applied in order, atomically.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MultiRegisterOp(pub Vec<MicroOp>);

fn register(v: &Value) -> Result<Key, PayloadError> {
    match v {
        Value::String(s) => Ok(Key::Str(s.clone())),
        Value::Number(n) => n
            .as_i64()
            .map(Key::Int)
            .ok_or_else(|| PayloadError::expected("a register name", v)),
        other => Err(PayloadError::expected(
            "a register name (a keyword, string or integer)",
            other,
        )),
    }
}

fn key_json(k: &Key) -> Value {
    match k {
        Key::Int(i) => json!(i),
        Key::Str(s) => json!(s),
    }
}

impl Payload for MultiRegisterOp {
    fn f(&self) -> &'static str {
        "txn"
    }

    fn value(&self) -> Value {
        Value::Array(
            self.0
                .iter()
                .map(|m| match m {
                    MicroOp::Read(k, v) => json!(["read", key_json(k), v]),
                    MicroOp::Write(k, v) => json!(["write", key_json(k), v]),
                })
                .collect(),
        )
    }

    fn decode(f: &str, value: &Value, _kind: Kind) -> Result<Self, PayloadError> {
        if f != "txn" {
            return Err(PayloadError(format!(
                "expected f txn (a multi-register transaction), found {f:?}"
            )));
        }
        let micro = value.as_array().ok_or_else(|| {
            PayloadError::expected("a transaction [[:read :x nil] [:write :y 2] …]", value)
        })?;
        micro
            .iter()
            .map(|m| match m.as_array().map(Vec::as_slice) {
                Some([f, k, v]) => match f.as_str() {
                    Some("read" | "r") => Ok(MicroOp::Read(register(k)?, super::opt_int(v)?)),
                    Some("write" | "w") => Ok(MicroOp::Write(register(k)?, super::int(v)?)),
                    _ => Err(PayloadError::expected("a micro-op :read or :write", f)),
                },
                _ => Err(PayloadError::expected(
                    "a micro-op [:read register value] or [:write register value]",
                    m,
                )),
            })
            .collect::<Result<_, _>>()
            .map(MultiRegisterOp)
    }
}

/// True if `record` is a transaction of `:read`/`:write` micro-ops: what
/// `--model auto` takes for a multi-register history. (Elle's list-append txns use
/// `:append`/`:r`, and are not.)
pub fn is_multi_register_txn(record: &Record) -> bool {
    record.f == "txn"
        && record.value.as_array().is_some_and(|micro| {
            !micro.is_empty()
                && micro.iter().all(|m| {
                    m.as_array().is_some_and(|m| {
                        m.len() == 3 && matches!(m[0].as_str(), Some("read" | "write"))
                    })
                })
        })
}

/// A micro-op on a register slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Read, and observed this value.
    Read(Option<i64>),
    Write(i64),
}

/// A compiled transaction: accesses by register slot, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MultiRegisterCall(Box<[(u32, Access)]>);

/// The registers' values by slot (see the module docs for the representation).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Registers(Box<[Option<i64>]>);

/// The multi-register model.
#[derive(Debug, Default)]
pub struct MultiRegister {
    initial: Option<i64>,
    /// Register name of each slot.
    slots: Lock<Vec<Key>>,
}

impl MultiRegister {
    /// Every register starts at `initial` (`None`: nil).
    pub fn new(initial: Option<i64>) -> Self {
        MultiRegister {
            initial,
            slots: Lock::new(Vec::new()),
        }
    }

    fn slot(&self, name: &Key) -> u32 {
        let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        let at = match slots.iter().position(|k| k == name) {
            Some(at) => at,
            None => {
                slots.push(name.clone());
                slots.len() - 1
            }
        };
        u32::try_from(at).expect("fewer than 2^32 registers in one history")
    }

    fn name(&self, slot: u32) -> String {
        let slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        slots
            .get(slot as usize)
            .map_or_else(|| format!("#{slot}"), register_name)
    }
}

fn register_name(k: &Key) -> String {
    match k {
        Key::Int(i) => i.to_string(),
        Key::Str(s) => s.clone(),
    }
}

impl Model for MultiRegister {
    type Op = MultiRegisterOp;
    type Call = MultiRegisterCall;
    type State = Registers;

    fn name(&self) -> &'static str {
        "multi-register"
    }

    fn init(&self) -> Registers {
        Registers(Box::new([]))
    }

    fn call(
        &self,
        invoke: &MultiRegisterOp,
        completion: Completion<'_, MultiRegisterOp>,
    ) -> Option<MultiRegisterCall> {
        let accesses: Box<[(u32, Access)]> = match completion {
            Completion::Ok(done) => done
                .0
                .iter()
                .map(|m| match m {
                    MicroOp::Read(k, v) => (self.slot(k), Access::Read(*v)),
                    MicroOp::Write(k, v) => (self.slot(k), Access::Write(*v)),
                })
                .collect(),
            // Unknown reads constrain nothing; a transaction without writes changes
            // nothing and is dropped.
            Completion::Indeterminate => invoke
                .0
                .iter()
                .filter_map(|m| match m {
                    MicroOp::Read(..) => None,
                    MicroOp::Write(k, v) => Some((self.slot(k), Access::Write(*v))),
                })
                .collect(),
        };
        (!accesses.is_empty()).then_some(MultiRegisterCall(accesses))
    }

    fn step(&self, state: &Registers, call: &MultiRegisterCall) -> Option<Registers> {
        let mut regs = state.0.to_vec();
        for &(slot, access) in call.0.iter() {
            let s = slot as usize;
            match access {
                Access::Read(v) => {
                    if regs.get(s).copied().unwrap_or(self.initial) != v {
                        return None;
                    }
                }
                Access::Write(v) => {
                    if regs.len() <= s {
                        regs.resize(s + 1, self.initial);
                    }
                    regs[s] = Some(v);
                }
            }
        }
        while regs.last() == Some(&self.initial) {
            regs.pop();
        }
        Some(Registers(regs.into_boxed_slice()))
    }

    fn droppable(&self, calls: &[MultiRegisterCall], indeterminate: &[bool]) -> Vec<bool> {
        // An indeterminate transaction none of whose written values is ever read can
        // be linearized last, where it changes nothing anyone saw.
        let observed: BTreeSet<(u32, i64)> = calls
            .iter()
            .flat_map(|c| c.0.iter())
            .filter_map(|&(slot, a)| match a {
                Access::Read(Some(v)) => Some((slot, v)),
                _ => None,
            })
            .collect();
        calls
            .iter()
            .zip(indeterminate)
            .map(|(c, &maybe)| {
                maybe
                    && c.0.iter().all(|&(slot, a)| match a {
                        Access::Write(v) => !observed.contains(&(slot, v)),
                        Access::Read(_) => true,
                    })
            })
            .collect()
    }

    fn describe_state(&self, state: &Registers) -> String {
        let mut set: Vec<(String, Option<i64>)> = state
            .0
            .iter()
            .enumerate()
            .filter(|(_, v)| **v != self.initial)
            .map(|(slot, v)| (self.name(slot as u32), *v))
            .collect();
        set.sort();
        if set.is_empty() {
            return format!("every register holds {}", show(self.initial));
        }
        let shown: Vec<String> = set
            .iter()
            .map(|(name, v)| format!("{name} = {}", show(*v)))
            .collect();
        format!(
            "{}; every other register holds {}",
            shown.join(", "),
            show(self.initial)
        )
    }

    fn describe_op(
        &self,
        invoke: &MultiRegisterOp,
        completion: Completion<'_, MultiRegisterOp>,
    ) -> String {
        let (op, tail) = match completion {
            Completion::Ok(done) => (done, ""),
            Completion::Indeterminate => (invoke, " (indeterminate)"),
        };
        let micro: Vec<String> =
            op.0.iter()
                .map(|m| match (m, completion) {
                    (MicroOp::Read(k, _), Completion::Indeterminate) => {
                        format!("read {}", register_name(k))
                    }
                    (MicroOp::Read(k, v), Completion::Ok(_)) => {
                        format!("read {} → {}", register_name(k), show(*v))
                    }
                    (MicroOp::Write(k, v), _) => format!("write {} {v}", register_name(k)),
                })
                .collect();
        format!("txn [{}]{tail}", micro.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn txn(micro: &[(&str, &str, Option<i64>)]) -> MultiRegisterOp {
        MultiRegisterOp(
            micro
                .iter()
                .map(|&(f, k, v)| match f {
                    "read" => MicroOp::Read(Key::from(k), v),
                    _ => MicroOp::Write(Key::from(k), v.expect("a written value")),
                })
                .collect(),
        )
    }

    fn ok(m: &MultiRegister, op: &MultiRegisterOp) -> MultiRegisterCall {
        m.call(op, Completion::Ok(op)).expect("an ok txn is a call")
    }

    #[test]
    fn a_transaction_applies_in_order_and_atomically() {
        let m = MultiRegister::default();
        let w = ok(
            &m,
            &txn(&[("write", "x", Some(1)), ("write", "y", Some(2))]),
        );
        let s = m.step(&m.init(), &w).unwrap();
        // Reads see the transaction's own earlier write.
        let own = ok(&m, &txn(&[("write", "x", Some(5)), ("read", "x", Some(5))]));
        assert!(m.step(&s, &own).is_some());
        // Both registers at once, or neither.
        let both = ok(&m, &txn(&[("read", "x", Some(1)), ("read", "y", Some(2))]));
        let torn = ok(&m, &txn(&[("read", "x", Some(1)), ("read", "y", None)]));
        assert_eq!(m.step(&s, &both).as_ref(), Some(&s));
        assert_eq!(m.step(&s, &torn), None);
        // nil means never written.
        let nil = ok(&m, &txn(&[("read", "z", None)]));
        assert!(m.step(&s, &nil).is_some());
        assert_eq!(m.step(&s, &ok(&m, &txn(&[("read", "x", None)]))), None);
        assert_eq!(
            m.describe_state(&s),
            "x = 1, y = 2; every other register holds nil"
        );
    }

    #[test]
    fn indeterminate_transactions_only_maybe_write() {
        let m = MultiRegister::default();
        let op = txn(&[("read", "x", None), ("write", "y", Some(3))]);
        let maybe = m.call(&op, Completion::Indeterminate).unwrap();
        let s = m.step(&m.init(), &maybe).expect("never impossible");
        assert_eq!(
            m.describe_state(&s),
            "y = 3; every other register holds nil"
        );
        let reads_only = txn(&[("read", "x", None)]);
        assert!(m.call(&reads_only, Completion::Indeterminate).is_none());
        assert_eq!(
            m.describe_op(&op, Completion::Indeterminate),
            "txn [read x, write y 3] (indeterminate)"
        );
    }

    #[test]
    fn an_initial_value_and_one_representation_per_state() {
        let m = MultiRegister::new(Some(0));
        let read0 = ok(&m, &txn(&[("read", "q", Some(0))]));
        assert!(m.step(&m.init(), &read0).is_some());
        assert_eq!(
            m.step(&m.init(), &ok(&m, &txn(&[("read", "q", None)]))),
            None
        );
        // Writing the initial value back gives the initial state itself.
        let w = ok(&m, &txn(&[("write", "q", Some(4))]));
        let back = ok(&m, &txn(&[("write", "q", Some(0))]));
        let s = m.step(&m.init(), &w).unwrap();
        assert_eq!(m.step(&s, &back), Some(m.init()));
    }

    #[test]
    fn unobserved_indeterminate_writes_are_droppable() {
        let m = MultiRegister::default();
        let calls = [
            m.call(&txn(&[("write", "x", Some(1))]), Completion::Indeterminate)
                .unwrap(),
            m.call(
                &txn(&[("write", "x", Some(2)), ("write", "y", Some(7))]),
                Completion::Indeterminate,
            )
            .unwrap(),
            ok(&m, &txn(&[("read", "y", Some(7))])),
            ok(&m, &txn(&[("write", "x", Some(1))])),
        ];
        // 1 is never read; y = 7 is.
        assert_eq!(
            m.droppable(&calls, &[true, true, false, false]),
            vec![true, false, false, false]
        );
    }

    #[test]
    fn payload_round_trips_and_names_bad_micro_ops() {
        let op = MultiRegisterOp(vec![
            MicroOp::Read(Key::from("x"), None),
            MicroOp::Write(Key::Int(3), 2),
        ]);
        assert_eq!(
            MultiRegisterOp::decode("txn", &op.value(), Kind::Invoke),
            Ok(op)
        );
        let short = json!([["r", "x", 1], ["w", "x", 2]]);
        assert!(MultiRegisterOp::decode("txn", &short, Kind::Ok).is_ok());
        for (bad, what) in [
            (json!([["append", "x", 1]]), ":read or :write"),
            (json!([["read", "x"]]), "micro-op"),
            (json!([["write", "x", "a"]]), "integer"),
            (json!({"x": 1}), "transaction"),
        ] {
            let e = MultiRegisterOp::decode("txn", &bad, Kind::Ok).unwrap_err();
            assert!(e.0.contains(what), "{bad}: {e}");
        }
        assert!(MultiRegisterOp::decode("read", &json!(null), Kind::Ok).is_err());
    }

    #[test]
    fn detection_tells_multi_register_from_list_append() {
        let record = |value: Value| Record {
            line: 1,
            index: None,
            time: None,
            process: crate::history::Process::Client(crate::history::ProcessId(0)),
            kind: Kind::Invoke,
            f: "txn".into(),
            key: None,
            value,
            error: None,
        };
        assert!(is_multi_register_txn(&record(json!([
            ["read", "x", null],
            ["write", "y", 2]
        ]))));
        assert!(!is_multi_register_txn(&record(json!([
            ["append", 1, 2],
            ["r", 1, null]
        ]))));
        assert!(!is_multi_register_txn(&record(json!([["r", 1, null]]))));
        assert!(!is_multi_register_txn(&record(json!([]))));
    }
}
