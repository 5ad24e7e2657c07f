//! `faultline summary`: what changed across a store's runs, per test name (verdicts,
//! anomaly kinds with first and last seen, leader changes, failover trend, a plainly
//! worded regression line). All of it is `report::summary`; this module parses flags,
//! reads the clock for `--since`, and prints.
//!
//! Exit codes: 0 (the summary is information, not a verdict), 254 bad flags or a bad
//! `--since`, 255 when the store cannot be listed.

use std::path::PathBuf;
use std::time::SystemTime;

use anyhow::Context;
use clap::{Args, ValueEnum};
use report::summary::{self, Summary};

use crate::exit;

#[derive(Debug, Args)]
pub struct SummaryArgs {
    /// The store to summarize.
    #[arg(long, value_name = "DIR", default_value = "store")]
    pub store: PathBuf,
    /// Only runs started this long ago or later: <N>m, <N>h, <N>d or <N>w (e.g. 7d).
    #[arg(long, value_name = "DURATION")]
    pub since: Option<String>,
    /// markdown (for a CI job summary) or html (a standalone page with trend charts).
    #[arg(long, value_enum, default_value_t = Format::Markdown)]
    pub format: Format,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Markdown,
    Html,
}

pub fn run(args: SummaryArgs) -> anyhow::Result<u8> {
    let since = match args.since.as_deref().map(summary::parse_since) {
        None => None,
        Some(Ok(d)) => Some((
            harness::store::timestamp(
                SystemTime::now()
                    .checked_sub(d)
                    .unwrap_or(SystemTime::UNIX_EPOCH),
            ),
            args.since.clone().unwrap_or_default(),
        )),
        Some(Err(e)) => {
            eprintln!("error: {e}");
            return Ok(exit::BAD_INPUT);
        }
    };
    let runs = summary::load(&args.store, since.as_ref().map(|(stamp, _)| stamp.as_str()))
        .with_context(|| format!("reading the store {}", args.store.display()))?;
    let mut scope = format!("store `{}`", args.store.display());
    if let Some((_, text)) = &since {
        scope.push_str(&format!(", runs of the last {text}"));
    }
    let s = Summary::build(runs, scope);
    match args.format {
        Format::Markdown => print!("{}", summary::markdown(&s)),
        Format::Html => print!("{}", summary::html(&s)),
    }
    Ok(exit::VALID)
}
