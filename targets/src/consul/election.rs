//! The election recipe Consul's own documentation gives ("Application leader
//! election", its sessions and KV lock): a session with a TTL, a KV acquire of the
//! election's key with that session, renewals of the session while leading.
//!
//! ```text
//! campaign: session/create {TTL: ttl, Behavior: release, LockDelay: 0, no checks}
//!           ─► PUT kv/<key>?acquire=S ─┬─ true: GET kv/<key>?consistent, Session = S:
//!           (ConsulKv::lock_key)       │        leader, token = ModifyIndex
//!                                      └─ false: session/destroy S; not leader;
//!           wait_turn: GET kv/<key>?index=I&wait=ttl/4 (a blocking query) until the key
//!           has no session, then campaign again (at the latest after ttl/4)
//! renew:    PUT session/renew/S ─► 200: still leader │ 404: lost │ no answer: unsure
//! resign:   PUT kv/<key>?release=S, session/destroy S
//! ```
//!
//! **The token is the key's ModifyIndex after the acquire**, read back with
//! `?consistent` only while the key still names our session. It is the Raft index of
//! the acquire: a later leader's acquire can succeed only after this session released
//! the key or was invalidated (itself a Raft entry, applied after our acquire), so it is
//! a later entry of the same log with a larger index. Raft indexes never go back, not
//! across Consul leader changes, nor when the key is deleted and made again. The key's
//! `LockIndex` counts acquisitions too, but only while the key exists: a `delete`
//! session or anyone's DELETE resets it to 1 with the next acquire.
//!
//! **Choices.**
//! * `Behavior: release` (Consul's default and what its election guide uses): an
//!   invalidated leader's key stays, with no session; the next acquire takes it. With
//!   `delete` the recipe works the same (the token is not the LockIndex); release keeps
//!   the last leader's name readable.
//! * `LockDelay: 0`: Consul's default 15 s lock-delay blocks every new leader for 15 s
//!   after a leader's session is invalidated: a time-based guess, like the `lease`
//!   mode's, that a lost leader has noticed by then. Left on, it would hide the `naive`
//!   split behind pauses shorter than 2 × TTL + 15 s and add 15 s to every failover; the
//!   modes measure the defences one by one, so the recipe turns it off (`resign`
//!   releases before destroying, which never triggers it anyway).
//! * No health checks: by default a session is tied to the `serfHealth` of the node whose
//!   agent created it. Real services run their own local agent; these candidates talk to
//!   the Consul servers, so the default would end a candidate's session whenever the
//!   server it happened to call is killed or cut off, whatever the candidate does. The
//!   TTL alone ends it, as etcd's lease ends its recipe's.
//! * A campaign that does not lead destroys its session: a session that holds nothing
//!   would need renewals of its own while waiting, and a fresh session per campaign
//!   means a tenure never rests on a session that lapsed while nobody renewed it.
//!
//! **TTL.** Consul takes session TTLs of 10 s to 86400 s (`targets::registry::validate`
//! refuses an election run on Consul with `--candidate-ttl-ms` outside that). It may keep a
//! session up to twice its TTL (its timer runs 2 × TTL from the last renewal, restarted
//! in full for every session when a new Consul leader takes over), never less than the
//! TTL. So the service's lease is at least the candidate's: the `lease` mode, which steps
//! down by its own clock one TTL (less its margin) after *sending* its last renewal,
//! stays safe, and a paused `naive` leader is replaced only after up to 2 × TTL.

use std::sync::Mutex;
use std::time::Duration;

use workloads::election::candidate::{Recipe, Renewal};
use workloads::lock::LockError;

use super::{Behavior, ConsulKv, SessionSpec};

/// The session + KV acquire recipe over one candidate's Consul client.
pub struct ConsulRecipe {
    kv: ConsulKv,
    key: String,
    client: String,
    ttl: Duration,
    /// The session the current leadership rests on.
    session: Mutex<Option<String>>,
}

impl ConsulRecipe {
    /// `key`: the election's key; `client`: this incarnation's identity (the value);
    /// `ttl`: the session TTL, within Consul's 10 s..=86400 s.
    pub fn new(kv: ConsulKv, key: String, client: String, ttl: Duration) -> Self {
        ConsulRecipe {
            kv,
            key,
            client,
            ttl,
            session: Mutex::new(None),
        }
    }

    /// The session every campaign creates.
    pub fn session_spec(&self) -> SessionSpec {
        SessionSpec {
            ttl: self.ttl,
            behavior: Behavior::Release,
            lock_delay: Duration::ZERO,
            ttl_only: true,
        }
    }

    fn session(&self) -> std::sync::MutexGuard<'_, Option<String>> {
        self.session.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Returns once the election's key has no session (released, its holder's session
    /// invalidated, or deleted); never returns when the watch fails (the caller bounds
    /// the wait).
    async fn until_free(&self, wait: Duration) {
        let key = self.key.as_str();
        let mut index = 0;
        loop {
            match self
                .kv
                .each(|n| async move { n.watch(key, index, wait).await })
                .await
            {
                Ok((entry, _)) if entry.as_ref().is_none_or(|e| e.session.is_none()) => return,
                // Held: block until the key changes. An index that went backwards (a
                // Consul snapshot restore) or stood still would answer at once again.
                Ok((_, next)) if next > index => index = next,
                Ok(_) => break,
                Err(e) => {
                    tracing::debug!("watching {key}: {e}");
                    break;
                }
            }
        }
        std::future::pending::<()>().await;
    }
}

impl Recipe for ConsulRecipe {
    async fn campaign(&self) -> Result<Option<u64>, String> {
        match self
            .kv
            .lock_key(&self.key, &self.client, &self.session_spec())
            .await
        {
            Ok((session, token)) => {
                *self.session() = Some(session);
                Ok(Some(token))
            }
            Err(LockError::Busy(_)) => Ok(None),
            Err(LockError::Definite(e)) | Err(LockError::Indeterminate(e)) => Err(e),
        }
    }

    async fn renew(&self, token: u64) -> Renewal {
        let Some(session) = self.session().clone() else {
            return Renewal::Lost("no session".into());
        };
        let s = session.as_str();
        match self
            .kv
            .each(|n| async move { n.session_renew(s).await })
            .await
        {
            Ok(true) => Renewal::Held { token },
            Ok(false) => {
                *self.session() = None;
                Renewal::Lost(format!("session {session} is gone (renew: 404)"))
            }
            Err(e) => Renewal::Unsure(format!("session renew: {e}")),
        }
    }

    fn ttl(&self) -> Duration {
        self.ttl
    }

    /// Consul's guide: a candidate that did not lead watches the key (a blocking query)
    /// and campaigns again as soon as it has no session, or after `retry` at the latest;
    /// never sooner than `retry / 10`, so a key that looks free but cannot be taken
    /// (errors) does not make the candidate spin.
    async fn wait_turn(&self, retry: Duration) {
        let floor = tokio::time::Instant::now() + retry / 10;
        let _ = tokio::time::timeout(retry, self.until_free(retry)).await;
        tokio::time::sleep_until(floor).await;
    }

    async fn resign(&self) {
        let Some(session) = self.session().take() else {
            return;
        };
        // Release first: a release sets no lock-delay, an invalidation would.
        let (key, q) = (self.key.as_str(), format!("?release={session}"));
        let q = q.as_str();
        if let Err(e) = self
            .kv
            .each(|n| async move { n.put(key, "", q).await })
            .await
        {
            tracing::debug!("releasing {key}: {e}");
        }
        let s = session.as_str();
        if let Err(e) = self
            .kv
            .each(|n| async move { n.session_destroy(s).await })
            .await
        {
            tracing::debug!("destroying session {session}: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;
    use std::time::Instant;

    use super::*;
    use crate::consul::fake::FakeConsul;
    use crate::ReadMode;

    const TTL: Duration = Duration::from_secs(10);

    fn recipe(fake: &FakeConsul, client: &str) -> ConsulRecipe {
        recipe_at(fake.addr(), client)
    }

    fn recipe_at(addr: SocketAddr, client: &str) -> ConsulRecipe {
        // A short timeout: an unanswered request must come back within the test.
        let kv = ConsulKv::new(
            &[addr],
            0,
            Duration::from_millis(300),
            ReadMode::Linearizable,
        )
        .expect("a client");
        ConsulRecipe::new(kv, "faultline/election/naive".into(), client.into(), TTL)
    }

    #[tokio::test]
    async fn the_first_candidate_leads_and_the_second_does_not() {
        let fake = FakeConsul::start().await;
        let (c1, c2) = (recipe(&fake, "c1-1"), recipe(&fake, "c2-2"));
        let t1 = c1.campaign().await.expect("an answer");
        assert!(t1.is_some(), "the first candidate leads");
        assert_eq!(c2.campaign().await, Ok(None), "the second does not");
        // The second's session was destroyed; the first's is the only one, TTL only.
        let sessions = fake.sessions();
        assert_eq!(sessions.len(), 1, "{sessions:?}");
        assert_eq!(sessions[0].ttl, TTL);
        assert_eq!(sessions[0].behavior, "release");
        assert_eq!(sessions[0].lock_delay, Duration::ZERO);
        assert!(sessions[0].checks_dropped, "no serfHealth check");
        let entry = fake.entry("faultline/election/naive").expect("the key");
        assert_eq!(entry.value, "c1-1");
        assert_eq!(Some(entry.modify_index), t1);
    }

    #[tokio::test]
    async fn after_the_leaders_ttl_lapses_the_next_leads_with_a_larger_token() {
        let fake = FakeConsul::start().await;
        let (c1, c2) = (recipe(&fake, "c1-1"), recipe(&fake, "c2-2"));
        let t1 = c1.campaign().await.unwrap().expect("c1 leads");
        // Renewed within the TTL, the session outlives several TTLs.
        for _ in 0..3 {
            fake.advance(TTL);
            assert_eq!(c1.renew(t1).await, Renewal::Held { token: t1 });
        }
        assert_eq!(c2.campaign().await, Ok(None), "c1 still leads");
        // Consul may keep a session up to twice its TTL: one TTL unrenewed is not enough.
        fake.advance(TTL);
        assert_eq!(
            c2.campaign().await,
            Ok(None),
            "within 2 x TTL c1 still leads"
        );
        fake.advance(TTL + Duration::from_millis(1));
        let t2 = c2
            .campaign()
            .await
            .unwrap()
            .expect("c2 leads once c1's session lapsed");
        assert!(t2 > t1, "tokens increase: {t1} then {t2}");
        match c1.renew(t1).await {
            Renewal::Lost(why) => assert!(why.contains("gone"), "{why}"),
            other => panic!("a lapsed session's renewal must say lost: {other:?}"),
        }
        // c1 campaigns again: c2 leads, so c1 does not.
        assert_eq!(c1.campaign().await, Ok(None));
    }

    #[tokio::test]
    async fn a_destroyed_session_is_lost_and_the_next_leader_has_a_larger_token() {
        let fake = FakeConsul::start().await;
        let (c1, c2) = (recipe(&fake, "c1-1"), recipe(&fake, "c2-2"));
        let t1 = c1.campaign().await.unwrap().expect("c1 leads");
        assert_eq!(c2.campaign().await, Ok(None));
        // An operator (or Consul) destroys c1's session: an invalidation, not a release.
        let id = fake.sessions()[0].id.clone();
        fake.destroy(&id);
        let t2 = c2.campaign().await.unwrap().expect("c2 leads at once");
        assert!(t2 > t1, "tokens increase: {t1} then {t2}");
        assert!(matches!(c1.renew(t1).await, Renewal::Lost(_)));
        // c2 resigns: the key is released and its session destroyed; c1 leads again,
        // with a larger token still.
        c2.resign().await;
        assert!(fake.sessions().is_empty(), "{:?}", fake.sessions());
        let entry = fake
            .entry("faultline/election/naive")
            .expect("released, not deleted");
        assert_eq!(entry.session, None);
        let t3 = c1.campaign().await.unwrap().expect("c1 leads again");
        assert!(t3 > t2, "tokens increase: {t2} then {t3}");
    }

    #[tokio::test]
    async fn a_waiting_candidate_wakes_when_the_key_is_free_and_not_before() {
        let fake = FakeConsul::start().await;
        let (c1, c2) = (recipe(&fake, "c1-1"), recipe(&fake, "c2-2"));
        let t1 = c1.campaign().await.unwrap().expect("c1 leads");
        assert_eq!(c2.campaign().await, Ok(None));
        // Held all along: it waits its whole retry.
        let start = Instant::now();
        c2.wait_turn(Duration::from_millis(400)).await;
        assert!(start.elapsed() >= Duration::from_millis(400));
        // Freed while it waits: it wakes at once, not after its 30 s retry.
        let waiting = tokio::spawn(async move {
            let start = Instant::now();
            c2.wait_turn(Duration::from_secs(30)).await;
            (start.elapsed(), c2)
        });
        let deadline = Instant::now() + Duration::from_secs(10);
        while fake.watching() == 0 {
            assert!(Instant::now() < deadline, "c2 never watched the key");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        c1.resign().await;
        let (waited, c2) = waiting.await.unwrap();
        assert!(waited < Duration::from_secs(10), "woke after {waited:?}");
        let t2 = c2.campaign().await.unwrap().expect("c2 leads");
        assert!(t2 > t1, "{t1} then {t2}");
    }

    #[tokio::test]
    async fn a_lock_lost_before_its_index_was_read_is_no_leadership() {
        let fake = FakeConsul::start().await;
        let c1 = recipe(&fake, "c1-1");
        // The session is invalidated right after its acquire, before the read-back.
        fake.invalidate_after_next_acquire();
        let e = c1.campaign().await.expect_err("no token for a lost lock");
        assert!(e.contains("lost"), "{e}");
        let c2 = recipe(&fake, "c2-2");
        assert!(c2.campaign().await.unwrap().is_some(), "the key is free");
    }

    #[tokio::test]
    async fn an_unanswered_renewal_is_unsure_and_an_unreachable_campaign_an_error() {
        let fake = FakeConsul::start().await;
        let c1 = recipe(&fake, "c1-1");
        let t1 = c1.campaign().await.unwrap().expect("c1 leads");
        fake.stall();
        match c1.renew(t1).await {
            Renewal::Unsure(why) => assert!(why.contains("session renew"), "{why}"),
            other => panic!("an unanswered renewal is unsure: {other:?}"),
        }
        // Nobody listening: the campaign has no answer (the start timeout's case).
        let closed = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap()
        };
        let e = recipe_at(closed, "c3-3").campaign().await.unwrap_err();
        assert!(e.contains("session create"), "{e}");
    }

    #[tokio::test]
    async fn the_lock_workloads_client_takes_its_locks_the_same_way() {
        use workloads::lock::Lock;
        let fake = FakeConsul::start().await;
        let kv = ConsulKv::new(
            &[fake.addr()],
            0,
            Duration::from_millis(300),
            ReadMode::Linearizable,
        )
        .unwrap();
        let ttl = Duration::from_secs(2);
        let t1 = kv.acquire("l", "a", ttl).await.expect("a holds l");
        assert!(matches!(
            kv.acquire("l", "b", ttl).await,
            Err(LockError::Busy(_))
        ));
        // Its sessions keep Consul's default checks and get at least 10 s.
        let s = &fake.sessions()[0];
        assert_eq!((s.ttl, s.behavior.as_str()), (TTL, "delete"));
        assert!(!s.checks_dropped);
        kv.release("l", "a", t1).await.expect("released");
        assert_eq!(fake.entry("faultline-locks/l"), None, "delete behaviour");
        let t2 = kv.acquire("l", "b", ttl).await.expect("b holds l");
        assert!(t2 > t1, "{t1} then {t2}");
    }
}
