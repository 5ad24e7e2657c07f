//! The election recipe ZooKeeper's own documentation gives ("Recipes and Solutions:
//! Leader Election"), as candidate services write it: an ephemeral sequential znode
//! under the election's path, the lowest one leads, every other candidate watches the
//! next-lower one, and the session timeout is the lease.
//!
//! ```text
//! campaign: session (timeout = ttl) ─► create EPHEMERAL_SEQUENTIAL <dir>/<client>-NNNNNNNNNN
//!           (once per session; a create whose answer was lost is found again by its prefix)
//!           ─► getChildren(dir) ─┬─ ours lowest: leader, token = our znode's czxid
//!                                └─ exists(predecessor, watch) ─► not leader; wait_turn
//!                                   wakes on the watch (predecessor deleted) or after ttl/4
//! renew:    session expired (the client's event) ─► lost
//!           setData(our znode) ─► ok: still leader │ NoNode / SessionExpired: lost │
//!                                 no answer: unsure
//! ```
//!
//! **The token is the znode's czxid**, the zxid of the transaction that created it. A
//! later leader's znode was created after every earlier leader's: when the earlier one
//! listed the children and found itself lowest, every znode created before its own was
//! already in that list (its server had applied its own create, so everything ordered
//! before it), so a znode that comes to lead later is one ordered after it. zxids order
//! every transaction of the ensemble, so the czxids of successive leaders strictly
//! increase. The sequence number increases for the same reason, but only within one
//! parent and as a signed 32-bit counter that wraps; the czxid is 64 bits and global.
//!
//! **Why renew is a write.** A member cut off from its leader keeps answering reads from
//! its local state until `syncLimit` runs out (2 s here), while the leader expires the
//! sessions it no longer hears about; a read answered by such a member would extend a
//! `lease` candidate's own-clock lease past the service's. `setData` on our own znode
//! goes through the leader, which checks the session first, so an answer means the
//! session was alive at the leader after the candidate sent it. The `lease` mode's
//! margin covers the rest: a follower reports its sessions' activity to the leader every
//! half tick (100 ms with the target's 200 ms tick).
//!
//! **Naive and the session.** The client library ends a session by itself when it has
//! been disconnected for 7/5 of the negotiated timeout, and the server ends it after the
//! timeout without a touch; either way the candidate hears "session expired" on its next
//! renewal, which is when a naive candidate steps down. A paused candidate wakes with its
//! session gone but has not heard so yet: its next write comes first.

use std::sync::Mutex;
use std::time::Duration;

use workloads::election::candidate::{Recipe, Renewal};
use zookeeper_client as zk;

/// Where every election lives: `/faultline-election/<election name, escaped>`.
pub const ELECTION_ROOT: &str = "/faultline-election";

/// Where a candidate's znode stands among the election's children.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Standing {
    /// Ours has the lowest sequence number: we lead.
    Lowest,
    /// The next-lower znode, to watch.
    Behind(String),
    /// Ours is not among them (its session ended).
    Missing,
}

/// The sequence number ZooKeeper appended to a child's name (`%010d`, after the last `-`).
pub fn sequence(child: &str) -> Option<i64> {
    let (_, seq) = child.rsplit_once('-')?;
    seq.parse().ok()
}

/// Where `mine` stands among `children` (names without the directory). Children
/// without a sequence number are not candidates and are ignored.
pub fn standing(children: &[String], mine: &str) -> Standing {
    let Some(own) = sequence(mine) else {
        return Standing::Missing;
    };
    if !children.iter().any(|c| c == mine) {
        return Standing::Missing;
    }
    let predecessor = children
        .iter()
        .filter_map(|c| sequence(c).map(|s| (s, c)))
        .filter(|(s, _)| *s < own)
        .max_by_key(|(s, _)| *s);
    match predecessor {
        None => Standing::Lowest,
        Some((_, c)) => Standing::Behind(c.clone()),
    }
}

/// Our znode in the current session.
#[derive(Debug, Clone)]
struct Own {
    /// Full path.
    path: String,
    czxid: i64,
}

#[derive(Default)]
struct State {
    client: Option<zk::Client>,
    own: Option<Own>,
}

/// The ephemeral-sequential recipe over one candidate's session.
pub struct ZkRecipe {
    /// `host:port,…` of every member (the client library shuffles them).
    hosts: String,
    dir: String,
    /// This incarnation's znode name prefix (`<client>-`): finds a znode whose create
    /// was answered by nobody (Curator's "protected" mode does the same).
    prefix: String,
    ttl: Duration,
    /// Bounds each request (and establishing a session).
    hop: Duration,
    state: tokio::sync::Mutex<State>,
    /// The watch on the predecessor, set by the last campaign that did not lead.
    watch: Mutex<Option<zk::OneshotWatcher>>,
}

impl ZkRecipe {
    /// `hosts`: every member's client address; `election`: the election's name;
    /// `client`: this incarnation's identity (no `/`); `hop`: bounds each request.
    pub fn new(
        hosts: &[std::net::SocketAddr],
        election: &str,
        client: &str,
        ttl: Duration,
        hop: Duration,
    ) -> ZkRecipe {
        let hosts = hosts
            .iter()
            .map(|a| a.to_string())
            .collect::<Vec<_>>()
            .join(",");
        ZkRecipe {
            hosts,
            dir: format!("{ELECTION_ROOT}/{}", flat(election)),
            prefix: format!("{}-", client.replace('/', "_")),
            ttl,
            hop,
            state: tokio::sync::Mutex::new(State::default()),
            watch: Mutex::new(None),
        }
    }

    fn watch(&self) -> std::sync::MutexGuard<'_, Option<zk::OneshotWatcher>> {
        self.watch.lock().unwrap_or_else(|e| e.into_inner())
    }

    async fn bounded<T>(
        &self,
        what: &str,
        f: impl std::future::Future<Output = Result<T, zk::Error>>,
    ) -> Result<T, ZkCall> {
        match tokio::time::timeout(self.hop, f).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(ZkCall::Error(format!("{what}: {e}"), e)),
            Err(_) => Err(ZkCall::NoAnswer(format!(
                "{what}: no answer within {:?}",
                self.hop
            ))),
        }
    }

    /// The live session, or a new one (which has no znode of ours yet).
    async fn session(&self, st: &mut State) -> Result<zk::Client, String> {
        if let Some(c) = &st.client {
            if !c.state().is_terminated() {
                return Ok(c.clone());
            }
        }
        st.client = None;
        st.own = None;
        let connect = zk::Client::connector()
            .with_session_timeout(self.ttl)
            .with_fail_eagerly()
            .connect(&self.hosts);
        let c = match tokio::time::timeout(self.hop * 3, connect).await {
            Ok(Ok(c)) => c,
            Ok(Err(e)) => return Err(format!("no session with {}: {e}", self.hosts)),
            Err(_) => {
                return Err(format!(
                    "no session with {} within {:?}",
                    self.hosts,
                    self.hop * 3
                ))
            }
        };
        st.client = Some(c.clone());
        Ok(c)
    }

    /// Our znode in this session: found by its prefix (a create whose answer was lost),
    /// or created.
    async fn own(&self, c: &zk::Client, st: &mut State) -> Result<Own, String> {
        if let Some(own) = &st.own {
            return Ok(own.clone());
        }
        let persistent = zk::CreateMode::Persistent.with_acls(zk::Acls::anyone_all());
        for p in [ELECTION_ROOT, self.dir.as_str()] {
            match self.bounded("create", c.create(p, b"", &persistent)).await {
                Ok(_) | Err(ZkCall::Error(_, zk::Error::NodeExists)) => {}
                Err(e) => return Err(e.to_string()),
            }
        }
        let children = self
            .bounded("getChildren", c.list_children(&self.dir))
            .await
            .map_err(|e| e.to_string())?;
        // Only a znode of this very session: one left by an earlier session of ours is
        // dead or dying, and a member behind the others may still list it.
        if let Some(name) = children.iter().find(|n| n.starts_with(&self.prefix)) {
            let path = format!("{}/{name}", self.dir);
            let stat = self
                .bounded("exists", c.check_stat(&path))
                .await
                .map_err(|e| e.to_string())?;
            if let Some(stat) = stat.filter(|s| s.ephemeral_owner == c.session_id().0) {
                let own = Own {
                    path,
                    czxid: stat.czxid,
                };
                st.own = Some(own.clone());
                return Ok(own);
            }
        }
        let ephemeral = zk::CreateMode::EphemeralSequential.with_acls(zk::Acls::anyone_all());
        let prefix = format!("{}/{}", self.dir, self.prefix);
        let (stat, seq) = self
            .bounded(
                "create",
                c.create(&prefix, self.prefix.as_bytes(), &ephemeral),
            )
            .await
            .map_err(|e| e.to_string())?;
        let own = Own {
            path: format!("{prefix}{seq}"),
            czxid: stat.czxid,
        };
        st.own = Some(own.clone());
        Ok(own)
    }
}

/// How one bounded request went.
#[derive(Debug)]
enum ZkCall {
    Error(String, zk::Error),
    NoAnswer(String),
}

impl std::fmt::Display for ZkCall {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ZkCall::Error(s, _) | ZkCall::NoAnswer(s) => f.write_str(s),
        }
    }
}

/// A name as one znode: `%` and `/` escaped.
fn flat(name: &str) -> String {
    name.replace('%', "%25").replace('/', "%2F")
}

fn session_over(e: &zk::Error) -> bool {
    matches!(
        e,
        zk::Error::SessionExpired | zk::Error::SessionMoved | zk::Error::ClientClosed
    )
}

impl Recipe for ZkRecipe {
    async fn campaign(&self) -> Result<Option<u64>, String> {
        let mut st = self.state.lock().await;
        let c = self.session(&mut st).await?;
        let own = match self.own(&c, &mut st).await {
            Ok(own) => own,
            Err(e) => return Err(e),
        };
        let mine = own
            .path
            .rsplit_once('/')
            .map(|(_, n)| n.to_string())
            .unwrap_or_default();
        // A predecessor can go between the listing and the watch: list again.
        for _ in 0..8 {
            let children = self
                .bounded("getChildren", c.list_children(&self.dir))
                .await
                .map_err(|e| e.to_string())?;
            match standing(&children, &mine) {
                Standing::Lowest => return Ok(Some(own.czxid as u64)),
                Standing::Missing => {
                    // The session that owned it ended: the next campaign starts over.
                    st.own = None;
                    return Err(format!("{} is gone (its session ended)", own.path));
                }
                Standing::Behind(pred) => {
                    let path = format!("{}/{pred}", self.dir);
                    match self
                        .bounded("exists+watch", c.check_and_watch_stat(&path))
                        .await
                    {
                        Ok((Some(_), watcher)) => {
                            *self.watch() = Some(watcher);
                            return Ok(None);
                        }
                        Ok((None, _)) => continue,
                        Err(e) => return Err(e.to_string()),
                    }
                }
            }
        }
        Err(format!(
            "the children of {} kept changing under the campaign",
            self.dir
        ))
    }

    async fn renew(&self, token: u64) -> Renewal {
        let mut st = self.state.lock().await;
        let Some(c) = st.client.clone() else {
            return Renewal::Lost("no session".into());
        };
        let state = c.state();
        if state.is_terminated() {
            st.own = None;
            st.client = None;
            return Renewal::Lost(format!("session {state}"));
        }
        let Some(own) = st.own.clone() else {
            return Renewal::Lost("no znode in this session".into());
        };
        match self
            .bounded(
                "setData",
                c.set_data(&own.path, self.prefix.as_bytes(), None),
            )
            .await
        {
            Ok(_) => Renewal::Held { token },
            Err(ZkCall::Error(why, zk::Error::NoNode)) => {
                st.own = None;
                Renewal::Lost(format!("{} is gone: {why}", own.path))
            }
            Err(ZkCall::Error(why, e)) if session_over(&e) => {
                // The next campaign needs a new session, whatever state this one shows.
                st.own = None;
                st.client = None;
                Renewal::Lost(why)
            }
            Err(e) => Renewal::Unsure(e.to_string()),
        }
    }

    async fn wait_turn(&self, retry: Duration) {
        let watcher = self.watch().take();
        match watcher {
            // The predecessor's deletion (or the session's end) wakes us early.
            Some(w) => {
                let _ = tokio::time::timeout(retry, w.changed()).await;
            }
            None => tokio::time::sleep(retry).await,
        }
    }

    /// Deletes our znode, so a candidate that stepped down by its own clock (lease
    /// mode) leads again only with a new znode, and a new, larger token; when the
    /// delete gets no answer, the session is dropped instead (closed if the server can
    /// hear it, otherwise it expires, and its znode with it).
    async fn resign(&self) {
        let mut st = self.state.lock().await;
        let (Some(c), Some(own)) = (st.client.clone(), st.own.take()) else {
            return;
        };
        match self.bounded("delete", c.delete(&own.path, None)).await {
            Ok(()) | Err(ZkCall::Error(_, zk::Error::NoNode)) => {}
            Err(e) => {
                tracing::debug!("resigning: {e}; dropping the session");
                st.client = None;
            }
        }
    }

    fn ttl(&self) -> Duration {
        self.ttl
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn the_lowest_sequence_leads_and_the_others_watch_the_next_lower() {
        let children = names(&[
            "c2-77-0000000012",
            "c1-42-0000000003",
            "c3-9-0000000007",
            "stray",
        ]);
        assert_eq!(standing(&children, "c1-42-0000000003"), Standing::Lowest);
        assert_eq!(
            standing(&children, "c3-9-0000000007"),
            Standing::Behind("c1-42-0000000003".into())
        );
        // The next-lower, not the lowest.
        assert_eq!(
            standing(&children, "c2-77-0000000012"),
            Standing::Behind("c3-9-0000000007".into())
        );
        assert_eq!(standing(&children, "c4-1-0000000020"), Standing::Missing);
    }

    #[test]
    fn the_sequence_is_the_number_after_the_last_dash() {
        assert_eq!(sequence("c1-4242-0000000031"), Some(31));
        assert_eq!(sequence("lock"), None);
        assert_eq!(sequence("c1-x"), None);
    }
}
