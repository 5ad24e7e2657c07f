//! The follower's side (ZooKeeper's `Learner` and `Follower`).
//!
//! ```text
//! FOLLOWERINFO ─► LEADERINFO(e'): e' > acceptedEpoch: persist it, ACKEPOCH(currentEpoch)
//!                                 e' = acceptedEpoch: ACKEPOCH(−1), not an ack
//!                                 e' < acceptedEpoch: abandon this leader
//! NEWLEADER(sync) ─► apply TRUNC/DIFF/SNAP, make it durable, then currentEpoch = e', then ACK
//! UPTODATE ─► commit, serve.  PROPOSAL ─► log (durable) then ACK.  COMMIT ─► apply.
//! ```
//! The channel to the leader is expected in order: a PROPOSAL that does not follow the
//! last logged zxid, or a COMMIT or PING for a zxid this node lacks, means messages were
//! lost, and the follower goes back to LOOKING to rejoin and re-sync, as a ZooKeeper
//! follower does when its connection breaks.

use super::{Follow, ReadWait, Zab};
use crate::zab::bug::Bug;
use crate::zab::io::Command;
use crate::zab::message::{Body, Sync};
use crate::zab::types::{Epoch, NodeId, Phase, Role, Txn, Zxid};

impl Zab {
    pub(super) fn become_follower(&mut self, leader: NodeId) {
        self.role = Role::Following;
        self.phase = Phase::Discovery;
        self.leader = Some(leader);
        self.lead = None;
        self.follow = Some(Follow {
            acked_epoch: false,
            heard: 0,
            resend_elapsed: 0,
        });
        self.send_follower_info();
    }

    fn send_follower_info(&mut self) {
        let leader = self.leader.clone().expect("following someone");
        let body = Body::FollowerInfo {
            accepted_epoch: self.accepted_epoch,
            last_zxid: self.last_zxid(),
        };
        self.send(leader, body);
    }

    fn follow_mut(&mut self) -> &mut Follow {
        self.follow
            .as_mut()
            .expect("only a follower keeps follower state")
    }

    pub(super) fn follower_tick(&mut self) {
        let limit = if self.phase == Phase::Broadcast {
            self.cfg.sync_ticks
        } else {
            self.cfg.init_ticks
        };
        let heartbeat = self.cfg.heartbeat_ticks;
        let f = self.follow_mut();
        f.heard += 1;
        if f.heard > limit {
            self.start_election();
            return;
        }
        if !f.acked_epoch {
            f.resend_elapsed += 1;
            if f.resend_elapsed >= heartbeat {
                f.resend_elapsed = 0;
                self.send_follower_info();
            }
        }
    }

    /// Messages from the leader renew the follower's patience.
    fn heard_from_leader(&mut self) {
        self.follow_mut().heard = 0;
    }

    /// The leader's messages or this node's log disagree: rejoin and re-sync.
    fn lost_track(&mut self) {
        self.start_election();
    }

    pub(super) fn on_leader_info(&mut self, epoch: Epoch) {
        self.heard_from_leader();
        if self.follow_mut().acked_epoch {
            return;
        }
        if epoch < self.accepted_epoch {
            // A leader of an epoch older than one this node accepted: abandon it.
            self.lost_track();
            return;
        }
        let current_epoch = if epoch > self.accepted_epoch {
            self.accepted_epoch = epoch;
            // Bug::ForgetAcceptedEpoch: accepted in memory only; a restart forgets it.
            if !self.has(Bug::ForgetAcceptedEpoch) {
                self.emit(Command::PersistAcceptedEpoch(epoch), false);
            }
            Some(self.current_epoch)
        } else {
            // Already accepted (from another would-be leader, or this one before):
            // ZooKeeper answers −1, which must not count as an ack.
            None
        };
        self.follow_mut().acked_epoch = true;
        let leader = self.leader.clone().expect("following someone");
        let body = Body::AckEpoch {
            current_epoch,
            last_zxid: self.last_zxid(),
        };
        self.send_after_writes(leader, body);
    }

    /// Everything the leader sends once discovery is over.
    pub(super) fn on_leader_message(&mut self, body: Body) {
        self.heard_from_leader();
        match body {
            Body::NewLeader { sync, through } => self.on_new_leader(sync, through),
            Body::UpToDate { commit } => self.on_up_to_date(commit),
            Body::Proposal { prev, txn } => self.on_proposal(prev, txn),
            Body::Commit { zxid } => self.on_commit(zxid),
            Body::Ping { round, commit } => self.on_ping(round, commit),
            Body::SyncDone { token, zxid } => self.on_sync_done(token, zxid),
            Body::Notification { .. }
            | Body::FollowerInfo { .. }
            | Body::LeaderInfo { .. }
            | Body::AckEpoch { .. }
            | Body::AckNewLeader { .. }
            | Body::Ack { .. }
            | Body::PingAck { .. }
            | Body::SyncRequest { .. } => {}
        }
    }

    /// NEWLEADER: the history first (durable), then currentEpoch, then the ACK
    /// (`Learner.syncWithLeader` after ZOOKEEPER-3911/4643/4646).
    fn on_new_leader(&mut self, sync: Sync, through: Zxid) {
        if self.phase != Phase::Discovery || !self.follow_mut().acked_epoch {
            return;
        }
        let epoch = self.accepted_epoch;
        // Bug::EpochBeforeHistory: currentEpoch is durable before the history is, so a
        // crash in between leaves a node whose vote claims a history it lacks.
        let epoch_first = self.has(Bug::EpochBeforeHistory);
        // Bug::AckBeforeFsync: the history (and the epoch after it) are written late;
        // the ACK goes out now.
        let ack_first = self.has(Bug::AckBeforeFsync);
        if epoch_first {
            self.out.push(Command::PersistCurrentEpoch(epoch));
        }
        let late = epoch_first || ack_first;
        match sync {
            Sync::Diff { txns } => self.append_synced(txns, late),
            Sync::Trunc { to, txns } => {
                self.truncate_after(to, late);
                self.append_synced(txns, late);
            }
            Sync::Snap { txns } => {
                self.truncate_after(Zxid::ZERO, late);
                self.append_synced(txns, late);
            }
        }
        self.current_epoch = epoch;
        if !epoch_first {
            self.emit(Command::PersistCurrentEpoch(epoch), ack_first);
        }
        self.phase = Phase::Synchronization;
        let leader = self.leader.clone().expect("following someone");
        let ack = Body::AckNewLeader { through };
        if ack_first {
            self.send(leader, ack);
        } else {
            self.send_after_writes(leader, ack);
        }
    }

    /// Appends the synced transactions this node does not already have.
    fn append_synced(&mut self, txns: Vec<Txn>, late: bool) {
        let last = self.last_zxid();
        let fresh: Vec<Txn> = txns.into_iter().filter(|t| t.zxid > last).collect();
        if fresh.is_empty() {
            return;
        }
        self.log.extend(fresh.iter().cloned());
        self.emit(Command::Append(fresh), late);
    }

    fn on_up_to_date(&mut self, commit: Zxid) {
        if self.phase != Phase::Synchronization {
            return;
        }
        if !self.logged(commit) {
            self.lost_track();
            return;
        }
        self.phase = Phase::Broadcast;
        self.commit_through(commit);
    }

    fn on_proposal(&mut self, prev: Zxid, txn: Txn) {
        if self.phase < Phase::Synchronization {
            return;
        }
        let last = self.last_zxid();
        if txn.zxid <= last {
            return; // a duplicate, or already in the synced history
        }
        if prev != last {
            self.lost_track();
            return;
        }
        let zxid = txn.zxid;
        self.log.push(txn.clone());
        let leader = self.leader.clone().expect("following someone");
        if self.has(Bug::AckBeforeFsync) {
            // Bug::AckBeforeFsync: ACK now, log a tick later.
            self.emit(Command::Append(vec![txn]), true);
            self.send(leader, Body::Ack { zxid });
        } else {
            self.emit(Command::Append(vec![txn]), false);
            self.send_after_writes(leader, Body::Ack { zxid });
        }
    }

    fn on_commit(&mut self, zxid: Zxid) {
        if self.phase < Phase::Synchronization || zxid <= self.committed_zxid() {
            return;
        }
        if !self.logged(zxid) {
            self.lost_track();
            return;
        }
        self.commit_through(zxid);
    }

    fn on_ping(&mut self, round: u64, commit: Zxid) {
        if self.phase >= Phase::Synchronization && commit > self.committed_zxid() {
            if self.logged(commit) {
                self.commit_through(commit);
            } else if commit > self.last_zxid() {
                self.lost_track();
                return;
            }
        }
        let leader = self.leader.clone().expect("following someone");
        let body = Body::PingAck {
            round,
            last_zxid: self.last_zxid(),
        };
        self.send_after_writes(leader, body);
    }

    fn on_sync_done(&mut self, token: u64, zxid: Zxid) {
        for r in &mut self.reads {
            if let ReadWait::Leader { token: t, zxid: z } = &mut r.wait {
                if *t == token {
                    *z = Some(zxid);
                }
            }
        }
        self.serve_reads();
    }
}
