//! Models: the sequential specifications histories are checked against.
//!
//! ```text
//! History<M::Op> ──pair──► (invoke, completion) ──Model::call──► M::Call ──► search
//!                                                   Model::step(state, call) -> Option<state>
//! ```
//!
//! A model is Porcupine's handful of pure functions (`model.go`): [`Model::init`],
//! [`Model::step`], [`Model::partition`], and descriptions for reports. One twist: the
//! search never sees history payloads. [`Model::call`] first compiles an invocation and
//! its completion into a `Call` (input + observed output, e.g. a kv read's expected
//! value pre-hashed), so `step` is cheap and the `State` small (`Copy` for every model
//! here), which is what makes the memo of (linearized set, state) fast.
//!
//! Indeterminate calls (`info`, or no completion) reach `call` as
//! [`Completion::Indeterminate`]: `step` must then accept any output, so it never
//! returns `None` for them; a call that cannot change the state (a read) is dropped by
//! returning `None` from `call`. Calls that `fail` never reach the model.
//!
//! | model          | ops                               | state                              |
//! |----------------|-----------------------------------|------------------------------------|
//! | [`Register`]     | read, write                       | `Option<i64>`, initially nil       |
//! | [`CasRegister`]  | read, write, cas                  | `Option<i64>`, initially nil       |
//! | [`Kv`]           | get, put, append, cas (per key)   | the value's (length, hash)         |
//! | [`Mutex`]        | acquire, release                  | held or free                       |
//! | [`MultiRegister`] | txn of reads and writes over named registers | each register's value, initially nil |
//!
//! [`Initial`] starts a register model at a value other than nil (Knossos's
//! `(cas-register 0)`).

mod cas_register;
mod initial;
mod kv;
mod multi_register;
mod mutex;
mod register;
mod text;

use std::fmt::Debug;
use std::hash::Hash;

pub use cas_register::{CasOp, CasRegister};
pub use initial::Initial;
pub use kv::{Kv, KvOp};
pub use multi_register::{
    is_multi_register_txn, Access, MicroOp, MultiRegister, MultiRegisterCall, MultiRegisterOp,
    Registers,
};
pub use mutex::{Mutex, MutexOp};
pub use register::{Register, RegisterOp};
pub use text::Text;

use crate::history::{Key, Op, Payload};

/// How a call ended, as the model sees it (calls that failed never reach it).
#[derive(Debug, PartialEq, Eq)]
pub enum Completion<'a, P> {
    /// Completed `ok` with this payload (e.g. the value read).
    Ok(&'a P),
    /// `info` or never completed: it may have taken effect, with any result, or not.
    Indeterminate,
}

impl<P> Clone for Completion<'_, P> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<P> Copy for Completion<'_, P> {}

/// A sequential specification.
pub trait Model: Sync {
    /// The history payload this model reads.
    type Op: Payload;
    /// A compiled (input, observed output) pair.
    type Call: Debug + Send + Sync;
    /// The object's state. Small and cheap to hash: the search memoizes it.
    type State: Clone + Eq + Hash + Debug + Send;

    /// The model's name, as `--model` spells it.
    fn name(&self) -> &'static str;

    /// The initial state.
    fn init(&self) -> Self::State;

    /// Compiles a call for the search, or `None` when it cannot affect any other call
    /// and may be dropped (an indeterminate read).
    fn call(&self, invoke: &Self::Op, completion: Completion<'_, Self::Op>) -> Option<Self::Call>;

    /// Applies a call: the next state, or `None` if the call's observed output is
    /// impossible in `state`. Never `None` for indeterminate calls.
    fn step(&self, state: &Self::State, call: &Self::Call) -> Option<Self::State>;

    /// Optional simplification before a partition is searched: which calls may be
    /// dropped without changing the verdict. `indeterminate[i]` tells whether
    /// `calls[i]` is indeterminate. The default keeps every call.
    ///
    /// Registers drop indeterminate writes whose value no read and no cas ever
    /// observes: such a write can always be linearized last, where it changes nothing
    /// anyone saw, so the history is linearizable with it iff it is without it. Each
    /// such write otherwise doubles the search space.
    fn droppable(&self, calls: &[Self::Call], indeterminate: &[bool]) -> Vec<bool> {
        let _ = indeterminate;
        vec![false; calls.len()]
    }

    /// The independent partition an op belongs to (P-compositionality). By default the
    /// op's key.
    fn partition(&self, op: &Op<Self::Op>) -> Option<Key> {
        op.key.clone()
    }

    /// A state in plain words.
    fn describe_state(&self, state: &Self::State) -> String;

    /// A call in plain words, e.g. `cas 1→2` or `read → 3`.
    fn describe_op(&self, invoke: &Self::Op, completion: Completion<'_, Self::Op>) -> String;

    /// The state reached by linearizing `path` in order from the initial state, in
    /// plain words. The default replays `step`; models whose `State` is a digest (kv)
    /// replay the real values instead.
    fn describe_path(&self, path: &[(&Self::Op, Completion<'_, Self::Op>)]) -> String {
        let mut state = self.init();
        for (invoke, completion) in path {
            if let Some(call) = self.call(invoke, *completion) {
                match self.step(&state, &call) {
                    Some(next) => state = next,
                    None => {
                        return format!(
                            "{} (then {} is impossible)",
                            self.describe_state(&state),
                            self.describe_op(invoke, *completion)
                        )
                    }
                }
            }
        }
        self.describe_state(&state)
    }
}

/// `Some(v)` as `v`, `None` as `nil`.
pub(crate) fn show(v: Option<i64>) -> String {
    v.map_or_else(|| "nil".to_owned(), |v| v.to_string())
}

/// Decodes an optional integer (`null` is `None`).
pub(crate) fn opt_int(
    value: &serde_json::Value,
) -> Result<Option<i64>, crate::history::PayloadError> {
    match value {
        serde_json::Value::Null => Ok(None),
        v => v
            .as_i64()
            .map(Some)
            .ok_or_else(|| crate::history::PayloadError::expected("an integer or null", v)),
    }
}

/// Decodes an integer.
pub(crate) fn int(value: &serde_json::Value) -> Result<i64, crate::history::PayloadError> {
    value
        .as_i64()
        .ok_or_else(|| crate::history::PayloadError::expected("an integer", value))
}
