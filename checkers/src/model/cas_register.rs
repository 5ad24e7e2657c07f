//! [`CasRegister`]: a register with compare-and-set, holding an integer, initially nil.
//!
//! A cas that completes `ok` succeeded (its `from` matched); one that failed is a
//! `fail` op and never reaches the model. An indeterminate cas either applied (if
//! `from` matched where it is linearized) or did nothing.
//!
//! Reference: Knossos `cas-register`, Porcupine's etcd/Jepsen model.

use serde_json::{json, Value};

use super::{int, opt_int, show, Completion, Model};
use crate::history::{Kind, Payload, PayloadError};

/// A cas-register operation (`value` on the wire: `read` nil/int, `write` int, `cas` `[from, to]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CasOp {
    Read(Option<i64>),
    Write(i64),
    Cas { from: i64, to: i64 },
}

impl Payload for CasOp {
    fn f(&self) -> &'static str {
        match self {
            CasOp::Read(_) => "read",
            CasOp::Write(_) => "write",
            CasOp::Cas { .. } => "cas",
        }
    }

    fn value(&self) -> Value {
        match self {
            CasOp::Read(v) => json!(v),
            CasOp::Write(v) => json!(v),
            CasOp::Cas { from, to } => json!([from, to]),
        }
    }

    fn decode(f: &str, value: &Value, _kind: Kind) -> Result<Self, PayloadError> {
        match f {
            "read" => Ok(CasOp::Read(opt_int(value)?)),
            "write" => Ok(CasOp::Write(int(value)?)),
            "cas" => match value.as_array().map(Vec::as_slice) {
                Some([from, to]) => Ok(CasOp::Cas {
                    from: int(from)?,
                    to: int(to)?,
                }),
                _ => Err(PayloadError::expected("[from, to]", value)),
            },
            other => Err(PayloadError(format!(
                "expected f read, write or cas, found {other:?}"
            ))),
        }
    }
}

/// A compiled cas-register call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CasCall {
    Read(Option<i64>),
    Write(i64),
    /// `applied`: it completed ok, so `from` must match. Otherwise indeterminate.
    Cas {
        from: i64,
        to: i64,
        applied: bool,
    },
}

/// The cas-register model.
#[derive(Debug, Clone, Copy, Default)]
pub struct CasRegister;

impl Model for CasRegister {
    type Op = CasOp;
    type Call = CasCall;
    type State = Option<i64>;

    fn name(&self) -> &'static str {
        "cas-register"
    }

    fn init(&self) -> Option<i64> {
        None
    }

    fn call(&self, invoke: &CasOp, completion: Completion<'_, CasOp>) -> Option<CasCall> {
        let ok = matches!(completion, Completion::Ok(_));
        match (invoke, completion) {
            (CasOp::Write(v), _) => Some(CasCall::Write(*v)),
            (CasOp::Cas { from, to }, _) => Some(CasCall::Cas {
                from: *from,
                to: *to,
                applied: ok,
            }),
            (CasOp::Read(_), Completion::Ok(CasOp::Read(v))) => Some(CasCall::Read(*v)),
            (CasOp::Read(_), _) => None,
        }
    }

    fn step(&self, state: &Option<i64>, call: &CasCall) -> Option<Option<i64>> {
        match *call {
            CasCall::Read(v) => (v == *state).then_some(*state),
            CasCall::Write(v) => Some(Some(v)),
            CasCall::Cas {
                from,
                to,
                applied: true,
            } => (*state == Some(from)).then_some(Some(to)),
            CasCall::Cas {
                from,
                to,
                applied: false,
            } => Some(if *state == Some(from) {
                Some(to)
            } else {
                *state
            }),
        }
    }

    fn droppable(&self, calls: &[CasCall], indeterminate: &[bool]) -> Vec<bool> {
        let observed: std::collections::BTreeSet<i64> = calls
            .iter()
            .filter_map(|c| match *c {
                CasCall::Read(v) => v,
                CasCall::Cas { from, .. } => Some(from),
                CasCall::Write(_) => None,
            })
            .collect();
        calls
            .iter()
            .zip(indeterminate)
            .map(|(c, &maybe)| match *c {
                CasCall::Write(v) | CasCall::Cas { to: v, .. } => maybe && !observed.contains(&v),
                CasCall::Read(_) => false,
            })
            .collect()
    }

    fn describe_state(&self, state: &Option<i64>) -> String {
        format!("the register holds {}", show(*state))
    }

    fn describe_op(&self, invoke: &CasOp, completion: Completion<'_, CasOp>) -> String {
        let tail = match completion {
            Completion::Ok(_) => "",
            Completion::Indeterminate => " (indeterminate)",
        };
        match (invoke, completion) {
            (CasOp::Write(v), _) => format!("write {v}{tail}"),
            (CasOp::Cas { from, to }, _) => format!("cas {from}→{to}{tail}"),
            (CasOp::Read(_), Completion::Ok(CasOp::Read(v))) => format!("read → {}", show(*v)),
            (CasOp::Read(_), _) => format!("read{tail}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cas_needs_a_match_only_when_it_succeeded() {
        let m = CasRegister;
        let cas = CasOp::Cas { from: 1, to: 2 };
        let ok = m.call(&cas, Completion::Ok(&cas)).unwrap();
        let maybe = m.call(&cas, Completion::Indeterminate).unwrap();
        assert_eq!(m.step(&None, &ok), None);
        assert_eq!(m.step(&Some(1), &ok), Some(Some(2)));
        assert_eq!(m.step(&None, &maybe), Some(None));
        assert_eq!(m.step(&Some(1), &maybe), Some(Some(2)));
    }

    #[test]
    fn only_unobserved_indeterminate_writes_are_droppable() {
        let calls = [
            CasCall::Write(1),
            CasCall::Write(2),
            CasCall::Write(3),
            CasCall::Cas {
                from: 3,
                to: 4,
                applied: false,
            },
            CasCall::Read(Some(2)),
        ];
        let maybe = [true, true, false, true, false];
        // 1 is never observed; 2 is read; 3 is ok; the cas to 4 is never observed.
        assert_eq!(
            CasRegister.droppable(&calls, &maybe),
            vec![true, false, false, true, false]
        );
    }

    #[test]
    fn payload_round_trips_and_rejects_bad_values() {
        for op in [
            CasOp::Read(None),
            CasOp::Read(Some(2)),
            CasOp::Write(5),
            CasOp::Cas { from: 1, to: 2 },
        ] {
            assert_eq!(CasOp::decode(op.f(), &op.value(), Kind::Ok).unwrap(), op);
        }
        assert!(CasOp::decode("cas", &json!([1]), Kind::Invoke).is_err());
        assert!(CasOp::decode("cas", &json!(3), Kind::Invoke).is_err());
        assert!(CasOp::decode("read", &json!("a"), Kind::Ok).is_err());
    }
}
