//! Fast Leader Election (ZooKeeper's `FastLeaderElection.lookForLeader`).
//!
//! * A LOOKING node starts a new round voting for itself: (currentEpoch, last logged
//!   zxid, id). Votes compare in that order ([`Vote::beats`]); epoch first, because a
//!   node's currentEpoch is only written after the history that goes with it (which is
//!   what `epoch-before-history` breaks).
//! * A notification of a higher round resets the round and the votes; one of a lower
//!   round is answered so its sender catches up; a better vote in this round is adopted
//!   and announced.
//! * When a quorum (this node included) votes like this node, it waits `finalize_ticks`
//!   for a better vote, then follows the winner (or leads, if it is the winner).
//! * A FOLLOWING or LEADING node answers a LOOKING one with its settled vote; a quorum of
//!   settled votes for a leader that itself says LEADING lets a late node join.
//! * Notifications are resent every heartbeat plus a random jitter while LOOKING (the
//!   network may drop them).

use rand::Rng;

use super::Zab;
use crate::zab::message::{Body, PeerState};
use crate::zab::types::{NodeId, Phase, Role, Vote};

impl Zab {
    /// Becomes LOOKING in a new round without sending anything yet.
    pub(super) fn look(&mut self) {
        self.fail_pending();
        self.role = Role::Looking;
        self.phase = Phase::Election;
        self.leader = None;
        self.lead = None;
        self.follow = None;
        let vote = self.own_vote();
        let e = &mut self.election;
        e.round += 1;
        e.vote = vote;
        e.votes.clear();
        e.settled.clear();
        e.finalize_at = None;
        e.notify_elapsed = 0;
        self.draw_notify_interval();
        self.check_agreement();
    }

    /// Gives up whatever this node was doing and starts a new election round.
    pub(super) fn start_election(&mut self) {
        self.look();
        self.notify_all();
    }

    fn own_vote(&self) -> Vote {
        Vote {
            leader: self.cfg.id.clone(),
            epoch: self.current_epoch,
            zxid: self.last_zxid(),
        }
    }

    fn draw_notify_interval(&mut self) {
        let h = self.cfg.heartbeat_ticks;
        self.election.notify_every = h + self.rng.gen_range(0..=h);
    }

    fn peer_state(&self) -> PeerState {
        match self.role {
            Role::Looking => PeerState::Looking,
            Role::Following => PeerState::Following,
            Role::Leading => PeerState::Leading,
        }
    }

    fn notify(&mut self, to: NodeId) {
        let body = Body::Notification {
            round: self.election.round,
            vote: self.election.vote.clone(),
            state: self.peer_state(),
        };
        self.send(to, body);
    }

    fn notify_all(&mut self) {
        for p in self.peers() {
            self.notify(p);
        }
    }

    pub(super) fn election_tick(&mut self) {
        let e = &mut self.election;
        e.notify_elapsed += 1;
        if e.notify_elapsed >= e.notify_every {
            e.notify_elapsed = 0;
            self.draw_notify_interval();
            self.notify_all();
        }
        if self.election.finalize_at.is_some_and(|at| self.now >= at) {
            let winner = self.election.vote.leader.clone();
            self.decide(winner);
        }
    }

    pub(super) fn on_notification(
        &mut self,
        from: NodeId,
        round: u64,
        vote: Vote,
        state: PeerState,
    ) {
        if self.role != Role::Looking {
            // Settled: tell a LOOKING peer whom this node follows or that it leads.
            if state == PeerState::Looking {
                self.notify(from);
            }
            return;
        }
        match state {
            PeerState::Looking => {
                if round > self.election.round {
                    self.election.round = round;
                    self.election.votes.clear();
                    let own = self.own_vote();
                    self.election.vote = if vote.beats(&own) { vote.clone() } else { own };
                    self.election.finalize_at = None;
                    self.notify_all();
                } else if round < self.election.round {
                    self.notify(from);
                    return;
                } else if vote.beats(&self.election.vote) {
                    self.election.vote = vote.clone();
                    self.election.finalize_at = None;
                    self.notify_all();
                }
                self.election.votes.insert(from, vote);
                self.check_agreement();
            }
            PeerState::Following | PeerState::Leading => {
                if round == self.election.round {
                    self.election.votes.insert(from.clone(), vote.clone());
                }
                self.election.settled.insert(from, (vote.clone(), state));
                self.maybe_join(vote);
            }
        }
    }

    /// Starts the finalize wait when a quorum votes like this node (or cancels it).
    fn check_agreement(&mut self) {
        let e = &self.election;
        let agree = 1 + e.votes.values().filter(|v| **v == e.vote).count();
        if agree >= self.quorum() {
            if self.election.finalize_at.is_none() {
                self.election.finalize_at = Some(self.now + self.cfg.finalize_ticks);
            }
        } else {
            self.election.finalize_at = None;
        }
    }

    /// Joins a settled leader that says LEADING, when a quorum backs it: either the
    /// settled votes alone, or this round's votes with this node's own.
    fn maybe_join(&mut self, vote: Vote) {
        if vote.leader == self.cfg.id {
            return;
        }
        let e = &self.election;
        let settled = e.settled.values().filter(|(v, _)| *v == vote).count();
        let this_round =
            usize::from(e.vote == vote) + e.votes.values().filter(|v| **v == vote).count();
        let leading = e
            .settled
            .get(&vote.leader)
            .is_some_and(|(v, s)| *s == PeerState::Leading && *v == vote);
        if settled.max(this_round) >= self.quorum() && leading {
            self.election.vote = vote.clone();
            self.decide(vote.leader);
        }
    }

    /// Ends the election: lead, or follow `winner`.
    fn decide(&mut self, winner: NodeId) {
        self.election.finalize_at = None;
        if winner == self.cfg.id {
            self.become_leader();
        } else {
            self.become_follower(winner);
        }
    }
}
