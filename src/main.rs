//! `faultline`: the thin binary. Flags parse into plain structs (clap derive), each
//! subcommand module turns them into live objects from the library crates and returns
//! an exit code.
//!
//! Exit codes follow Jepsen's: 0 valid, 1 invalid, 2 unknown, 254 bad arguments or
//! bad input, 255 harness failure.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod bench_cmd;
mod check;
mod cluster;
mod node;
mod serve;
mod test_cmd;
mod zoo;

/// Exit codes shared by every subcommand.
pub mod exit {
    pub const VALID: u8 = 0;
    pub const INVALID: u8 = 1;
    pub const UNKNOWN: u8 = 2;
    pub const BAD_INPUT: u8 = 254;
    pub const HARNESS: u8 = 255;
}

/// A Jepsen-style fault-injection test harness for coordination backends.
#[derive(Debug, Parser)]
#[command(name = "faultline", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a test: bring up a cluster, deploy the target, drive clients while injecting
    /// faults, record and check the history.
    Test(test_cmd::TestArgs),
    /// Run every planted Raft bug with the fault that exposes it, plus a control run, and
    /// print how often each was caught.
    Zoo(zoo::ZooArgs),
    /// Check a recorded history (JSON Lines, Jepsen EDN, Porcupine logs) for linearizability,
    /// or a list-append history of transactions for isolation anomalies (Elle).
    Check(check::CheckArgs),
    /// Convert a history to another format (e.g. EDN for Jepsen's own tools).
    Export(check::ExportArgs),
    /// An interactive sandbox cluster of network-namespace nodes.
    Cluster(cluster::ClusterArgs),
    /// Remove every namespace, rule and process that faultline left behind anywhere.
    Clean(cluster::CleanArgs),
    /// Compare systems on the same register workload: writes/s, read latency, and the
    /// unavailability after the leader is killed.
    Bench(bench_cmd::BenchArgs),
    /// Browse a store's runs and reports in a web browser.
    Serve(serve::ServeArgs),
    /// Run a bundled node program (used by the harness on each node).
    #[command(hide = true)]
    Node(node::NodeArgs),
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = match e.kind() {
                clap::error::ErrorKind::DisplayHelp
                | clap::error::ErrorKind::DisplayVersion
                | clap::error::ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => 0,
                _ => exit::BAD_INPUT,
            };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    let result = match cli.command {
        Command::Test(args) => test_cmd::run(args),
        Command::Zoo(args) => zoo::run(args),
        Command::Check(args) => check::run(args),
        Command::Export(args) => check::export(args),
        Command::Cluster(args) => cluster::run(args),
        Command::Clean(args) => cluster::clean(args),
        Command::Node(args) => node::run(args),
        Command::Serve(args) => serve::run(args),
        Command::Bench(args) => bench_cmd::run(args),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(exit::HARNESS)
        }
    }
}
