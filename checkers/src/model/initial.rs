//! [`Initial`]: a register model that starts at a given value instead of nil.
//!
//! Knossos's `(cas-register 0)` and `(register 0)` start at 0, and a history checked
//! against them reads 0 before any write; `faultline check --initial-value 0` wraps the
//! model in `Initial` to match. Every function but [`Model::init`] is the wrapped
//! model's, so the search, the dropping of unobserved indeterminate writes and the
//! descriptions stay the same; a read of nil is then legal only if something could
//! have set the register back to nil, which no register operation does.
//!
//! For models whose state is the register's value (`Register`, `CasRegister`); the
//! multi-register model takes its initial value itself
//! ([`MultiRegister::new`](super::MultiRegister::new)).

use super::{Completion, Model};
use crate::history::{Key, Op};

/// `model`, started in `state`.
#[derive(Debug, Clone)]
pub struct Initial<M: Model> {
    pub model: M,
    pub state: M::State,
}

impl<M: Model> Initial<M> {
    pub fn new(model: M, state: M::State) -> Self {
        Initial { model, state }
    }
}

impl<M: Model> Model for Initial<M>
where
    M::State: Sync,
{
    type Op = M::Op;
    type Call = M::Call;
    type State = M::State;

    fn name(&self) -> &'static str {
        self.model.name()
    }

    fn init(&self) -> M::State {
        self.state.clone()
    }

    fn call(&self, invoke: &M::Op, completion: Completion<'_, M::Op>) -> Option<M::Call> {
        self.model.call(invoke, completion)
    }

    fn step(&self, state: &M::State, call: &M::Call) -> Option<M::State> {
        self.model.step(state, call)
    }

    fn droppable(&self, calls: &[M::Call], indeterminate: &[bool]) -> Vec<bool> {
        self.model.droppable(calls, indeterminate)
    }

    fn partition(&self, op: &Op<M::Op>) -> Option<Key> {
        self.model.partition(op)
    }

    fn describe_state(&self, state: &M::State) -> String {
        self.model.describe_state(state)
    }

    fn describe_op(&self, invoke: &M::Op, completion: Completion<'_, M::Op>) -> String {
        self.model.describe_op(invoke, completion)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{CasOp, CasRegister};

    #[test]
    fn starts_at_the_value_and_otherwise_is_the_model() {
        let m = Initial::new(CasRegister, Some(0));
        let read = |v| {
            m.call(&CasOp::Read(None), Completion::Ok(&CasOp::Read(v)))
                .expect("an ok read is a call")
        };
        assert_eq!(m.step(&m.init(), &read(Some(0))), Some(Some(0)));
        assert_eq!(m.step(&m.init(), &read(None)), None);
        let cas = CasOp::Cas { from: 0, to: 3 };
        let ok = m.call(&cas, Completion::Ok(&cas)).expect("a call");
        assert_eq!(m.step(&m.init(), &ok), Some(Some(3)));
        assert_eq!(m.name(), "cas-register");
        // describe_path replays from the wrapper's initial state.
        assert_eq!(
            m.describe_path(&[(&cas, Completion::Ok(&cas))]),
            "the register holds 3"
        );
    }
}
