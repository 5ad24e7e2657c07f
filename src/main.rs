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
mod summary;
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

// Parsed once per process: the test flags' size (every workload's settings) is not
// worth a box in every match.
#[allow(clippy::large_enum_variant)]
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
    /// What changed across a store's runs, per test: verdicts, new anomalies, leader
    /// changes, failover trend (markdown for CI job summaries, or HTML).
    Summary(summary::SummaryArgs),
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
        Command::Summary(args) => summary::run(args),
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

/// `ci/nightly-torture.yml` parses as YAML, and every `faultline` command in its steps
/// is accepted by the real command-line parser (issue 15).
#[cfg(test)]
mod ci_workflow {
    use super::Cli;
    use clap::Parser;
    use yaml_rust2::{Yaml, YamlLoader};

    const WORKFLOW: &str = include_str!("../ci/nightly-torture.yml");

    /// A `run:` script's commands: continuation lines joined, one command per line.
    fn commands(script: &str) -> Vec<String> {
        script
            .replace("\\\n", " ")
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(str::to_string)
            .collect()
    }

    /// Shell words of a command up to its first redirect, pipe or list operator
    /// (double quotes kept together; the workflow uses no other quoting).
    fn words(command: &str) -> Vec<String> {
        let mut out = Vec::new();
        let mut word = String::new();
        let mut quoted = false;
        let mut any = false;
        for c in command.chars() {
            match c {
                '"' => {
                    quoted = !quoted;
                    any = true;
                }
                c if c.is_whitespace() && !quoted => {
                    if any {
                        out.push(std::mem::take(&mut word));
                        any = false;
                    }
                }
                c => {
                    word.push(c);
                    any = true;
                }
            }
        }
        assert!(!quoted, "unbalanced quotes in {command:?}");
        if any {
            out.push(word);
        }
        let end = out
            .iter()
            .position(|w| [">", ">>", "|", "||", "&&", ";", "2>", "2>&1"].contains(&w.as_str()))
            .unwrap_or(out.len());
        out.truncate(end);
        out
    }

    /// Replaces `${{ … }}` expressions and `$VAR`s with what they would be on a night.
    fn expand(command: &str, target: &str, env: &[(String, String)]) -> String {
        let mut s = command.replace("${{ matrix.target }}", target);
        s = s.replace("${{ github.run_number }}", "1");
        for (k, v) in env {
            s = s.replace(&format!("${k}"), v);
        }
        assert!(
            !s.contains("${{"),
            "an expression the test does not know: {s}"
        );
        s
    }

    #[test]
    fn the_nightly_workflow_is_yaml_and_calls_only_faultline_commands_that_exist() {
        let docs = YamlLoader::load_from_str(WORKFLOW).expect("ci/nightly-torture.yml is YAML");
        let doc = &docs[0];
        assert!(doc["on"]["schedule"].as_vec().is_some(), "runs nightly");
        let job = &doc["jobs"]["torture"];
        let targets: Vec<&str> = job["strategy"]["matrix"]["target"]
            .as_vec()
            .expect("a target matrix")
            .iter()
            .filter_map(Yaml::as_str)
            .collect();
        assert_eq!(targets, ["raft", "etcd", "zookeeper"]);
        // Job variables as a night sets them: `${{ inputs || 'default' }}` → default.
        let env: Vec<(String, String)> = job["env"]
            .as_hash()
            .map(|h| {
                h.iter()
                    .map(|(k, v)| {
                        let v = v.as_str().unwrap_or_default();
                        let default = v
                            .split("||")
                            .nth(1)
                            .map(|d| d.trim().trim_end_matches("}}").trim().trim_matches('\''))
                            .unwrap_or(v);
                        (
                            k.as_str().unwrap_or_default().to_string(),
                            default.to_string(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        let steps = job["steps"].as_vec().expect("steps");
        let scripts: Vec<&str> = steps.iter().filter_map(|s| s["run"].as_str()).collect();
        assert!(
            scripts.iter().any(|s| s.contains("./scripts/setup.sh")),
            "the README's setup"
        );
        let mut parsed = Vec::new();
        for script in &scripts {
            for command in commands(script) {
                for target in &targets {
                    let mut w = words(&expand(&command, target, &env));
                    if w.first().is_some_and(|w| w == "sudo") {
                        w.remove(0);
                    }
                    let Some(program) = w.first() else { continue };
                    if !(program == "faultline" || program.ends_with("/faultline")) {
                        continue;
                    }
                    let cli = Cli::try_parse_from(&w)
                        .unwrap_or_else(|e| panic!("{w:?} does not parse: {e}"));
                    parsed.push(format!("{:?}", cli.command));
                }
            }
        }
        let has = |prefix: &str| parsed.iter().any(|c| c.starts_with(prefix));
        assert!(has("Test("), "runs faultline test: {parsed:?}");
        assert!(has("Summary("), "publishes the summary: {parsed:?}");
        assert!(
            parsed
                .iter()
                .any(|c| c.starts_with("Test(") && c.contains("test_count: 10")),
            "a torture series: {parsed:?}"
        );
        for target in ["Raft", "Etcd", "Zookeeper"] {
            assert!(
                parsed
                    .iter()
                    .any(|c| c.contains(&format!("target: {target}"))),
                "{target}"
            );
        }
        // The artifacts: the store and the combined JUnit file.
        let uses = |action: &str| {
            steps
                .iter()
                .filter(|s| s["uses"].as_str().is_some_and(|u| u.starts_with(action)))
                .count()
        };
        assert_eq!(uses("actions/upload-artifact"), 1);
        assert!(WORKFLOW.contains("report_paths: store/junit.xml"));
        assert!(WORKFLOW.contains(">> \"$GITHUB_STEP_SUMMARY\""));
    }

    #[test]
    fn a_command_that_does_not_exist_is_caught() {
        // The check above would fail on a renamed flag or subcommand.
        for bad in [
            "faultline test --test-counts 3",
            "faultline summarise --store store",
            "faultline summary --format pdf",
        ] {
            let w = words(bad);
            assert!(Cli::try_parse_from(&w).is_err(), "{bad}");
        }
        assert_eq!(
            words(r#"./f summary --store "my store" >> "$GITHUB_STEP_SUMMARY""#),
            ["./f", "summary", "--store", "my store"]
        );
    }
}
