//! checkers

pub mod lock;
pub mod split_brain;
