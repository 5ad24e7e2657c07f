//! [`Mutex`]: a lock that is held or free, initially free.
//!
//! An acquire that completed ok took a free lock; a release that completed ok freed a
//! held one. Indeterminate acquires/releases apply if they can, or did nothing.
//! Reference: Knossos `mutex`.

use serde_json::Value;

use super::{Completion, Model};
use crate::history::{Kind, Payload, PayloadError};

/// A lock operation (`value` is ignored on the wire and written as null).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MutexOp {
    Acquire,
    Release,
}

impl Payload for MutexOp {
    fn f(&self) -> &'static str {
        match self {
            MutexOp::Acquire => "acquire",
            MutexOp::Release => "release",
        }
    }

    fn value(&self) -> Value {
        Value::Null
    }

    fn decode(f: &str, _value: &Value, _kind: Kind) -> Result<Self, PayloadError> {
        match f {
            "acquire" => Ok(MutexOp::Acquire),
            "release" => Ok(MutexOp::Release),
            other => Err(PayloadError(format!(
                "expected f acquire or release, found {other:?}"
            ))),
        }
    }
}

/// A compiled lock call: the op and whether it surely happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MutexCall {
    pub op: MutexOp,
    pub ok: bool,
}

/// The mutex model. State: `true` when held.
#[derive(Debug, Clone, Copy, Default)]
pub struct Mutex;

impl Model for Mutex {
    type Op = MutexOp;
    type Call = MutexCall;
    type State = bool;

    fn name(&self) -> &'static str {
        "mutex"
    }

    fn init(&self) -> bool {
        false
    }

    fn call(&self, invoke: &MutexOp, completion: Completion<'_, MutexOp>) -> Option<MutexCall> {
        Some(MutexCall {
            op: *invoke,
            ok: matches!(completion, Completion::Ok(_)),
        })
    }

    fn step(&self, held: &bool, call: &MutexCall) -> Option<bool> {
        match (call.op, call.ok) {
            (MutexOp::Acquire, true) => (!held).then_some(true),
            (MutexOp::Release, true) => held.then_some(false),
            (MutexOp::Acquire, false) => Some(true),
            (MutexOp::Release, false) => Some(false),
        }
    }

    fn describe_state(&self, held: &bool) -> String {
        if *held {
            "the lock is held"
        } else {
            "the lock is free"
        }
        .to_owned()
    }

    fn describe_op(&self, invoke: &MutexOp, completion: Completion<'_, MutexOp>) -> String {
        match completion {
            Completion::Ok(_) => invoke.f().to_owned(),
            Completion::Indeterminate => format!("{} (indeterminate)", invoke.f()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_acquires_need_a_release_between() {
        let m = Mutex;
        let acq = m
            .call(&MutexOp::Acquire, Completion::Ok(&MutexOp::Acquire))
            .unwrap();
        let rel = m
            .call(&MutexOp::Release, Completion::Ok(&MutexOp::Release))
            .unwrap();
        let held = m.step(&m.init(), &acq).unwrap();
        assert_eq!(m.step(&held, &acq), None);
        assert_eq!(m.step(&m.init(), &rel), None);
        assert_eq!(m.step(&held, &rel), Some(false));
    }
}
