//! [`Process`]: who performed an operation: a client process or the nemesis.
//!
//! On the wire (JSONL) a client process is a JSON integer and the nemesis the string
//! `"nemesis"`, as in Jepsen.

use std::fmt;

use serde::{de, Deserialize, Deserializer, Serialize, Serializer};

/// A client process id. Retired after an indeterminate (`info`) completion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ProcessId(pub u64);

impl fmt::Display for ProcessId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// The actor of an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Process {
    Client(ProcessId),
    Nemesis,
}

impl fmt::Display for Process {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Process::Client(p) => write!(f, "{p}"),
            Process::Nemesis => f.write_str("nemesis"),
        }
    }
}

impl Serialize for Process {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Process::Client(p) => s.serialize_u64(p.0),
            Process::Nemesis => s.serialize_str("nemesis"),
        }
    }
}

impl<'de> Deserialize<'de> for Process {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl de::Visitor<'_> for Visitor {
            type Value = Process;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(r#"a non-negative integer or "nemesis""#)
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Process, E> {
                Ok(Process::Client(ProcessId(v)))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Process, E> {
                u64::try_from(v)
                    .map(|v| Process::Client(ProcessId(v)))
                    .map_err(|_| E::invalid_value(de::Unexpected::Signed(v), &self))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Process, E> {
                if v == "nemesis" {
                    Ok(Process::Nemesis)
                } else {
                    Err(E::invalid_value(de::Unexpected::Str(v), &self))
                }
            }
        }
        d.deserialize_any(Visitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_form() {
        let c = Process::Client(ProcessId(3));
        assert_eq!(serde_json::to_string(&c).unwrap(), "3");
        assert_eq!(
            serde_json::to_string(&Process::Nemesis).unwrap(),
            r#""nemesis""#
        );
        assert_eq!(serde_json::from_str::<Process>("3").unwrap(), c);
        assert_eq!(
            serde_json::from_str::<Process>(r#""nemesis""#).unwrap(),
            Process::Nemesis
        );
        assert!(serde_json::from_str::<Process>("-1").is_err());
        assert!(serde_json::from_str::<Process>(r#""3""#).is_err());
    }
}
