//! A candidate service: campaigns through an election recipe on the coordination
//! system, and while it believes it leads, writes to the fenced resource with its token
//! at a steady rate, reporting every belief change and write.
//!
//! ```text
//!            ┌──────────── campaign (every ttl/4 while someone else leads) ◄──────────┐
//!            ▼                                                                        │
//!   Recipe::campaign ─► Some(token) ─► report leader ─► loop:                         │
//!                                        ├─ lease mode: own-clock lease ran out? ─────┤ step-down
//!                                        ├─ every ttl/3: Recipe::renew (beside the writes,
//!                                        │    never holding one back) ─► Lost ────────┤ step-down
//!                                        │                              └► Unsure: naive trusts on
//!                                        └─ every write interval: write(token) to the resource
//! ```
//!
//! Modes: `naive` trusts its leadership until the service says otherwise (a renew
//! answered "someone else holds it"); `lease` also steps down once its lease could have
//! run out, by its own clock, counted from when it *sent* the request that granted or
//! renewed it, minus a safety margin; `fenced` is `naive`, and the resource rejects
//! writes with a token older than one it accepted. A pause between the lease check and
//! the write it guards is the window `lease` cannot close (see docs/election.md).

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::time::{Duration, Instant};

use checkers::election::Mode;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;

use super::wire::{Reply, Report};
use crate::lock::{Lock, LockError};

/// How renewing a leadership went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Renewal {
    /// Still held; the token to write with from now on.
    Held { token: u64 },
    /// The service said someone else leads (definite).
    Lost(String),
    /// No definite answer (timeout, unreachable node).
    Unsure(String),
}

/// An election recipe on one coordination system.
pub trait Recipe: Send + Sync + 'static {
    /// One attempt to become leader: `Ok(Some(token))` leads, `Ok(None)` someone else
    /// does, `Err` no answer from the service.
    fn campaign(&self) -> impl Future<Output = Result<Option<u64>, String>> + Send;
    /// Keeps the leadership granted with `token` alive.
    fn renew(&self, token: u64) -> impl Future<Output = Renewal> + Send;
    /// The lease the service grants.
    fn ttl(&self) -> Duration;
    /// Waits before the next campaign, after one that did not lead: `retry` by default;
    /// a recipe with a watch on whoever is ahead wakes as soon as that one is gone.
    fn wait_turn(&self, retry: Duration) -> impl Future<Output = ()> + Send {
        tokio::time::sleep(retry)
    }
    /// Gives up whatever the last leadership rested on, after the candidate stepped
    /// down (by default nothing: a lock or lease the service still holds runs out).
    fn resign(&self) -> impl Future<Output = ()> + Send {
        std::future::ready(())
    }
}

/// The bundled systems' recipe: their lock API with a lease. Campaigning is acquiring
/// the election's lock; renewing is acquiring it again as the same client (the service
/// re-grants it with a fresh lease and a new, larger token); someone else holding it
/// means leadership was lost.
pub struct LockRecipe<L> {
    lock: L,
    name: String,
    client: String,
    ttl: Duration,
}

impl<L: Lock> LockRecipe<L> {
    /// `name`: the election's lock; `client`: this incarnation's identity.
    pub fn new(lock: L, name: String, client: String, ttl: Duration) -> Self {
        LockRecipe {
            lock,
            name,
            client,
            ttl,
        }
    }
}

impl<L: Lock> Recipe for LockRecipe<L> {
    async fn campaign(&self) -> Result<Option<u64>, String> {
        match self.lock.acquire(&self.name, &self.client, self.ttl).await {
            Ok(token) => Ok(Some(token)),
            Err(LockError::Busy(_)) => Ok(None),
            Err(LockError::Definite(e)) | Err(LockError::Indeterminate(e)) => Err(e),
        }
    }

    async fn renew(&self, _token: u64) -> Renewal {
        match self.lock.acquire(&self.name, &self.client, self.ttl).await {
            Ok(token) => Renewal::Held { token },
            Err(LockError::Busy(holder)) => Renewal::Lost(format!("the lock is held by {holder}")),
            Err(LockError::Definite(e)) | Err(LockError::Indeterminate(e)) => Renewal::Unsure(e),
        }
    }

    fn ttl(&self) -> Duration {
        self.ttl
    }
}

/// A candidate's settings (plain data: the `faultline node candidate` flags).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CandidateConfig {
    pub name: String,
    pub mode: Mode,
    /// The resource on the controller.
    pub resource: SocketAddr,
    pub write_interval: Duration,
    /// Lease mode steps down this long before its own-clock lease ends.
    pub lease_margin: Duration,
    /// How long the service may take to answer the first campaign.
    pub start_timeout: Duration,
}

/// Why a candidate stopped.
#[derive(Debug, thiserror::Error)]
pub enum CandidateError {
    #[error("candidate {name}: the resource at {addr}: {source}")]
    Resource {
        name: String,
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("candidate {name}: cannot reach the coordination service within {waited:?}: {last}")]
    Unreachable {
        name: String,
        waited: Duration,
        last: String,
    },
}

struct Link {
    lines: Lines<BufReader<OwnedReadHalf>>,
    write: OwnedWriteHalf,
}

impl Link {
    async fn send(&mut self, report: &Report) -> std::io::Result<Reply> {
        let mut line = serde_json::to_string(report).map_err(std::io::Error::other)?;
        line.push('\n');
        self.write.write_all(line.as_bytes()).await?;
        let answer = self.lines.next_line().await?.ok_or_else(|| {
            std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "the resource hung up")
        })?;
        match serde_json::from_str(&answer).map_err(std::io::Error::other)? {
            Reply::Refused { why } => Err(std::io::Error::other(format!("refused: {why}"))),
            reply => Ok(reply),
        }
    }
}

/// Runs the candidate until the resource goes away (the run ended) or an error.
pub async fn run<R: Recipe>(cfg: CandidateConfig, recipe: R) -> Result<(), CandidateError> {
    let io = |source| CandidateError::Resource {
        name: cfg.name.clone(),
        addr: cfg.resource,
        source,
    };
    let stream = TcpStream::connect(cfg.resource).await.map_err(io)?;
    let _ = stream.set_nodelay(true);
    let (read, write) = stream.into_split();
    let mut link = Link {
        lines: BufReader::new(read).lines(),
        write,
    };
    link.send(&Report::Hello {
        candidate: cfg.name.clone(),
        mode: cfg.mode,
    })
    .await
    .map_err(io)?;

    // The first answer from the service, within the start timeout.
    let started = Instant::now();
    let first = loop {
        match recipe.campaign().await {
            Ok(v) => break v,
            Err(last) if started.elapsed() >= cfg.start_timeout => {
                let _ = link.send(&Report::Unreachable { why: last.clone() }).await;
                return Err(CandidateError::Unreachable {
                    name: cfg.name.clone(),
                    waited: cfg.start_timeout,
                    last,
                });
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    };
    link.send(&Report::Ready).await.map_err(io)?;
    let retry = (recipe.ttl() / 4).max(Duration::from_millis(50));
    let mut granted = first.map(|t| (t, started));
    loop {
        let (token, sent) = match granted.take() {
            Some(g) => g,
            None => {
                recipe.wait_turn(retry).await;
                let sent = Instant::now();
                match recipe.campaign().await {
                    Ok(Some(token)) => (token, sent),
                    Ok(None) | Err(_) => continue,
                }
            }
        };
        lead(&cfg, &recipe, &mut link, token, sent)
            .await
            .map_err(io)?;
        recipe.resign().await;
    }
}

/// One tenure: from the grant (requested at `sent`) to the step-down.
async fn lead<R: Recipe>(
    cfg: &CandidateConfig,
    recipe: &R,
    link: &mut Link,
    first: u64,
    sent: Instant,
) -> std::io::Result<()> {
    let ttl = recipe.ttl();
    let lease = cfg.mode == Mode::Lease;
    // Own-clock lease end, less the safety margin.
    let mut deadline = sent + ttl.saturating_sub(cfg.lease_margin);
    let left = |deadline: Instant| {
        lease.then(|| {
            deadline
                .saturating_duration_since(Instant::now())
                .as_millis() as u64
        })
    };
    link.send(&Report::Leader {
        token: first,
        lease_ms: left(deadline),
    })
    .await?;
    let mut token = first;
    let renew_every = ttl / 3;
    let mut next_renew = Instant::now() + renew_every;
    let mut next_write = Instant::now();
    // The renewal in flight, with when it was sent. It runs beside the writes, as a
    // service's session thread runs beside its work thread: a slow or hanging renewal
    // never holds a write back.
    let mut renewal: Option<Pin<Box<dyn Future<Output = Renewal> + Send + '_>>> = None;
    let mut renewal_sent = Instant::now();
    loop {
        if lease && Instant::now() >= deadline {
            return step_down(link, first, "its lease ran out by its own clock").await;
        }
        // Work before keepalive: a service that wakes from a pause finishes the write
        // it was about to make before its keepalive can tell it anything (even an
        // answer that was already waiting when it woke).
        if Instant::now() >= next_write {
            link.send(&Report::Write {
                token,
                lease_ms: left(deadline),
            })
            .await?;
            next_write += cfg.write_interval;
            if next_write < Instant::now() {
                // Behind (e.g. after a pause): one write now, then the steady rate.
                next_write = Instant::now() + cfg.write_interval;
            }
            continue;
        }
        if renewal.is_none() && Instant::now() >= next_renew {
            renewal_sent = Instant::now();
            renewal = Some(Box::pin(recipe.renew(token)));
        }
        let mut wake = next_write;
        if renewal.is_none() {
            wake = wake.min(next_renew);
        }
        if lease {
            wake = wake.min(deadline);
        }
        let timer = tokio::time::sleep_until(tokio::time::Instant::from_std(wake));
        let answer = match renewal.as_mut() {
            None => {
                timer.await;
                continue;
            }
            Some(r) => tokio::select! {
                biased;
                () = timer => continue,
                answer = r => answer,
            },
        };
        renewal = None;
        match answer {
            Renewal::Held { token: t } => {
                token = t;
                deadline = renewal_sent + ttl.saturating_sub(cfg.lease_margin);
            }
            Renewal::Lost(why) => {
                return step_down(link, first, &format!("the service said so: {why}")).await
            }
            Renewal::Unsure(_) => {}
        }
        next_renew = Instant::now() + renew_every;
    }
}

async fn step_down(link: &mut Link, token: u64, reason: &str) -> std::io::Result<()> {
    link.send(&Report::StepDown {
        token,
        reason: reason.to_string(),
    })
    .await
    .map(drop)
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::Arc;

    use harness::history::HistoryLog;

    use super::*;
    use crate::election::resource::{Resource, Start};

    /// A service that never answers.
    struct Silent;

    impl Recipe for Silent {
        async fn campaign(&self) -> Result<Option<u64>, String> {
            Err("connection refused".into())
        }
        async fn renew(&self, _: u64) -> Renewal {
            Renewal::Unsure("connection refused".into())
        }
        fn ttl(&self) -> Duration {
            Duration::from_millis(400)
        }
    }

    /// A service that grants at once, with a token that grows on every renewal.
    struct Granting(AtomicU64);

    impl Recipe for Granting {
        async fn campaign(&self) -> Result<Option<u64>, String> {
            Ok(Some(self.0.fetch_add(1, Ordering::SeqCst)))
        }
        async fn renew(&self, _: u64) -> Renewal {
            Renewal::Held {
                token: self.0.fetch_add(1, Ordering::SeqCst),
            }
        }
        fn ttl(&self) -> Duration {
            Duration::from_millis(300)
        }
    }

    /// Grants at once; its renewals never come back (a keepalive lost in a partition).
    struct Hanging;

    impl Recipe for Hanging {
        async fn campaign(&self) -> Result<Option<u64>, String> {
            Ok(Some(1))
        }
        async fn renew(&self, _: u64) -> Renewal {
            std::future::pending().await
        }
        fn ttl(&self) -> Duration {
            Duration::from_millis(150)
        }
    }

    async fn resource(dir: &std::path::Path) -> (Arc<Resource>, SocketAddr) {
        let log = Arc::new(HistoryLog::create(&dir.join("history.jsonl"), Instant::now()).unwrap());
        let resource = Resource::new(log, 0);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(Arc::clone(&resource).serve(listener));
        (resource, addr)
    }

    fn config(name: &str, mode: Mode, resource: SocketAddr) -> CandidateConfig {
        CandidateConfig {
            name: name.into(),
            mode,
            resource,
            write_interval: Duration::from_millis(20),
            lease_margin: Duration::from_millis(50),
            start_timeout: Duration::from_millis(300),
        }
    }

    fn tempdir(name: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("fl-cand-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[tokio::test]
    async fn a_candidate_that_cannot_reach_the_service_is_an_error_naming_it() {
        let dir = tempdir("silent");
        let (resource, addr) = resource(&dir).await;
        let err = run(config("c7", Mode::Naive, addr), Silent)
            .await
            .unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.starts_with("candidate c7: cannot reach the coordination service"),
            "{msg}"
        );
        assert!(msg.contains("connection refused"), "{msg}");
        assert_eq!(
            resource.starts().get("c7"),
            Some(&Start::Unreachable("connection refused".into()))
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test]
    async fn a_renewal_that_never_returns_holds_no_write_back() {
        let dir = tempdir("hanging");
        let (resource, addr) = resource(&dir).await;
        let task = tokio::spawn(run(config("c2", Mode::Naive, addr), Hanging));
        // 20 writes at 20 ms take 0.4 s: eight renewal periods of 50 ms, every one of
        // them after the first renewal hung.
        let deadline = Instant::now() + Duration::from_secs(10);
        while resource.writes().0 < 20 {
            assert!(
                Instant::now() < deadline,
                "writes stopped behind a renewal: {} within 10 s",
                resource.writes().0
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        task.abort();
        let _ = task.await;
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test]
    async fn a_leader_reports_before_it_writes_and_lease_mode_carries_its_lease() {
        let dir = tempdir("granting");
        let (resource, addr) = resource(&dir).await;
        let task = tokio::spawn(run(
            config("c1", Mode::Lease, addr),
            Granting(AtomicU64::new(5)),
        ));
        let deadline = Instant::now() + Duration::from_secs(10);
        while resource.writes().0 < 20 {
            assert!(Instant::now() < deadline, "no writes within 10 s");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        task.abort();
        let _ = task.await;
        let bytes = std::fs::read(dir.join("history.jsonl")).unwrap();
        let (_, records) =
            checkers::format::read(&bytes, Some(checkers::format::Format::Jsonl)).unwrap();
        let events = checkers::election::events(&records).unwrap();
        assert!(matches!(events[0].what, checkers::election::What::Leader));
        assert_eq!(events[0].token, 5);
        // Renewals bring larger tokens; every lease-mode write says what lease is left.
        let writes: Vec<_> = events[1..]
            .iter()
            .filter(|e| e.lease_ms.is_some())
            .collect();
        assert!(writes.len() >= 20);
        assert!(writes.iter().all(|e| e.lease_ms.unwrap() <= 250));
        assert!(writes.last().unwrap().token > 5, "renewed tokens are used");
        let report = checkers::election::check(&events, &[]);
        assert!(report.modes[0].valid);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
