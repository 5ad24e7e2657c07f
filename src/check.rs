//! `faultline check` and `faultline export`: thin glue over the `checkers` crate.
//!
//! ```text
//! path(s) ─read bytes─► checkers::format::read_prefix ─► Records ─(model: --model or guessed)─►
//!     History<M::Op> ─► linearizability::check_register (register models, --algorithm)
//!                     | check_with (other models) ─► text or --json ─► exit code
//! ```
//! `--model list-append` (or a history of `txn` ops with append/r micro-ops) goes to
//! the Elle-style checker instead: `txns_from_records ─► elle::check(--consistency-model)`.
//! Bad input (unreadable file, malformed line, unknown option value) prints
//! `file:line: what was expected` and counts as exit code 254; a broken harness while
//! re-checking a stored run counts as 255. Every path is checked and reported even when
//! another cannot be, and the exit code is the worst (255 > 254 > 1 > 2 > 0). A torn
//! last line (no final newline, a line that does not read) is noted and the ops before
//! it are checked. `--bench` repeats the check and prints timings and peak memory.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use checkers::elle::{self, ConsistencyModel, ElleReport};
use checkers::format::{self, Format};
use checkers::history::{History, HistoryWriter, Process, Record};
use checkers::linearizability::{
    check_register, check_with, Algorithm, Budget, Options, RegisterModel,
};
use checkers::model::{
    is_multi_register_txn, CasRegister, Initial, Kv, Model, MultiRegister, Mutex, Register,
};
use checkers::verdict::{Method, Validity, Verdict};
use checkers::InputError;

use crate::exit;

/// Which model to check against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ModelName {
    /// Guess from the ops' `f`s: txn of :read/:write → multi-register, other txns →
    /// list-append, get/put/append → kv, acquire/release → mutex, cas → cas-register,
    /// read/write → register.
    Auto,
    Register,
    CasRegister,
    Kv,
    Mutex,
    /// Knossos's multi-register: txns of reads and writes over named registers
    /// (`:f :txn, :value [[:read :x nil] [:write :y 2]]`), linearizable as a whole.
    MultiRegister,
    /// Transactions of appends and reads (`:f :txn, :value [[:append 1 2] [:r 1 nil]]`),
    /// checked for isolation anomalies in the manner of Elle.
    ListAppend,
}

/// Which linearizability algorithm answers (`--algorithm`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum AlgorithmName {
    /// The polynomial unique-values check for register and cas-register keys whose
    /// written values are unique; the search for everything else.
    Auto,
    /// The general search (Wing & Gong / Lowe with a memo) for every key.
    Search,
    /// The unique-values check (register models only); keys that repeat a value fall
    /// back to the search and say so.
    UniqueValues,
}

/// A history format on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FormatName {
    /// Detect from the first line.
    Auto,
    /// faultline's native JSON Lines.
    Jsonl,
    /// Jepsen EDN (also Porcupine's kv logs).
    Edn,
    /// Jepsen log lines (`INFO  jepsen.util - 3 :invoke :write 4`).
    JepsenLog,
}

impl FormatName {
    fn format(self) -> Option<Format> {
        match self {
            FormatName::Auto => None,
            FormatName::Jsonl => Some(Format::Jsonl),
            FormatName::Edn => Some(Format::Edn),
            FormatName::JepsenLog => Some(Format::JepsenLog),
        }
    }
}

/// Arguments of `faultline check`.
#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// History files, or store run directories (their history.jsonl is checked).
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// Input format.
    #[arg(long, value_enum, default_value_t = FormatName::Auto)]
    pub format: FormatName,
    /// Model to check against.
    #[arg(long, value_enum, default_value_t = ModelName::Auto)]
    pub model: ModelName,
    /// Value every register starts with (register, cas-register, multi-register), e.g.
    /// 0 for Knossos's (cas-register 0). Default: nil.
    #[arg(long, value_name = "INT", allow_hyphen_values = true)]
    pub initial_value: Option<i64>,
    /// Time budget per file, e.g. 60s, 500ms, 2m; past it unfinished keys are unknown.
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    pub time_limit: Duration,
    /// Memory budget for the search, e.g. 1GiB, 512MiB.
    #[arg(long, default_value = "1GiB", value_parser = parse_bytes)]
    pub memory_limit: u64,
    /// Worker threads (0: one per core).
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
    /// Keep checking the other keys after one is illegal.
    #[arg(long)]
    pub all_keys: bool,
    /// Linearizability algorithm.
    #[arg(long, value_enum, default_value_t = AlgorithmName::Auto)]
    pub algorithm: AlgorithmName,
    /// Print the verdict as JSON (one object per file).
    #[arg(long)]
    pub json: bool,
    /// Also write the report of each history into DIR: report.html (anomalies first,
    /// a timeline with fault windows, operations in plain words), latency.svg and
    /// rate.svg; one subdirectory per file when several are given.
    #[arg(long, value_name = "DIR")]
    pub report: Option<PathBuf>,
    /// Repeat each check this many times and print timings and peak memory.
    #[arg(long, value_name = "REPS", num_args = 0..=1, default_missing_value = "10")]
    pub bench: Option<u32>,
    /// list-append: the model the history must satisfy (strict-serializable,
    /// serializable, snapshot-isolation, repeatable-read, read-committed,
    /// read-uncommitted).
    #[arg(long, default_value = "strict-serializable", value_parser = str::parse::<ConsistencyModel>)]
    pub consistency_model: ConsistencyModel,
    /// list-append: time budget of the cycle search in each strongly connected
    /// component; past it the unsearched cycle classes make the verdict unknown.
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    pub component_time_limit: Duration,
}

/// Arguments of `faultline export`.
#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    /// History file or store run directory.
    pub path: PathBuf,
    /// Output format.
    #[arg(long, value_enum)]
    pub to: ExportFormat,
    /// Input format.
    #[arg(long, value_enum, default_value_t = FormatName::Auto)]
    pub format: FormatName,
    /// Output file (default: standard output).
    #[arg(long, short)]
    pub output: Option<PathBuf>,
}

/// What `export` can write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ExportFormat {
    /// Jepsen EDN: a vector of op maps, one per line.
    Edn,
    /// faultline's native JSON Lines.
    Jsonl,
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: f64 = num
        .parse()
        .map_err(|_| format!("expected a duration like 60s or 500ms, found {s:?}"))?;
    let secs = match unit.trim() {
        "" | "s" => n,
        "ms" => n / 1e3,
        "m" | "min" => n * 60.0,
        "h" => n * 3600.0,
        other => {
            return Err(format!(
                "unknown duration unit {other:?}; expected ms, s, m or h"
            ))
        }
    };
    Duration::try_from_secs_f64(secs).map_err(|e| format!("bad duration {s:?}: {e}"))
}

fn parse_bytes(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: f64 = num
        .parse()
        .map_err(|_| format!("expected a size like 1GiB or 512MiB, found {s:?}"))?;
    let mult = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "k" | "kb" | "kib" => 1024.0,
        "m" | "mb" | "mib" => 1024.0 * 1024.0,
        "g" | "gb" | "gib" => 1024.0 * 1024.0 * 1024.0,
        other => {
            return Err(format!(
                "unknown size unit {other:?}; expected KiB, MiB or GiB"
            ))
        }
    };
    Ok((n * mult) as u64)
}

/// A history's file: the path itself, or `history.jsonl` inside a run directory.
fn history_file(path: &Path) -> PathBuf {
    if path.is_dir() {
        path.join("history.jsonl")
    } else {
        path.to_path_buf()
    }
}

/// Bad input, already printed to stderr as `error: file:line: what`; maps to exit 254.
struct BadInput(String);

/// A history file's records, and the torn last line they stop before, if any.
struct Loaded {
    file: PathBuf,
    format: Format,
    records: Vec<Record>,
    torn: Option<InputError>,
    /// The last line, when the file does not end with a newline (it may be torn).
    open_last_line: Option<usize>,
}

fn load(path: &Path, format: FormatName) -> Result<Loaded, BadInput> {
    let file = history_file(path);
    let bytes = std::fs::read(&file).map_err(|e| {
        let message = format!("{}: cannot read: {e}", file.display());
        eprintln!("error: {message}");
        BadInput(message)
    })?;
    let open_last_line = (!bytes.is_empty() && !bytes.ends_with(b"\n"))
        .then(|| 1 + bytes.iter().filter(|&&b| b == b'\n').count());
    match format::read_prefix(&bytes, format.format()) {
        Ok(read) => Ok(Loaded {
            file,
            format: read.format,
            records: read.records,
            torn: read.torn,
            open_last_line,
        }),
        Err(e) => Err(bad(&file, &e)),
    }
}

fn bad(file: &Path, e: &InputError) -> BadInput {
    let message = match e.line() {
        Some(l) => format!("{}:{l}: {}", file.display(), e.message),
        None => format!("{}: {e}", file.display()),
    };
    eprintln!("error: {message}");
    BadInput(message)
}

fn guess_model(records: &[Record], file: &Path) -> Result<ModelName, BadInput> {
    let clients = || {
        records
            .iter()
            .filter(|r| matches!(r.process, Process::Client(_)))
    };
    let has = |names: &[&str]| clients().any(|r| names.contains(&r.f.as_str()));
    if clients().any(is_multi_register_txn) {
        return Ok(ModelName::MultiRegister);
    }
    if has(&["txn"]) {
        return match clients().find(|r| r.f != "txn") {
            None => Ok(ModelName::ListAppend),
            Some(r) => Err(bad(
                file,
                &InputError::at_line(
                    r.line,
                    format!(
                        "the history mixes txn ops with :{} ops; pass --model to say how to \
                         check it",
                        r.f
                    ),
                ),
            )),
        };
    }
    Ok(if has(&["get", "put", "append"]) {
        ModelName::Kv
    } else if has(&["acquire", "release"]) {
        ModelName::Mutex
    } else if has(&["cas"]) {
        ModelName::CasRegister
    } else {
        ModelName::Register
    })
}

/// Decodes the records with `decode` (a typed history, transactions, …).
fn decode<T>(
    loaded: &mut Loaded,
    decode: impl Fn(&[Record]) -> Result<T, InputError>,
) -> Result<T, BadInput> {
    match decode(&loaded.records) {
        Ok(decoded) => Ok(decoded),
        // A torn last line can still read (a log line cut to `:invoke :wri`): if it is
        // the only thing wrong, it is torn like one that does not read.
        Err(e)
            if loaded.torn.is_none()
                && e.line().is_some()
                && e.line() == loaded.open_last_line
                && loaded.records.iter().any(|r| Some(r.line) != e.line()) =>
        {
            loaded.records.retain(|r| Some(r.line) != e.line());
            let decoded = decode(&loaded.records).map_err(|_| bad(&loaded.file, &e))?;
            loaded.torn = Some(e);
            Ok(decoded)
        }
        Err(e) => Err(bad(&loaded.file, &e)),
    }
}

fn run_model<M: Model>(
    model: &M,
    loaded: &mut Loaded,
    options: Options,
    reps: u32,
) -> Result<(Verdict, Vec<Duration>), BadInput> {
    let history = decode(loaded, History::<M::Op>::from_records)?;
    Ok(timed(reps, || check_with(&history, model, options)))
}

/// [`run_model`] for register models: `check_register` with `algorithm`.
fn run_register<M: RegisterModel>(
    model: &M,
    loaded: &mut Loaded,
    options: Options,
    reps: u32,
    algorithm: Algorithm,
) -> Result<(Verdict, Vec<Duration>), BadInput> {
    let history = decode(loaded, History::<M::Op>::from_records)?;
    Ok(timed(reps, || {
        check_register(&history, model, options, algorithm)
    }))
}

/// Runs `check` `reps` times (at least once): the last verdict and every time.
fn timed(reps: u32, check: impl Fn() -> Verdict) -> (Verdict, Vec<Duration>) {
    let started = Instant::now();
    let mut verdict = check();
    let mut times = vec![started.elapsed()];
    for _ in 1..reps {
        let t = Instant::now();
        verdict = check();
        times.push(t.elapsed());
    }
    (verdict, times)
}

/// Which algorithms answered the keys, e.g. `unique values (5 keys)`.
fn methods(verdict: &Verdict) -> String {
    let mut counts: Vec<(Method, usize)> = Vec::new();
    for k in &verdict.keys {
        match counts.iter_mut().find(|(m, _)| *m == k.method) {
            Some((_, n)) => *n += 1,
            None => counts.push((k.method, 1)),
        }
    }
    counts
        .iter()
        .map(|(m, n)| format!("{} ({n} keys)", m.words()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Peak resident set size of this process (Linux `VmHWM`), if known.
fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// How bad an exit code is, for the worst of several files: a harness failure, then
/// bad input (a file could not be checked at all), then invalid, unknown, valid.
fn severity(code: u8) -> u8 {
    match code {
        exit::VALID => 0,
        exit::UNKNOWN => 1,
        exit::INVALID => 2,
        exit::BAD_INPUT => 3,
        _ => 4,
    }
}

/// `faultline check`: every path is checked and reported, whatever happens to the
/// others; the exit code is the worst of them (see [`severity`]).
pub fn run(args: CheckArgs) -> anyhow::Result<u8> {
    let options = Options {
        budget: Budget {
            time_limit: args.time_limit,
            memory_limit: args.memory_limit,
        },
        threads: args.threads,
        all_keys: args.all_keys,
    };
    let mut worst = exit::VALID;
    let mut total = Duration::ZERO;
    let mut tally: BTreeMap<u8, usize> = BTreeMap::new();
    let mut report_dirs = BTreeSet::new();
    for path in &args.paths {
        // One report directory per file when there are several: the file's name,
        // numbered if two files share it.
        let report = args.report.as_ref().map(|dir| {
            if args.paths.len() == 1 {
                return dir.clone();
            }
            let name = path
                .file_name()
                .map_or_else(|| "history".into(), |n| n.to_string_lossy().into_owned());
            let mut sub = dir.join(&name);
            let mut n = 1;
            while !report_dirs.insert(sub.clone()) {
                n += 1;
                sub = dir.join(format!("{name}-{n}"));
            }
            sub
        });
        let code = match check_path(path, &args, options, report.as_deref(), &mut total) {
            Ok(code) => code,
            Err(Failed::BadInput(BadInput(message))) => {
                if args.json {
                    let line = serde_json::json!({ "file": path, "error": message });
                    println!("{line}");
                }
                exit::BAD_INPUT
            }
            Err(Failed::Harness(e)) => {
                eprintln!("error: {}: {e:#}", path.display());
                exit::HARNESS
            }
        };
        *tally.entry(code).or_default() += 1;
        if severity(code) > severity(worst) {
            worst = code;
        }
    }
    if args.bench.is_some() {
        println!("total of medians {:.3} ms", total.as_secs_f64() * 1e3);
        if let Some(rss) = peak_rss_bytes() {
            println!(
                "peak RSS of this process {:.1} MiB",
                rss as f64 / (1024.0 * 1024.0)
            );
        }
    }
    if args.paths.len() > 1 && !args.json {
        let words: Vec<String> = tally
            .iter()
            .map(|(&code, n)| {
                let word = match code {
                    exit::VALID => "valid",
                    exit::INVALID => "invalid",
                    exit::UNKNOWN => "unknown",
                    exit::BAD_INPUT => "could not be read",
                    _ => "failed",
                };
                format!("{n} {word}")
            })
            .collect();
        println!("{} histories: {}", args.paths.len(), words.join(", "));
    }
    Ok(worst)
}

/// Why a path could not be checked.
enum Failed {
    /// Bad input, already printed.
    BadInput(BadInput),
    /// A broken harness (re-checking a stored run).
    Harness(anyhow::Error),
}

impl From<BadInput> for Failed {
    fn from(b: BadInput) -> Self {
        Failed::BadInput(b)
    }
}

/// Checks one path and prints its verdict; the exit code it alone would give.
fn check_path(
    path: &Path,
    args: &CheckArgs,
    options: Options,
    report: Option<&Path>,
    total: &mut Duration,
) -> Result<u8, Failed> {
    // A run directory of `faultline test`: every checker of its workload, again.
    if path.join(harness::store::files::TEST).is_file()
        && args.model == ModelName::Auto
        && args.algorithm == AlgorithmName::Auto
        && args.bench.is_none()
    {
        if report.is_some() {
            println!(
                "note: {} is a stored run: its report is rewritten in place",
                path.display()
            );
        }
        return crate::test_cmd::check_stored(path).map_err(Failed::Harness);
    }
    let mut loaded = load(path, args.format)?;
    let model = match args.model {
        ModelName::Auto => guess_model(&loaded.records, &loaded.file)?,
        m => m,
    };
    let reps = args.bench.unwrap_or(1);
    let initial = args.initial_value;
    if initial.is_some()
        && matches!(
            model,
            ModelName::Kv | ModelName::Mutex | ModelName::ListAppend
        )
    {
        let message = format!(
            "{}: --initial-value applies to the register, cas-register and \
             multi-register models, not {}",
            loaded.file.display(),
            model_name(model)
        );
        eprintln!("error: {message}");
        return Err(BadInput(message).into());
    }
    let register_model = matches!(
        model,
        ModelName::Register | ModelName::CasRegister | ModelName::Auto
    );
    if args.algorithm == AlgorithmName::UniqueValues && !register_model {
        let message = format!(
            "{}: --algorithm unique-values applies to the register and cas-register \
             models, not {}",
            loaded.file.display(),
            clap::ValueEnum::to_possible_value(&model)
                .map_or_else(|| format!("{model:?}"), |v| v.get_name().to_owned())
        );
        eprintln!("error: {message}");
        return Err(BadInput(message).into());
    }
    let algorithm = match args.algorithm {
        AlgorithmName::Search => Algorithm::Search,
        AlgorithmName::Auto | AlgorithmName::UniqueValues => Algorithm::UniqueValues,
    };
    let (verdict, mut times) = match model {
        ModelName::Kv => run_model(&Kv, &mut loaded, options, reps),
        ModelName::Mutex => run_model(&Mutex, &mut loaded, options, reps),
        ModelName::CasRegister => run_register(
            &Initial::new(CasRegister, initial),
            &mut loaded,
            options,
            reps,
            algorithm,
        ),
        ModelName::MultiRegister => {
            run_model(&MultiRegister::new(initial), &mut loaded, options, reps)
        }
        ModelName::Register | ModelName::Auto => run_register(
            &Initial::new(Register, initial),
            &mut loaded,
            options,
            reps,
            algorithm,
        ),
        ModelName::ListAppend => {
            return check_list_append(loaded, args, reps, total, report);
        }
    }?;
    // A controller that crashed mid-write leaves a torn last line: the ops before it
    // were checked, and the output says so.
    let Loaded {
        file,
        format,
        records,
        torn,
        ..
    } = loaded;
    let torn_note = torn_note(torn.as_ref(), records.len());
    print_result(args, &file, torn_note.as_deref(), &verdict)?;
    if args.bench.is_some() {
        let mib = verdict.stats.peak_memory_bytes as f64 / (1024.0 * 1024.0);
        *total += bench_line(&file, verdict.valid, &mut times, |_| {
            format!("search memory {mib:>7.1} MiB  {}", methods(&verdict))
        });
    }
    if let (Some(dir), None) = (report, args.bench) {
        let mut repro = format!("faultline check --model {}", model_name(model));
        if let Some(v) = initial {
            repro.push_str(&format!(" --initial-value {v}"));
        }
        repro.push_str(&format!(" {}", file.display()));
        let imported = Imported {
            file: &file,
            format,
            records: &records,
            verdict: report::CheckerVerdict {
                checker: "linearizability".into(),
                validity: verdict.valid,
                lines: verdict.summary_lines(),
                anomalies: report::anomalies::from_linearizability(&verdict),
            },
            model,
            repro,
        };
        write_report(dir, &imported).map_err(Failed::Harness)?;
        println!("report: {}", dir.join(report::files::REPORT).display());
    }
    Ok(exit_code(verdict.valid))
}

fn exit_code(v: Validity) -> u8 {
    match v {
        Validity::Valid => exit::VALID,
        Validity::Invalid => exit::INVALID,
        Validity::Unknown => exit::UNKNOWN,
    }
}

/// Prints one file's result: a JSON object (with `file`, and `torn` when a torn last
/// line was skipped) for `--json`, the text report otherwise (nothing under `--bench`).
fn print_result<T: serde::Serialize + std::fmt::Display>(
    args: &CheckArgs,
    file: &Path,
    torn_note: Option<&str>,
    result: &T,
) -> Result<(), Failed> {
    if args.json {
        let mut v = serde_json::to_value(result).map_err(|e| Failed::Harness(e.into()))?;
        if let Some(obj) = v.as_object_mut() {
            obj.insert("file".into(), serde_json::json!(file));
            if let Some(note) = torn_note {
                obj.insert("torn".into(), serde_json::json!(note));
            }
        }
        println!("{v}");
    } else if args.bench.is_none() {
        println!("{}", file.display());
        if let Some(note) = torn_note {
            println!("note: {note}");
        }
        print!("{result}");
    }
    Ok(())
}

/// What to say about a torn last line the check skipped.
fn torn_note(torn: Option<&InputError>, ops: usize) -> Option<String> {
    torn.map(|e| {
        format!(
            "the last line ({}) is torn, as a crashed writer leaves it: {}; checked the {ops} \
             ops before it",
            e.location, e.message,
        )
    })
}

/// Prints one `--bench` line (median, min, max, then `tail(median)`); returns the median.
fn bench_line(
    file: &Path,
    valid: Validity,
    times: &mut [Duration],
    tail: impl FnOnce(Duration) -> String,
) -> Duration {
    times.sort();
    let median = times[times.len() / 2];
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!(
        "{:<40} {:>8} median {:>9.3} ms  min {:>9.3} ms  max {:>9.3} ms  {}",
        file.display(),
        valid.word(),
        ms(median),
        ms(times[0]),
        ms(times[times.len() - 1]),
        tail(median)
    );
    median
}

/// Checks a list-append history (`reps` times for `--bench`) and prints its report.
fn check_list_append(
    mut loaded: Loaded,
    args: &CheckArgs,
    reps: u32,
    total: &mut Duration,
    report_dir: Option<&Path>,
) -> Result<u8, Failed> {
    let txns = decode(&mut loaded, elle::txns_from_records)?;
    let options = elle::Options {
        consistency_model: args.consistency_model,
        ..elle::Options::default()
    };
    let budget = elle::Budget {
        time_limit: args.time_limit,
        component_time_limit: args.component_time_limit.min(args.time_limit),
        ..elle::Budget::default()
    };
    let mut times = Vec::new();
    let mut report: Option<ElleReport> = None;
    for _ in 0..reps.max(1) {
        let t = Instant::now();
        report = Some(elle::check(&txns, &options, budget));
        times.push(t.elapsed());
    }
    let report = report.expect("checked at least once");
    let file = &loaded.file;
    let torn_note = torn_note(loaded.torn.as_ref(), loaded.records.len());
    print_result(args, file, torn_note.as_deref(), &report)?;
    if args.bench.is_some() {
        let txns = report.stats.txns as f64;
        *total += bench_line(file, report.valid, &mut times, |median| {
            format!("{:.0} txn/s", txns / median.as_secs_f64())
        });
    }
    if let (Some(dir), None) = (report_dir, args.bench) {
        let imported = Imported {
            file,
            format: loaded.format,
            records: &loaded.records,
            verdict: report::CheckerVerdict {
                checker: report::elle::CHECKER.into(),
                validity: report.valid,
                lines: report.describe(),
                anomalies: report::elle::from_list_append(&report.anomalies),
            },
            model: ModelName::ListAppend,
            repro: format!(
                "faultline check --model list-append --consistency-model {} {}",
                report.consistency_model,
                file.display()
            ),
        };
        write_report(dir, &imported).map_err(Failed::Harness)?;
        println!("report: {}", dir.join(report::files::REPORT).display());
    }
    Ok(exit_code(report.valid))
}

/// A model's name as `--model` spells it.
fn model_name(model: ModelName) -> String {
    clap::ValueEnum::to_possible_value(&model)
        .map_or_else(|| format!("{model:?}"), |v| v.get_name().to_owned())
}

/// An imported history and its verdict, for [`write_report`].
struct Imported<'a> {
    file: &'a Path,
    format: Format,
    records: &'a [Record],
    /// The checker's verdict as the report shows it.
    verdict: report::CheckerVerdict,
    model: ModelName,
    repro: String,
}

/// `--report DIR`: the same report a run gets (report.html, latency.svg, rate.svg, and
/// for list-append the cycles under `elle/`), for a history from anywhere. A file without times gets a clock from positions (op
/// n at n ms, said on the page), so the timeline still shows what overlapped.
fn write_report(dir: &Path, h: &Imported<'_>) -> anyhow::Result<()> {
    use checkers::faults::{self, AvailabilityInput};
    use report::{ReportInput, Summary};

    let timed = h.records.iter().any(|r| r.time.is_some());
    let records: Vec<Record> = h
        .records
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let mut r = r.clone();
            if !timed {
                r.time = Some(i as u64 * 1_000_000);
            }
            r
        })
        .collect();
    let ops: Vec<report::Op> = records
        .iter()
        .enumerate()
        .map(|(i, r)| report::Op::from_record(r, i as u64))
        .collect();
    let windows = faults::windows_of(&fault_events(&records));
    let writes: &[&str] = match h.model {
        ModelName::Kv => &["put", "append", "cas"],
        ModelName::Mutex => &["acquire", "release"],
        ModelName::MultiRegister | ModelName::ListAppend => &["txn"],
        _ => &["write", "cas"],
    };
    let availability = faults::availability(
        &records,
        &windows,
        AvailabilityInput {
            writes,
            status: None,
            nodes: 0,
            round: 0,
        },
    );
    let mut verdict = h.verdict.clone();
    if !timed {
        verdict.lines.push(
            "The file records no times: the timeline's clock is the op's position in the \
             file, 1 ms per op."
                .into(),
        );
    }
    let mut nemesis: Vec<String> = windows
        .iter()
        .map(|w| w.kind.map_or_else(|| w.fault.clone(), |k| k.to_string()))
        .collect();
    nemesis.sort();
    nemesis.dedup();
    let input = ReportInput {
        summary: Summary {
            name: h
                .file
                .file_name()
                .map_or_else(String::new, |n| n.to_string_lossy().into_owned()),
            target: format!("imported {} history ({})", h.format, h.file.display()),
            workload: format!("{} model", model_name(h.model)),
            nemesis: if nemesis.is_empty() {
                "no nemesis ops in the file".into()
            } else {
                nemesis.join(", ")
            },
            seed: 0,
            started: if timed {
                "as the file's times say".into()
            } else {
                "the file records no times".into()
            },
            repro: h.repro.clone(),
        },
        verdicts: vec![verdict],
        ops,
        faults: windows,
        leader_changes: Vec::new(),
        availability,
        election: None,
    };
    std::fs::create_dir_all(dir).map_err(|e| anyhow::anyhow!("creating {}: {e}", dir.display()))?;
    report::write_artifacts(&input, dir)?;
    Ok(())
}

/// The history's fault events. Jepsen records a nemesis op twice, invoked and then
/// completed with what it did (`:info :start nil`, then `:info :start [:isolated …]`):
/// such a pair is one event, the fault in force from the start's invocation to the
/// stop's completion. faultline's own nemesis writes each event once.
fn fault_events(records: &[Record]) -> Vec<(u64, checkers::faults::FaultEvent)> {
    use checkers::faults::{FaultEvent, FaultPhase};
    let nemesis: Vec<&Record> = records
        .iter()
        .filter(|r| r.process == Process::Nemesis)
        .collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < nemesis.len() {
        let r = nemesis[i];
        let invoked = r.kind == checkers::history::Kind::Invoke || r.value.is_null();
        match nemesis.get(i + 1) {
            Some(done)
                if invoked && done.f == r.f && done.kind != checkers::history::Kind::Invoke =>
            {
                if let Some(e) = FaultEvent::from_record(done) {
                    let at = if e.phase == FaultPhase::Start {
                        r
                    } else {
                        done
                    };
                    out.push((at.time.unwrap_or(0), e));
                }
                i += 2;
            }
            _ => {
                if let Some(e) = FaultEvent::from_record(r) {
                    out.push((r.time.unwrap_or(0), e));
                }
                i += 1;
            }
        }
    }
    out
}

/// `faultline export`.
pub fn export(args: ExportArgs) -> anyhow::Result<u8> {
    let Ok(Loaded {
        mut records, torn, ..
    }) = load(&args.path, args.format)
    else {
        return Ok(exit::BAD_INPUT);
    };
    if let Some(e) = torn {
        eprintln!(
            "warning: {}: the last line ({}) is torn ({}); exported the {} ops before it",
            args.path.display(),
            e.location,
            e.message,
            records.len()
        );
    }
    for (i, r) in records.iter_mut().enumerate() {
        r.index.get_or_insert(i as u64);
    }
    let text = match args.to {
        ExportFormat::Edn => format::edn::write(&records),
        ExportFormat::Jsonl => {
            let mut w = HistoryWriter::new(Vec::new());
            for r in &records {
                w.append_record(r)?;
            }
            String::from_utf8(w.into_inner())?
        }
    };
    match &args.output {
        Some(out) => std::fs::write(out, text)
            .map_err(|e| anyhow::anyhow!("writing {}: {e}", out.display()))?,
        None => {
            use std::io::Write;
            let mut stdout = std::io::stdout().lock();
            stdout.write_all(text.as_bytes())?;
            stdout.flush()?;
        }
    }
    Ok(exit::VALID)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_sizes_parse() {
        assert_eq!(parse_duration("60s").unwrap(), Duration::from_secs(60));
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
        assert_eq!(parse_duration("3").unwrap(), Duration::from_secs(3));
        assert!(parse_duration("fast").is_err());
        assert!(parse_duration("3 weeks").is_err());
        assert_eq!(parse_bytes("1GiB").unwrap(), 1 << 30);
        assert_eq!(parse_bytes("512MiB").unwrap(), 512 << 20);
        assert!(parse_bytes("lots").is_err());
    }
}
