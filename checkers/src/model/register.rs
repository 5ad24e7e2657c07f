//! [`Register`]: a read/write register holding an integer, initially nil.
//!
//! Reference: Knossos `register`, Porcupine's register example.

use serde_json::{json, Value};

use super::{int, opt_int, show, Completion, Model};
use crate::history::{Kind, Payload, PayloadError};

/// A register operation. A read is invoked with `None` and completes with the value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegisterOp {
    Read(Option<i64>),
    Write(i64),
}

impl Payload for RegisterOp {
    fn f(&self) -> &'static str {
        match self {
            RegisterOp::Read(_) => "read",
            RegisterOp::Write(_) => "write",
        }
    }

    fn value(&self) -> Value {
        match self {
            RegisterOp::Read(v) => json!(v),
            RegisterOp::Write(v) => json!(v),
        }
    }

    fn decode(f: &str, value: &Value, _kind: Kind) -> Result<Self, PayloadError> {
        match f {
            "read" => Ok(RegisterOp::Read(opt_int(value)?)),
            "write" => Ok(RegisterOp::Write(int(value)?)),
            other => Err(PayloadError(format!(
                "expected f read or write, found {other:?}"
            ))),
        }
    }
}

/// A compiled register call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegisterCall {
    /// Read, and observed this value.
    Read(Option<i64>),
    Write(i64),
}

/// The read/write register model.
#[derive(Debug, Clone, Copy, Default)]
pub struct Register;

impl Model for Register {
    type Op = RegisterOp;
    type Call = RegisterCall;
    type State = Option<i64>;

    fn name(&self) -> &'static str {
        "register"
    }

    fn init(&self) -> Option<i64> {
        None
    }

    fn call(
        &self,
        invoke: &RegisterOp,
        completion: Completion<'_, RegisterOp>,
    ) -> Option<RegisterCall> {
        match (invoke, completion) {
            (RegisterOp::Write(v), _) => Some(RegisterCall::Write(*v)),
            (RegisterOp::Read(_), Completion::Ok(RegisterOp::Read(v))) => {
                Some(RegisterCall::Read(*v))
            }
            // An indeterminate read changes nothing. (A completion of another f is
            // rejected when the history is built.)
            (RegisterOp::Read(_), _) => None,
        }
    }

    fn step(&self, state: &Option<i64>, call: &RegisterCall) -> Option<Option<i64>> {
        match call {
            RegisterCall::Read(v) => (v == state).then_some(*state),
            RegisterCall::Write(v) => Some(Some(*v)),
        }
    }

    fn droppable(&self, calls: &[RegisterCall], indeterminate: &[bool]) -> Vec<bool> {
        let observed: std::collections::BTreeSet<i64> = calls
            .iter()
            .filter_map(|c| match *c {
                RegisterCall::Read(v) => v,
                RegisterCall::Write(_) => None,
            })
            .collect();
        calls
            .iter()
            .zip(indeterminate)
            .map(|(c, &maybe)| matches!(*c, RegisterCall::Write(v) if maybe && !observed.contains(&v)))
            .collect()
    }

    fn describe_state(&self, state: &Option<i64>) -> String {
        format!("the register holds {}", show(*state))
    }

    fn describe_op(&self, invoke: &RegisterOp, completion: Completion<'_, RegisterOp>) -> String {
        match (invoke, completion) {
            (RegisterOp::Write(v), Completion::Ok(_)) => format!("write {v}"),
            (RegisterOp::Write(v), Completion::Indeterminate) => {
                format!("write {v} (indeterminate)")
            }
            (RegisterOp::Read(_), Completion::Ok(RegisterOp::Read(v))) => {
                format!("read → {}", show(*v))
            }
            (RegisterOp::Read(_), _) => "read (indeterminate)".to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_see_the_last_write() {
        let m = Register;
        let w = m
            .call(&RegisterOp::Write(3), Completion::Ok(&RegisterOp::Write(3)))
            .unwrap();
        let s = m.step(&m.init(), &w).unwrap();
        let ok = m
            .call(
                &RegisterOp::Read(None),
                Completion::Ok(&RegisterOp::Read(Some(3))),
            )
            .unwrap();
        let stale = m
            .call(
                &RegisterOp::Read(None),
                Completion::Ok(&RegisterOp::Read(None)),
            )
            .unwrap();
        assert_eq!(m.step(&s, &ok), Some(Some(3)));
        assert_eq!(m.step(&s, &stale), None);
        assert_eq!(m.step(&m.init(), &stale), Some(None));
        assert!(m
            .call(&RegisterOp::Read(None), Completion::Indeterminate)
            .is_none());
    }

    #[test]
    fn payload_round_trips() {
        for op in [
            RegisterOp::Read(None),
            RegisterOp::Read(Some(2)),
            RegisterOp::Write(5),
        ] {
            assert_eq!(
                RegisterOp::decode(op.f(), &op.value(), Kind::Ok).unwrap(),
                op
            );
        }
        assert!(RegisterOp::decode("write", &json!("x"), Kind::Invoke).is_err());
        assert!(RegisterOp::decode("cas", &json!([1, 2]), Kind::Invoke).is_err());
    }
}
