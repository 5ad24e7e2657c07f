//! `faultline node <program> …`: runs a bundled node program (hidden from top-level help;
//! the harness starts it on every node). The programs live in the `targets` crate; this
//! module only selects one and sets up logging to stderr.

use clap::{Args, Subcommand};

#[derive(Debug, Args)]
pub struct NodeArgs {
    #[command(subcommand)]
    pub program: NodeProgram,
}

#[derive(Debug, Subcommand)]
pub enum NodeProgram {
    /// A member of the bundled Raft key-value and lock service (see docs/raft.md).
    Raft(targets::raft::RaftArgs),
}

pub fn run(args: NodeArgs) -> anyhow::Result<u8> {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .init();
    match args.program {
        NodeProgram::Raft(a) => targets::raft::node::run(a),
    }
}
