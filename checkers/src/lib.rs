//! checkers

pub mod split_brain;
