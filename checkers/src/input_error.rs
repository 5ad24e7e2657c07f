//! [`InputError`]: a history that cannot be read, with where and what was expected.
//!
//! The binary prefixes the file name and exits 254 (bad input); it is never a panic.

use std::fmt;

/// Where in the input a problem is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Location {
    /// 1-based line of a file.
    Line(usize),
    /// 0-based position of an op in an in-memory history.
    Op(usize),
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::Line(l) => write!(f, "line {l}"),
            Location::Op(i) => write!(f, "op #{i}"),
        }
    }
}

/// A malformed history: where, and what was expected there.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{location}: {message}")]
pub struct InputError {
    pub location: Location,
    pub message: String,
}

impl InputError {
    /// An error at a 1-based line.
    pub fn at_line(line: usize, message: impl Into<String>) -> Self {
        InputError {
            location: Location::Line(line),
            message: message.into(),
        }
    }

    /// The 1-based line, when the history came from a file.
    pub fn line(&self) -> Option<usize> {
        match self.location {
            Location::Line(l) => Some(l),
            Location::Op(_) => None,
        }
    }
}
