//! The election recipe on etcd that engineers write with a lease: grant a lease with
//! the election's TTL, create the election key under it only if it does not exist, and
//! keep the lease alive while leading. (Not the v3 election API: its `campaign` blocks
//! until leadership and hides the key's revision behind its own key prefix; the lease
//! recipe is what it is built on, with each step visible.)
//!
//! ```text
//! campaign: lease/grant(TTL) ─► kv/txn: if create_revision(key) == 0 put key=me lease ─┬─ ok: token = the txn's revision
//!                                                                                        └─ key exists: revoke the lease, not leader
//! renew:    lease/keepalive(lease) ─► TTL > 0: still leader │ TTL 0 / lease not found: lost │ no answer: unsure
//! ```
//!
//! The token is the revision that created the key: a later leader's key is created
//! only after the earlier one's lease ended and deleted it, at a larger revision.
//! etcd may keep a lease past its TTL (a new etcd leader renews every lease), which
//! only delays the next leader; it never shortens a lease.

use std::sync::Mutex;
use std::time::Duration;

use workloads::election::candidate::{Recipe, Renewal};

use super::client::{EtcdError, EtcdKv};

/// The lease + create-if-absent recipe over one candidate's etcd client.
pub struct EtcdRecipe {
    kv: EtcdKv,
    key: String,
    client: String,
    ttl: Duration,
    /// The lease the current leadership rests on.
    lease: Mutex<Option<u64>>,
}

impl EtcdRecipe {
    /// `key`: the election's key; `client`: this incarnation's identity (the value).
    pub fn new(kv: EtcdKv, key: String, client: String, ttl: Duration) -> Self {
        EtcdRecipe {
            kv,
            key,
            client,
            ttl,
            lease: Mutex::new(None),
        }
    }

    fn lease(&self) -> std::sync::MutexGuard<'_, Option<u64>> {
        self.lease.lock().unwrap_or_else(|e| e.into_inner())
    }

    async fn revoke(&self, lease: u64) {
        if let Err(e) = self.kv.each(|n| async move { n.revoke(lease).await }).await {
            tracing::debug!("revoking lease {lease}: {e}");
        }
    }
}

impl Recipe for EtcdRecipe {
    async fn campaign(&self) -> Result<Option<u64>, String> {
        // Seconds rounded up: the lease never ends before the ttl the candidate counts.
        let ttl_s = self.ttl.as_millis().div_ceil(1000).max(1) as u64;
        let lease = self
            .kv
            .each(|n| async move { n.grant(ttl_s).await })
            .await
            .map_err(|e| format!("lease grant: {e}"))?;
        let (key, client) = (self.key.as_str(), self.client.as_str());
        match self
            .kv
            .each(|n| async move { n.create_if_absent(key, client, lease).await })
            .await
        {
            Ok(Some(revision)) => {
                *self.lease() = Some(lease);
                Ok(Some(revision))
            }
            Ok(None) => {
                self.revoke(lease).await;
                Ok(None)
            }
            // Revoking deletes the key if the create happened after all.
            Err(e) => {
                self.revoke(lease).await;
                Err(format!("create-if-absent: {e}"))
            }
        }
    }

    async fn renew(&self, token: u64) -> Renewal {
        let Some(lease) = *self.lease() else {
            return Renewal::Lost("no lease".into());
        };
        match self
            .kv
            .each(|n| async move { n.keepalive(lease).await })
            .await
        {
            Ok(ttl) if ttl > 0 => Renewal::Held { token },
            Ok(_) => {
                *self.lease() = None;
                Renewal::Lost(format!("lease {lease:x} expired"))
            }
            Err(e) if e.lease_not_found() => {
                *self.lease() = None;
                Renewal::Lost(format!("lease {lease:x} expired: {e}"))
            }
            Err(e) => Renewal::Unsure(unsure(e)),
        }
    }

    fn ttl(&self) -> Duration {
        self.ttl
    }
}

fn unsure(e: EtcdError) -> String {
    format!("keepalive: {e}")
}
