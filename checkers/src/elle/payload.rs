//! [`TxnValue`]: a transaction as Jepsen's `f`/`value` pair, `:f :txn` with a list of
//! micro-ops, so list-append histories go through the same readers, pairing and
//! line-numbered errors as every other faultline history.
//!
//! ```text
//! JSON Lines  "f":"txn", "value":[["append",1,2],["r",1,null]]
//! EDN         :f :txn,   :value [[:append 1 2] [:r 1 [1 2]]]   (keywords arrive as strings)
//! ```
//!
//! A micro-op is a three-element list `[f key value]`: `f` is `append` or `r` (a leading
//! `:` is accepted, so keywords read either way work); `key` an integer or a string;
//! an append's value an integer; a read's value a list of integers, or `null`/`nil`
//! (unknown in an invocation, the empty list in an ok completion).

use serde_json::Value;

use super::{Elem, MicroOp};
use crate::history::{Key, Kind, Payload, PayloadError};

/// The value of one `txn` op: its micro-ops, as written on that line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxnValue(pub Vec<MicroOp>);

const SHAPE: &str =
    r#"a transaction: a list of micro-ops like ["append", 1, 2] or ["r", 1, [1, 2]]"#;

fn key(v: &Value, at: usize) -> Result<Key, PayloadError> {
    match v {
        Value::Number(n) => n.as_i64().map(Key::Int).ok_or_else(|| {
            PayloadError(format!(
                "micro-op {at}: expected an integer or string key, found {n}"
            ))
        }),
        Value::String(s) => Ok(Key::Str(s.clone())),
        other => Err(PayloadError(format!(
            "micro-op {at}: expected an integer or string key, found {other}"
        ))),
    }
}

fn elem(v: &Value, at: usize, what: &str) -> Result<Elem, PayloadError> {
    v.as_i64().ok_or_else(|| {
        PayloadError(format!(
            "micro-op {at}: expected {what} to be an integer, found {v}"
        ))
    })
}

fn micro_op(v: &Value, at: usize) -> Result<MicroOp, PayloadError> {
    let Some([f, k, x]) = v.as_array().map(Vec::as_slice) else {
        return Err(PayloadError(format!(
            "micro-op {at}: expected a list [f key value], found {v}"
        )));
    };
    let Some(f) = f.as_str() else {
        return Err(PayloadError(format!(
            "micro-op {at}: expected append or r as its function, found {f}"
        )));
    };
    match f.strip_prefix(':').unwrap_or(f) {
        "append" => Ok(MicroOp::Append {
            key: key(k, at)?,
            elem: elem(x, at, "the appended value")?,
        }),
        "r" => {
            let elems = match x {
                Value::Null => None,
                Value::Array(a) => Some(
                    a.iter()
                        .map(|e| elem(e, at, "every element read"))
                        .collect::<Result<Vec<_>, _>>()?,
                ),
                other => {
                    return Err(PayloadError(format!(
                    "micro-op {at}: expected the value read to be a list (or null), found {other}"
                )))
                }
            };
            Ok(MicroOp::Read {
                key: key(k, at)?,
                elems,
            })
        }
        other => Err(PayloadError(format!(
            "micro-op {at}: unknown function {other:?}; expected append or r"
        ))),
    }
}

impl Payload for TxnValue {
    fn f(&self) -> &'static str {
        "txn"
    }

    fn value(&self) -> Value {
        Value::Array(
            self.0
                .iter()
                .map(|op| match op {
                    MicroOp::Append { key, elem } => {
                        serde_json::json!(["append", key, elem])
                    }
                    MicroOp::Read { key, elems } => serde_json::json!(["r", key, elems]),
                })
                .collect(),
        )
    }

    fn decode(f: &str, value: &Value, _kind: Kind) -> Result<Self, PayloadError> {
        if f != "txn" {
            return Err(PayloadError(format!(
                "expected f txn (a list-append transaction), found {f:?}"
            )));
        }
        let Some(ops) = value.as_array() else {
            return Err(PayloadError::expected(SHAPE, value));
        };
        ops.iter()
            .enumerate()
            .map(|(i, op)| micro_op(op, i + 1))
            .collect::<Result<Vec<_>, _>>()
            .map(TxnValue)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn decode(v: Value) -> Result<TxnValue, PayloadError> {
        TxnValue::decode("txn", &v, Kind::Ok)
    }

    #[test]
    fn reads_both_spellings_and_round_trips() {
        let t = decode(json!([
            ["append", 1, 2],
            [":r", "x", [1, 2]],
            ["r", 3, null]
        ]))
        .unwrap();
        assert_eq!(
            t.0,
            vec![
                MicroOp::append(1, 2),
                MicroOp::read("x", [1, 2]),
                MicroOp::read_unknown(3)
            ]
        );
        let again = decode(t.value()).unwrap();
        assert_eq!(again, t);
    }

    #[test]
    fn malformed_micro_ops_are_named() {
        let e = decode(json!([["append", 1, 2], ["w", 1, 3]])).unwrap_err();
        assert!(e.0.contains("micro-op 2") && e.0.contains("\"w\""), "{e}");
        let e = decode(json!([["r", 1, 5]])).unwrap_err();
        assert!(e.0.contains("to be a list"), "{e}");
        let e = decode(json!([["append", 1, "a"]])).unwrap_err();
        assert!(e.0.contains("appended value"), "{e}");
        let e = decode(json!([["append", 1]])).unwrap_err();
        assert!(e.0.contains("[f key value]"), "{e}");
        let e = decode(json!({"append": 1})).unwrap_err();
        assert!(e.0.contains("list of micro-ops"), "{e}");
        let e = TxnValue::decode("read", &json!([]), Kind::Ok).unwrap_err();
        assert!(e.0.contains("expected f txn"), "{e}");
    }
}
