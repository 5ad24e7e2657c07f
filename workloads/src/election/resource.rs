//! The fenced resource the candidates write to, kept by the harness on the controller
//! (its address is the runtime's exempt one, so no partition ever cuts it), and the
//! recorder of every candidate report, timestamped on the controller's clock.
//!
//! ```text
//! candidate nK ──TCP, JSON lines──► Resource::serve (control runtime)
//!                                     ├─ hello → a history process per incarnation
//!                                     ├─ leader → (fenced mode) its token is announced: older ones refused from now
//!                                     ├─ write → fencing decision (fenced mode) → accepted | rejected
//!                                     └─ every report → history.jsonl: invoke + ok, same instant
//! ```
//!
//! Invariants: a report is recorded (flushed) before it is answered, so the history
//! holds everything a candidate acted on; the fencing decision and the record of it
//! happen under one lock, so the history's order of writes is the resource's order;
//! only the `fenced` mode's writes are ever rejected — the other modes show what happens
//! without fencing. Each mode is its own election and its own resource.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use checkers::election::{Mode, F_LEADER, F_STEP_DOWN, F_WRITE};
use checkers::history::{Kind, Payload, PayloadError};
use harness::history::HistoryLog;
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

use super::wire::{Reply, Report};

/// An election op as the history records it (`f` is `leader`, `step-down` or `write`).
#[derive(Debug, Clone, PartialEq)]
pub struct ElectionRecord {
    pub f: &'static str,
    pub value: Value,
}

impl Payload for ElectionRecord {
    fn f(&self) -> &'static str {
        self.f
    }
    fn value(&self) -> Value {
        self.value.clone()
    }
    fn decode(f: &str, value: &Value, _kind: Kind) -> Result<Self, PayloadError> {
        let f = [F_LEADER, F_STEP_DOWN, F_WRITE]
            .into_iter()
            .find(|k| *k == f)
            .ok_or_else(|| PayloadError(format!("{f:?} is not an election op")))?;
        Ok(ElectionRecord {
            f,
            value: value.clone(),
        })
    }
}

/// How a candidate's start went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Start {
    /// Connected, not yet heard from the service.
    Connected,
    Ready,
    Unreachable(String),
}

#[derive(Debug, Default)]
struct State {
    next_process: u64,
    /// Highest token per mode: accepted in a write, or announced by a leader (fenced).
    highest: BTreeMap<Mode, u64>,
    starts: BTreeMap<String, Start>,
    /// Who believes it leads right now, per mode: candidate → token.
    leaders: BTreeMap<Mode, BTreeMap<String, u64>>,
    accepted: u64,
    rejected: u64,
    /// Writes accepted per mode.
    accepted_by_mode: BTreeMap<Mode, u64>,
}

/// The resource and recorder. Share it behind an `Arc`.
#[derive(Debug)]
pub struct Resource {
    log: Arc<HistoryLog>,
    state: Mutex<State>,
}

impl Resource {
    /// Records into `log`; history processes start at `process_base`.
    pub fn new(log: Arc<HistoryLog>, process_base: u64) -> Arc<Resource> {
        Arc::new(Resource {
            log,
            state: Mutex::new(State {
                next_process: process_base,
                ..State::default()
            }),
        })
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Accepts candidates on `listener` until the task is dropped.
    pub async fn serve(self: Arc<Self>, listener: TcpListener) {
        loop {
            match listener.accept().await {
                Ok((stream, _)) => {
                    let me = Arc::clone(&self);
                    tokio::spawn(async move {
                        if let Err(e) = me.connection(stream).await {
                            tracing::debug!("a candidate's connection ended: {e}");
                        }
                    });
                }
                Err(e) => {
                    tracing::warn!("resource: accept: {e}");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            }
        }
    }

    async fn connection(&self, stream: TcpStream) -> std::io::Result<()> {
        let _ = stream.set_nodelay(true);
        let (read, mut write) = stream.into_split();
        let mut lines = BufReader::new(read).lines();
        let mut who: Option<(String, Mode, u64)> = None;
        while let Some(line) = lines.next_line().await? {
            let reply = match serde_json::from_str::<Report>(&line) {
                Err(e) => Reply::Refused {
                    why: format!("not a report: {e}"),
                },
                Ok(Report::Hello { candidate, mode }) => {
                    let process = {
                        let mut st = self.state();
                        let p = st.next_process;
                        st.next_process += 1;
                        st.starts.insert(candidate.clone(), Start::Connected);
                        p
                    };
                    who = Some((candidate, mode, process));
                    Reply::Process { process }
                }
                Ok(report) => match &who {
                    None => Reply::Refused {
                        why: "say hello first".into(),
                    },
                    Some((candidate, mode, process)) => {
                        self.report(candidate, *mode, *process, report)?
                    }
                },
            };
            let refused = matches!(reply, Reply::Refused { .. });
            if refused {
                self.forget(&who);
            }
            let mut out = serde_json::to_string(&reply).map_err(std::io::Error::other)?;
            out.push('\n');
            write.write_all(out.as_bytes()).await?;
            if refused {
                break;
            }
        }
        self.forget(&who);
        Ok(())
    }

    /// A connection ended (the candidate died or the run is over): it leads no more as
    /// far as [`Resource::leaders`] is concerned. The history keeps what it said.
    fn forget(&self, who: &Option<(String, Mode, u64)>) {
        if let Some((candidate, mode, _)) = who {
            if let Some(l) = self.state().leaders.get_mut(mode) {
                l.remove(candidate);
            }
        }
    }

    /// Decides and records one report.
    fn report(
        &self,
        candidate: &str,
        mode: Mode,
        process: u64,
        report: Report,
    ) -> std::io::Result<Reply> {
        let base = json!({"candidate": candidate, "mode": mode.name()});
        let with = |extra: Value| {
            let mut v = base.clone();
            for (k, x) in extra.as_object().expect("an object") {
                v[k] = x.clone();
            }
            v
        };
        let mut st = self.state();
        let (f, invoked, completed, reply) = match report {
            Report::Hello { .. } => unreachable!("handled by the connection"),
            Report::Ready => {
                st.starts.insert(candidate.to_string(), Start::Ready);
                return Ok(Reply::Recorded);
            }
            Report::Unreachable { why } => {
                st.starts
                    .insert(candidate.to_string(), Start::Unreachable(why));
                return Ok(Reply::Recorded);
            }
            Report::Leader { token, lease_ms } => {
                st.leaders
                    .entry(mode)
                    .or_default()
                    .insert(candidate.to_string(), token);
                // Fenced: taking over is the new leader's first act at the storage, and
                // it announces its token there (as HDFS's quorum journal's new epoch, or
                // a lock service's storage that a new holder writes to first). From now
                // on an older token is refused, even one that arrives before the new
                // leader's first write.
                if mode == Mode::Fenced {
                    let h = st.highest.entry(mode).or_default();
                    *h = (*h).max(token);
                }
                let v = with(json!({"token": token, "lease_ms": lease_ms}));
                (F_LEADER, v.clone(), v, Reply::Recorded)
            }
            Report::StepDown { token, reason } => {
                if let Some(l) = st.leaders.get_mut(&mode) {
                    l.remove(candidate);
                }
                let v = with(json!({"token": token, "reason": reason}));
                (F_STEP_DOWN, v.clone(), v, Reply::Recorded)
            }
            Report::Write { token, lease_ms } => {
                let invoked = with(json!({"token": token, "lease_ms": lease_ms}));
                let highest = st.highest.get(&mode).copied();
                let reply = match highest {
                    Some(h) if mode == Mode::Fenced && token < h => Reply::Rejected { highest: h },
                    _ => {
                        st.highest.insert(mode, highest.unwrap_or(0).max(token));
                        Reply::Accepted
                    }
                };
                let completed = match &reply {
                    Reply::Rejected { highest } => {
                        st.rejected += 1;
                        with(
                            json!({"token": token, "lease_ms": lease_ms, "outcome": "rejected", "highest": highest}),
                        )
                    }
                    _ => {
                        st.accepted += 1;
                        *st.accepted_by_mode.entry(mode).or_default() += 1;
                        with(json!({"token": token, "lease_ms": lease_ms, "outcome": "accepted"}))
                    }
                };
                (F_WRITE, invoked, completed, reply)
            }
        };
        // Recorded under the state lock: history order is the resource's order.
        for (kind, value) in [(Kind::Invoke, invoked), (Kind::Ok, completed)] {
            self.log
                .client(process, kind, None, ElectionRecord { f, value }, None)?;
        }
        Ok(reply)
    }

    /// How each candidate's start went, by candidate name.
    pub fn starts(&self) -> BTreeMap<String, Start> {
        self.state().starts.clone()
    }

    /// The candidates that believe they lead right now, per mode (for faults on the
    /// leader candidate), with the token they lead with.
    pub fn leaders(&self) -> BTreeMap<Mode, BTreeMap<String, u64>> {
        self.state().leaders.clone()
    }

    /// Writes accepted so far, per mode.
    pub fn accepted_by_mode(&self) -> BTreeMap<Mode, u64> {
        self.state().accepted_by_mode.clone()
    }

    /// Writes accepted and rejected so far.
    pub fn writes(&self) -> (u64, u64) {
        let st = self.state();
        (st.accepted, st.rejected)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

    /// One candidate incarnation speaking the wire protocol by hand.
    struct Speaker {
        lines: tokio::io::Lines<BufReader<tokio::net::tcp::OwnedReadHalf>>,
        write: tokio::net::tcp::OwnedWriteHalf,
    }

    impl Speaker {
        async fn hello(addr: std::net::SocketAddr, candidate: &str, mode: Mode) -> Speaker {
            let (read, write) = TcpStream::connect(addr).await.unwrap().into_split();
            let mut s = Speaker {
                lines: BufReader::new(read).lines(),
                write,
            };
            let hello = Report::Hello {
                candidate: candidate.into(),
                mode,
            };
            assert!(matches!(s.say(&hello).await, Reply::Process { .. }));
            s
        }
        async fn say(&mut self, r: &Report) -> Reply {
            let mut line = serde_json::to_string(r).unwrap();
            line.push('\n');
            self.write.write_all(line.as_bytes()).await.unwrap();
            let answer = self.lines.next_line().await.unwrap().expect("an answer");
            serde_json::from_str(&answer).unwrap()
        }
    }

    fn leader(token: u64) -> Report {
        Report::Leader {
            token,
            lease_ms: None,
        }
    }
    fn write(token: u64) -> Report {
        Report::Write {
            token,
            lease_ms: None,
        }
    }

    #[tokio::test]
    async fn a_fenced_takeover_refuses_the_old_token_before_the_new_leaders_first_write() {
        let dir = std::env::temp_dir().join(format!("fl-resource-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let log = Arc::new(HistoryLog::create(&dir.join("history.jsonl"), Instant::now()).unwrap());
        let resource = Resource::new(Arc::clone(&log), 0);
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(Arc::clone(&resource).serve(listener));
        for mode in [Mode::Naive, Mode::Fenced] {
            let mut old = Speaker::hello(addr, "c1", mode).await;
            let mut new = Speaker::hello(addr, "c2", mode).await;
            assert_eq!(old.say(&leader(5)).await, Reply::Recorded);
            assert_eq!(old.say(&write(5)).await, Reply::Accepted);
            // c2 takes over; c1, not knowing, writes before c2's first write.
            assert_eq!(new.say(&leader(9)).await, Reply::Recorded);
            let late = old.say(&write(5)).await;
            assert_eq!(new.say(&write(9)).await, Reply::Accepted);
            match mode {
                Mode::Fenced => assert_eq!(late, Reply::Rejected { highest: 9 }),
                _ => assert_eq!(late, Reply::Accepted, "only fenced mode refuses"),
            }
        }
        server.abort();
        drop(resource);
        let bytes = std::fs::read(dir.join("history.jsonl")).unwrap();
        let (_, records) =
            checkers::format::read(&bytes, Some(checkers::format::Format::Jsonl)).unwrap();
        let report = checkers::election::check(&checkers::election::events(&records).unwrap(), &[]);
        let by_mode = |m: Mode| report.modes.iter().find(|r| r.mode == m).unwrap();
        assert_eq!(by_mode(Mode::Naive).stale_writes.len(), 1);
        assert!(by_mode(Mode::Fenced).stale_writes.is_empty());
        assert_eq!(by_mode(Mode::Fenced).writes_fenced, 1);
        assert!(by_mode(Mode::Fenced).valid && !by_mode(Mode::Naive).valid);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
