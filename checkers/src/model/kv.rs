//! [`Kv`]: a string key-value store with get, put, append and cas, partitioned per key.
//!
//! Each key starts as `""` (a missing key reads as `""`, as in Porcupine's kv model and
//! the 6.824 lab). `put(v)` sets the value, `append(v)` extends it, `cas [from, to]`
//! that completed ok found `from` and set `to`. The key lives on the op
//! ([`Op::key`](crate::history::Op)), so every partition is one string register.
//!
//! The search state is a [`Text`] digest (length + hash), so an append or a read check
//! is O(1) whatever the value's length; reports replay the real strings
//! ([`Model::describe_path`]).

use std::sync::Arc;

use serde_json::{json, Value};

use super::text::{Suffix, Text};
use super::{Completion, Model};
use crate::history::{Kind, Payload, PayloadError};

/// A kv operation on one key. A get is invoked with `None` and completes with the value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KvOp {
    Get(Option<String>),
    Put(String),
    Append(String),
    Cas { from: String, to: String },
}

fn string(v: &Value) -> Result<String, PayloadError> {
    v.as_str()
        .map(str::to_owned)
        .ok_or_else(|| PayloadError::expected("a string", v))
}

impl Payload for KvOp {
    fn f(&self) -> &'static str {
        match self {
            KvOp::Get(_) => "get",
            KvOp::Put(_) => "put",
            KvOp::Append(_) => "append",
            KvOp::Cas { .. } => "cas",
        }
    }

    fn value(&self) -> Value {
        match self {
            KvOp::Get(v) => json!(v),
            KvOp::Put(v) | KvOp::Append(v) => json!(v),
            KvOp::Cas { from, to } => json!([from, to]),
        }
    }

    fn decode(f: &str, value: &Value, _kind: Kind) -> Result<Self, PayloadError> {
        match f {
            "get" => match value {
                Value::Null => Ok(KvOp::Get(None)),
                v => Ok(KvOp::Get(Some(string(v)?))),
            },
            "put" => Ok(KvOp::Put(string(value)?)),
            "append" => Ok(KvOp::Append(string(value)?)),
            "cas" => match value.as_array().map(Vec::as_slice) {
                Some([from, to]) => Ok(KvOp::Cas {
                    from: string(from)?,
                    to: string(to)?,
                }),
                _ => Err(PayloadError::expected("[from, to] strings", value)),
            },
            other => Err(PayloadError(format!(
                "expected f get, put, append or cas, found {other:?}"
            ))),
        }
    }
}

/// A compiled kv call: digests for the search, and the strings for
/// [`Model::droppable`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KvCall {
    /// A get that observed this value.
    Get(Text, Arc<str>),
    Put(Text, Arc<str>),
    Append(Suffix, Arc<str>),
    /// `applied`: it completed ok. Otherwise indeterminate.
    Cas {
        from: Text,
        to: Text,
        applied: bool,
        raw_from: Arc<str>,
        raw_to: Arc<str>,
    },
}

/// The kv model (one key's string register; keys partition the history).
#[derive(Debug, Clone, Copy, Default)]
pub struct Kv;

impl Model for Kv {
    type Op = KvOp;
    type Call = KvCall;
    type State = Text;

    fn name(&self) -> &'static str {
        "kv"
    }

    fn init(&self) -> Text {
        Text::EMPTY
    }

    fn call(&self, invoke: &KvOp, completion: Completion<'_, KvOp>) -> Option<KvCall> {
        match (invoke, completion) {
            (KvOp::Put(v), _) => Some(KvCall::Put(Text::of(v), v.as_str().into())),
            (KvOp::Append(v), _) => Some(KvCall::Append(Suffix::of(v), v.as_str().into())),
            (KvOp::Cas { from, to }, c) => Some(KvCall::Cas {
                from: Text::of(from),
                to: Text::of(to),
                applied: matches!(c, Completion::Ok(_)),
                raw_from: from.as_str().into(),
                raw_to: to.as_str().into(),
            }),
            (KvOp::Get(_), Completion::Ok(KvOp::Get(v))) => {
                let v = v.as_deref().unwrap_or("");
                Some(KvCall::Get(Text::of(v), v.into()))
            }
            (KvOp::Get(_), _) => None,
        }
    }

    fn step(&self, state: &Text, call: &KvCall) -> Option<Text> {
        match call {
            KvCall::Get(v, _) => (v == state).then_some(*state),
            KvCall::Put(v, _) => Some(*v),
            KvCall::Append(s, _) => Some(state.append(s)),
            KvCall::Cas {
                from,
                to,
                applied: true,
                ..
            } => (from == state).then_some(*to),
            KvCall::Cas {
                from,
                to,
                applied: false,
                ..
            } => Some(if from == state { *to } else { *state }),
        }
    }

    /// An indeterminate put, append or cas whose written string occurs in no value a
    /// get returned and in no cas `from`: every state containing it is unobserved
    /// until a put replaces it, so it can be linearized last instead (see the trait).
    fn droppable(&self, calls: &[KvCall], indeterminate: &[bool]) -> Vec<bool> {
        let observed: Vec<&str> = calls
            .iter()
            .filter_map(|c| match c {
                KvCall::Get(_, v) => Some(&**v),
                KvCall::Cas { raw_from, .. } => Some(&**raw_from),
                KvCall::Put(..) | KvCall::Append(..) => None,
            })
            .collect();
        calls
            .iter()
            .zip(indeterminate)
            .map(|(c, &maybe)| {
                let written = match c {
                    KvCall::Put(_, v) | KvCall::Append(_, v) => &**v,
                    KvCall::Cas { raw_to, .. } => &**raw_to,
                    KvCall::Get(..) => return false,
                };
                maybe && !written.is_empty() && observed.iter().all(|o| !o.contains(written))
            })
            .collect()
    }

    fn describe_state(&self, state: &Text) -> String {
        format!("the value has {} bytes", state.len())
    }

    fn describe_op(&self, invoke: &KvOp, completion: Completion<'_, KvOp>) -> String {
        let tail = match completion {
            Completion::Ok(_) => "",
            Completion::Indeterminate => " (indeterminate)",
        };
        match (invoke, completion) {
            (KvOp::Get(_), Completion::Ok(KvOp::Get(v))) => {
                format!("get → {}", quote(v.as_deref().unwrap_or("")))
            }
            (KvOp::Get(_), _) => format!("get{tail}"),
            (KvOp::Put(v), _) => format!("put {}{tail}", quote(v)),
            (KvOp::Append(v), _) => format!("append {}{tail}", quote(v)),
            (KvOp::Cas { from, to }, _) => format!("cas {}→{}{tail}", quote(from), quote(to)),
        }
    }

    fn describe_path(&self, path: &[(&KvOp, Completion<'_, KvOp>)]) -> String {
        let mut value = String::new();
        for (invoke, completion) in path {
            match invoke {
                KvOp::Get(_) => {}
                KvOp::Put(v) => value.clone_from(v),
                KvOp::Append(v) => value.push_str(v),
                KvOp::Cas { from, to } => {
                    if *from == value || matches!(completion, Completion::Ok(_)) {
                        value.clone_from(to);
                    }
                }
            }
        }
        format!("the value is {}", quote(&value))
    }
}

/// Quotes a value for a report, eliding the middle of long ones.
fn quote(s: &str) -> String {
    const MAX: usize = 160;
    if s.len() <= MAX {
        return format!("{s:?}");
    }
    let head_end = (0..=MAX / 2)
        .rev()
        .find(|&i| s.is_char_boundary(i))
        .unwrap_or(0);
    let tail_start = (s.len() - MAX / 2..s.len())
        .find(|&i| s.is_char_boundary(i))
        .unwrap_or(s.len());
    format!(
        "{:?}…{:?} ({} bytes)",
        &s[..head_end],
        &s[tail_start..],
        s.len()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(m: &Kv, op: KvOp, out: KvOp) -> KvCall {
        m.call(&op, Completion::Ok(&out)).unwrap()
    }

    #[test]
    fn appends_accumulate_and_gets_check_them() {
        let m = Kv;
        let a = ok(
            &m,
            KvOp::Append("x 0 0 y".into()),
            KvOp::Append("x 0 0 y".into()),
        );
        let b = ok(
            &m,
            KvOp::Append("x 1 0 y".into()),
            KvOp::Append("x 1 0 y".into()),
        );
        let s = m.step(&m.step(&m.init(), &a).unwrap(), &b).unwrap();
        assert_eq!(
            m.droppable(&[a.clone(), b.clone()], &[true, false]),
            vec![true, false]
        );
        let good = ok(
            &m,
            KvOp::Get(None),
            KvOp::Get(Some("x 0 0 yx 1 0 y".into())),
        );
        let bad = ok(
            &m,
            KvOp::Get(None),
            KvOp::Get(Some("x 1 0 yx 0 0 y".into())),
        );
        assert_eq!(m.step(&s, &good), Some(s));
        assert_eq!(m.step(&s, &bad), None);
        let empty = ok(&m, KvOp::Get(None), KvOp::Get(Some(String::new())));
        assert_eq!(m.step(&m.init(), &empty), Some(Text::EMPTY));
    }

    #[test]
    fn only_unobserved_indeterminate_writes_are_droppable() {
        let m = Kv;
        let seen = ok(&m, KvOp::Get(None), KvOp::Get(Some("ab".into())));
        let b = m
            .call(&KvOp::Append("b".into()), Completion::Indeterminate)
            .unwrap();
        let c = m
            .call(&KvOp::Append("c".into()), Completion::Indeterminate)
            .unwrap();
        let empty = m
            .call(&KvOp::Put(String::new()), Completion::Indeterminate)
            .unwrap();
        let c_ok = ok(&m, KvOp::Append("c".into()), KvOp::Append("c".into()));
        let calls = [seen, b, c, empty, c_ok];
        let maybe = [false, true, true, true, false];
        assert_eq!(
            m.droppable(&calls, &maybe),
            vec![false, false, true, false, false]
        );
    }

    #[test]
    fn cas_and_put() {
        let m = Kv;
        let put = ok(&m, KvOp::Put("a".into()), KvOp::Put("a".into()));
        let cas = KvOp::Cas {
            from: "a".into(),
            to: "b".into(),
        };
        let cas_ok = ok(&m, cas.clone(), cas.clone());
        let s = m.step(&m.init(), &put).unwrap();
        assert_eq!(m.step(&s, &cas_ok), Some(Text::of("b")));
        assert_eq!(m.step(&m.init(), &cas_ok), None);
        let maybe = m.call(&cas, Completion::Indeterminate).unwrap();
        assert_eq!(m.step(&m.init(), &maybe), Some(Text::EMPTY));
    }

    #[test]
    fn describe_path_replays_strings() {
        let m = Kv;
        let a = KvOp::Append("x".into());
        let p = KvOp::Put("ab".into());
        let path = [(&p, Completion::Ok(&p)), (&a, Completion::Indeterminate)];
        assert_eq!(m.describe_path(&path), r#"the value is "abx""#);
        assert!(quote(&"é".repeat(200)).contains("400 bytes"));
    }
}
