//! `faultline serve`: a small read-only web UI over a store.
//!
//! ```text
//! GET /                    runs, newest first: test, time, verdict, links
//! GET /summary             per test over time: verdicts, new anomalies, failover trend
//!                          (crate::summary, the same page as `faultline summary --format html`)
//! GET /store/<path>        a directory listing, or a file with its content type
//!        │
//!        ▼ resolve(): no "..", canonical path must stay inside the store root
//! ```
//!
//! Invariants: nothing outside the store root is ever read (a `..` component is
//! refused, and the canonical path, symlinks resolved, must lie under the canonical
//! root); only GET and HEAD; served pages may not load anything from elsewhere
//! (`Content-Security-Policy`). The request handling ([`respond`]) is a plain function
//! of the store and the request path, so it is tested without a network; [`bind`]
//! and [`Server::run`] put it behind axum.

use std::fmt::Write;
use std::fs;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use axum::body::Body;
use axum::http::{header, HeaderValue, Method, Request, StatusCode};
use axum::response::Response;
use axum::Router;
use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

use super::describe::esc;
use harness::store::{files, Store};

/// Characters left as they are in a link (RFC 3986 unreserved).
const PATH_SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// Rows at most on the index page.
const MAX_RUNS: usize = 2000;

/// What to send back.
#[derive(Debug, PartialEq, Eq)]
pub struct Reply {
    pub status: u16,
    pub content_type: &'static str,
    pub body: ReplyBody,
}

/// A reply's body: bytes made here, or a file streamed from the store.
#[derive(Debug, PartialEq, Eq)]
pub enum ReplyBody {
    Bytes(Vec<u8>),
    File(PathBuf),
}

impl Reply {
    fn html(status: u16, page: String) -> Reply {
        Reply {
            status,
            content_type: "text/html; charset=utf-8",
            body: ReplyBody::Bytes(page.into_bytes()),
        }
    }

    fn error(status: u16, message: &str) -> Reply {
        Reply::html(
            status,
            page(
                &status.to_string(),
                &format!("<p>{}</p><p><a href=\"/\">all runs</a></p>", esc(message)),
            ),
        )
    }
}

/// A run's verdict as the index shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunVerdict {
    Valid,
    Invalid,
    Unknown,
    /// No results.json, or no verdict in it (the run did not finish checking).
    Incomplete,
}

impl RunVerdict {
    pub fn as_str(self) -> &'static str {
        match self {
            RunVerdict::Valid => "valid",
            RunVerdict::Invalid => "invalid",
            RunVerdict::Unknown => "unknown",
            RunVerdict::Incomplete => "incomplete",
        }
    }

    /// Reads the top-level `valid` field of a run's `results.json`: "valid",
    /// "invalid", "unknown" (or a boolean).
    pub fn of_run(dir: &Path) -> RunVerdict {
        let Ok(bytes) = fs::read(dir.join(files::RESULTS)) else {
            return RunVerdict::Incomplete;
        };
        let Ok(v) = serde_json::from_slice::<serde_json::Value>(&bytes) else {
            return RunVerdict::Incomplete;
        };
        match v.get("valid") {
            Some(serde_json::Value::String(s)) => match s.as_str() {
                "valid" => RunVerdict::Valid,
                "invalid" => RunVerdict::Invalid,
                "unknown" => RunVerdict::Unknown,
                _ => RunVerdict::Incomplete,
            },
            Some(serde_json::Value::Bool(true)) => RunVerdict::Valid,
            Some(serde_json::Value::Bool(false)) => RunVerdict::Invalid,
            _ => RunVerdict::Incomplete,
        }
    }
}

/// Answers a GET for `path` (the request's path, still percent-encoded) over the
/// store at `root`.
pub fn respond(root: &Path, path: &str) -> Reply {
    let Ok(decoded) = percent_decode_str(path).decode_utf8() else {
        return Reply::error(400, "the path is not valid UTF-8");
    };
    if decoded == "/" || decoded.is_empty() {
        return match index(root) {
            Ok(page) => Reply::html(200, page),
            Err(e) => Reply::error(500, &format!("reading the store: {e}")),
        };
    }
    if decoded == "/summary" {
        return match crate::summary::load(root, None) {
            Ok(runs) => Reply::html(
                200,
                crate::summary::html(&crate::summary::Summary::build(
                    runs,
                    format!("store `{}`", root.display()),
                )),
            ),
            Err(e) => Reply::error(500, &format!("reading the store: {e}")),
        };
    }
    let Some(rel) = decoded
        .strip_prefix("/store/")
        .or_else(|| (decoded == "/store").then_some(""))
    else {
        return Reply::error(404, "no such page");
    };
    let target = match resolve(root, rel) {
        Ok(p) => p,
        Err(Refused::Outside) => return Reply::error(403, "outside the store"),
        Err(Refused::Missing) => return Reply::error(404, "no such file in the store"),
    };
    if target.is_dir() {
        if !decoded.ends_with('/') {
            // Relative links in the listing need the trailing slash.
            let to = format!("{}/", utf8_percent_encode_path(&decoded));
            return Reply {
                status: 308,
                content_type: "text/plain; charset=utf-8",
                body: ReplyBody::Bytes(to.into_bytes()),
            };
        }
        return match listing(&target, &decoded) {
            Ok(page) => Reply::html(200, page),
            Err(e) => Reply::error(500, &format!("listing the directory: {e}")),
        };
    }
    Reply {
        status: 200,
        content_type: content_type(&target),
        body: ReplyBody::File(target),
    }
}

enum Refused {
    Outside,
    Missing,
}

/// `rel` (decoded, '/'-separated) under `root`, refusing anything that leaves it.
fn resolve(root: &Path, rel: &str) -> Result<PathBuf, Refused> {
    let mut path = root.to_path_buf();
    for part in rel.split('/') {
        match part {
            "" | "." => continue,
            ".." => return Err(Refused::Outside),
            p if p.contains(['\\', '\0']) => return Err(Refused::Outside),
            p => path.push(p),
        }
    }
    let root = root.canonicalize().map_err(|_| Refused::Missing)?;
    let path = path.canonicalize().map_err(|_| Refused::Missing)?;
    if path.starts_with(&root) {
        Ok(path)
    } else {
        Err(Refused::Outside) // a symlink out of the store
    }
}

fn utf8_percent_encode_path(path: &str) -> String {
    path.split('/')
        .map(|s| utf8_percent_encode(s, PATH_SEGMENT).to_string())
        .collect::<Vec<_>>()
        .join("/")
}

/// The content type for a file in the store.
pub fn content_type(path: &Path) -> &'static str {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    match ext.as_str() {
        "html" | "htm" => "text/html; charset=utf-8",
        "svg" => "image/svg+xml",
        "json" => "application/json",
        "xml" => "application/xml",
        "png" => "image/png",
        "gz" | "tar" | "zst" | "bin" | "db" => "application/octet-stream",
        "jsonl" | "log" | "txt" | "edn" | "toml" | "conf" | "csv" | "out" | "err" | "" => {
            "text/plain; charset=utf-8"
        }
        _ => "text/plain; charset=utf-8",
    }
}

/// The page listing every run, newest first.
fn index(root: &Path) -> io::Result<String> {
    let runs = Store::new(root).runs()?;
    let mut body = format!(
        "<p>Store <code>{}</code>: {} runs, newest first. \
         <a href=\"/summary\">Summary per test over time</a></p>",
        esc(&root.display().to_string()),
        runs.len()
    );
    if runs.is_empty() {
        body.push_str("<p>No runs yet.</p>");
        return Ok(page("faultline runs", &body));
    }
    body.push_str(
        "<table><tr><th>test</th><th>time (UTC)</th><th>verdict</th><th>artifacts</th></tr>",
    );
    for run in runs.iter().take(MAX_RUNS) {
        let verdict = RunVerdict::of_run(&run.path);
        let base = format!(
            "/store/{}/{}/",
            utf8_percent_encode(&run.test, PATH_SEGMENT),
            utf8_percent_encode(&run.timestamp, PATH_SEGMENT)
        );
        let _ = write!(
            body,
            r#"<tr><td>{}</td><td><a href="{base}">{}</a></td><td><span class="v {}">{}</span></td><td>"#,
            esc(&run.test),
            esc(&display_time(&run.timestamp)),
            verdict.as_str(),
            verdict.as_str()
        );
        let artifacts = [
            ("report", super::files::REPORT),
            ("history", files::HISTORY),
            ("results", files::RESULTS),
            ("log", files::LOG),
            ("node logs", "nodes/"),
            ("latency", super::files::LATENCY),
            ("rate", super::files::RATE),
        ];
        for (label, name) in artifacts {
            if run.path.join(name.trim_end_matches('/')).exists() {
                let _ = write!(body, r#"<a href="{base}{name}">{label}</a> "#);
            }
        }
        body.push_str("</td></tr>");
    }
    body.push_str("</table>");
    if runs.len() > MAX_RUNS {
        let _ = write!(body, "<p>… and {} older runs.</p>", runs.len() - MAX_RUNS);
    }
    Ok(page("faultline runs", &body))
}

/// "20261129T094000" → "2026-11-29 09:40:00" (anything else as it is).
pub(crate) fn display_time(stamp: &str) -> String {
    let (digits, suffix) = stamp.split_at(stamp.find('-').unwrap_or(stamp.len()));
    let b = digits.as_bytes();
    if b.len() == 15 && b[8] == b'T' && digits.chars().filter(char::is_ascii_digit).count() == 14 {
        format!(
            "{}-{}-{} {}:{}:{}{suffix}",
            &digits[0..4],
            &digits[4..6],
            &digits[6..8],
            &digits[9..11],
            &digits[11..13],
            &digits[13..15]
        )
    } else {
        stamp.to_string()
    }
}

/// A directory listing: directories first, then files, by name.
fn listing(dir: &Path, shown_as: &str) -> io::Result<String> {
    let mut entries = Vec::new();
    for e in fs::read_dir(dir)? {
        let e = e?;
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') {
            continue; // temporary files of atomic writes
        }
        let meta = fs::metadata(e.path()); // follows symlinks (e.g. `latest`)
        let (is_dir, len) = match &meta {
            Ok(m) => (m.is_dir(), m.len()),
            Err(_) => (false, 0),
        };
        entries.push((!is_dir, name, len));
    }
    entries.sort();
    let mut body = String::from(
        "<p><a href=\"/\">all runs</a> · <a href=\"../\">up</a></p><table><tr><th>name</th><th>size</th></tr>",
    );
    for (is_file, name, len) in entries {
        let href = utf8_percent_encode(&name, PATH_SEGMENT).to_string();
        let (slash, size) = if is_file {
            ("", format!("{len} B"))
        } else {
            ("/", String::new())
        };
        let _ = write!(
            body,
            r#"<tr><td><a href="{href}{slash}">{}{slash}</a></td><td>{size}</td></tr>"#,
            esc(&name)
        );
    }
    body.push_str("</table>");
    Ok(page(shown_as, &body))
}

fn page(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{t}</title><style>{CSS}</style></head>\
         <body><h1>{t}</h1>{body}</body></html>\n",
        t = esc(title)
    )
}

const CSS: &str = "body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222}\
table{border-collapse:collapse}td,th{border:1px solid #ddd;padding:2px 8px;text-align:left}\
a{margin-right:.5em}.v{padding:1px 8px;border-radius:3px;color:#fff;font-weight:600}\
.v.valid{background:#2e7d32}.v.invalid{background:#c62828}.v.unknown{background:#f9a825;color:#222}\
.v.incomplete{background:#757575}";

/// A bound listener serving a store.
pub struct Server {
    listener: tokio::net::TcpListener,
    root: PathBuf,
}

/// Binds `addr` to serve the store at `root`.
pub async fn bind(root: impl Into<PathBuf>, addr: SocketAddr) -> io::Result<Server> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| io::Error::new(e.kind(), format!("binding {addr}: {e}")))?;
    Ok(Server {
        listener,
        root: root.into(),
    })
}

impl Server {
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until `shutdown` completes.
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send + 'static) -> io::Result<()> {
        let root = self.root;
        let app = Router::new().fallback(move |req: Request<Body>| handle(root.clone(), req));
        axum::serve(self.listener, app)
            .with_graceful_shutdown(shutdown)
            .await
    }
}

async fn handle(root: PathBuf, req: Request<Body>) -> Response {
    let method = req.method().clone();
    if method != Method::GET && method != Method::HEAD {
        return to_response(Reply::error(405, "only GET and HEAD"), false).await;
    }
    let path = req.uri().path().to_string();
    let reply = match tokio::task::spawn_blocking(move || respond(&root, &path)).await {
        Ok(r) => r,
        Err(e) => Reply::error(500, &format!("handler failed: {e}")),
    };
    to_response(reply, method == Method::HEAD).await
}

async fn to_response(reply: Reply, head: bool) -> Response {
    let status = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut builder = Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, reply.content_type)
        .header(header::X_CONTENT_TYPE_OPTIONS, "nosniff")
        .header(
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:",
        );
    let body = match reply.body {
        ReplyBody::Bytes(b) if reply.status == 308 => {
            let to = String::from_utf8_lossy(&b).into_owned();
            if let Ok(v) = HeaderValue::from_str(&to) {
                builder = builder.header(header::LOCATION, v);
            }
            Body::from(b)
        }
        ReplyBody::Bytes(b) => Body::from(b),
        ReplyBody::File(path) => match tokio::fs::File::open(&path).await {
            Ok(f) => {
                if let Ok(m) = f.metadata().await {
                    builder = builder.header(header::CONTENT_LENGTH, m.len());
                }
                if head {
                    Body::empty()
                } else {
                    Body::from_stream(file_chunks(f))
                }
            }
            Err(e) => {
                let r = Reply::error(500, &format!("opening {}: {e}", path.display()));
                return Box::pin(to_response(r, head)).await;
            }
        },
    };
    let body = if head { Body::empty() } else { body };
    builder.body(body).unwrap_or_else(|e| {
        let mut r = Response::new(Body::from(format!("building the response: {e}")));
        *r.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
        r
    })
}

/// A file as a stream of chunks.
fn file_chunks(
    file: tokio::fs::File,
) -> impl futures_util::Stream<Item = io::Result<Vec<u8>>> + Send + 'static {
    use tokio::io::AsyncReadExt;
    futures_util::stream::unfold(Some(file), |file| async move {
        let mut file = file?;
        let mut buf = vec![0u8; 64 * 1024];
        match file.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok(buf), Some(file)))
            }
            Err(e) => Some((Err(e), None)),
        }
    })
}

/// `faultline serve`: serves the store at `root` on `addr` until Ctrl-C.
pub fn serve_blocking(root: PathBuf, addr: SocketAddr) -> anyhow::Result<()> {
    use anyhow::Context;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the tokio runtime")?;
    rt.block_on(async move {
        let server = bind(root.clone(), addr)
            .await
            .with_context(|| format!("cannot serve on {addr}"))?;
        let local = server.local_addr().context("reading the bound address")?;
        if !local.ip().is_loopback() {
            eprintln!("warning: serving on {local}, reachable from other machines");
        }
        println!(
            "serving the store {} at http://{local}/ (Ctrl-C to stop)",
            root.display()
        );
        server
            .run(async {
                let _ = tokio::signal::ctrl_c().await;
            })
            .await
            .context("serving")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_read_as_dates() {
        assert_eq!(display_time("20261129T094000"), "2026-11-29 09:40:00");
        assert_eq!(display_time("20261129T094000-2"), "2026-11-29 09:40:00-2");
        assert_eq!(display_time("odd"), "odd");
    }

    #[test]
    fn content_types_by_extension() {
        assert_eq!(
            content_type(Path::new("a/report.html")),
            "text/html; charset=utf-8"
        );
        assert_eq!(content_type(Path::new("latency.svg")), "image/svg+xml");
        assert_eq!(content_type(Path::new("results.json")), "application/json");
        assert_eq!(
            content_type(Path::new("history.jsonl")),
            "text/plain; charset=utf-8"
        );
        assert_eq!(content_type(Path::new("junit.xml")), "application/xml");
    }
}
