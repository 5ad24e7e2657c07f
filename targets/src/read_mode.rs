//! `ReadMode`: how a real target's register reads are served.
//!
//! Linearizable reads go through the quorum (etcd's default range, ZooKeeper's `sync`
//! then read, Consul's `?consistent`); serializable reads are answered from the contacted
//! member's local state and may be stale. The second mode exists to calibrate faultline:
//! under partitions the register checker must catch its stale reads.

/// Which reads the register clients of a real target make.
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    serde::Serialize,
    serde::Deserialize,
    clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum ReadMode {
    /// Quorum reads: linearizable.
    #[default]
    Linearizable,
    /// Local reads: may be stale.
    Serializable,
}
