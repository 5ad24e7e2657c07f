//! Unit tests, one per Zab rule, driving cores by hand and asserting on the exact commands
//! they emit. References: DSN 2011 (phases), ZooKeeper's `FastLeaderElection`, `Leader`,
//! `LearnerHandler`, `Learner`.

use std::collections::VecDeque;

use super::*;
use crate::bundled::op::Op;
use crate::zab::message::Sync;

fn n(id: &str) -> NodeId {
    NodeId::new(id)
}

fn cfg(id: &str, members: usize, bugs: &[Bug]) -> Config {
    Config {
        id: n(id),
        members: (1..=members).map(|i| n(&format!("n{i}"))).collect(),
        heartbeat_ticks: 2,
        finalize_ticks: 2,
        init_ticks: 20,
        sync_ticks: 10,
        diff_window: 64,
        late_ticks: 3,
        tick_ms: 10,
        bugs: bugs.iter().copied().collect(),
        seed: 7,
    }
}

fn node(id: &str, members: usize, bugs: &[Bug]) -> Zab {
    Zab::new(cfg(id, members, bugs), Durable::default())
}

fn txn(epoch: u32, counter: u32) -> Txn {
    Txn {
        zxid: Zxid::new(epoch, counter),
        payload: Payload::Noop,
    }
}

fn with_log(id: &str, members: usize, bugs: &[Bug], epochs: (u32, u32), log: Vec<Txn>) -> Zab {
    let durable = Durable {
        accepted_epoch: epochs.0,
        current_epoch: epochs.1,
        log,
    };
    Zab::new(cfg(id, members, bugs), durable)
}

fn sent(cmds: &[Command]) -> Vec<Message> {
    cmds.iter()
        .filter_map(|c| match c {
            Command::Send(m) => Some(m.clone()),
            _ => None,
        })
        .collect()
}

fn replies(cmds: &[Command]) -> Vec<(RequestId, Result<Response, RequestError>)> {
    cmds.iter()
        .filter_map(|c| match c {
            Command::Reply { id, result } => Some((*id, result.clone())),
            _ => None,
        })
        .collect()
}

fn msg(from: &str, to: &str, epoch: Epoch, body: Body) -> Event {
    Event::Message(Message {
        from: n(from),
        to: n(to),
        epoch,
        body,
    })
}

fn write(key: &str, value: &str) -> Request {
    Request::Op(Op::Write {
        key: key.into(),
        value: value.into(),
    })
}

fn read(key: &str, level: ReadLevel, after: u64) -> Request {
    Request::Read {
        key: key.into(),
        level,
        after,
    }
}

/// A lossless, in-order network of cores, recording every command.
struct Net {
    nodes: Vec<Zab>,
    queue: VecDeque<Message>,
    /// Messages to these nodes are dropped.
    down: Vec<bool>,
    emitted: Vec<(usize, Command)>,
}

impl Net {
    fn new(nodes: Vec<Zab>) -> Net {
        let k = nodes.len();
        Net {
            nodes,
            queue: VecDeque::new(),
            down: vec![false; k],
            emitted: Vec::new(),
        }
    }

    fn index(&self, id: &NodeId) -> usize {
        self.nodes.iter().position(|z| z.id() == id).expect("known")
    }

    fn step(&mut self, i: usize, event: Event) -> Vec<Command> {
        let cmds = self.nodes[i].step(event);
        for m in sent(&cmds) {
            self.queue.push_back(m);
        }
        self.emitted.extend(cmds.iter().cloned().map(|c| (i, c)));
        cmds
    }

    fn deliver(&mut self) {
        for _ in 0..10_000 {
            let Some(m) = self.queue.pop_front() else {
                return;
            };
            let to = self.index(&m.to);
            if !self.down[to] {
                self.step(to, Event::Message(m));
            }
        }
        panic!("the network never went quiet");
    }

    fn tick(&mut self) {
        for i in 0..self.nodes.len() {
            if !self.down[i] {
                self.step(i, Event::Tick);
            }
        }
        self.deliver();
    }

    /// Ticks until `done`, at most `limit` ticks.
    fn until(&mut self, limit: usize, done: impl Fn(&Net) -> bool) {
        for _ in 0..limit {
            if done(self) {
                return;
            }
            self.tick();
        }
        assert!(done(self), "condition not reached in {limit} ticks");
    }

    fn leader(&self) -> Option<usize> {
        (0..self.nodes.len()).find(|&i| self.nodes[i].leads() && !self.down[i])
    }

    /// Elects a leader with every node following it in broadcast.
    fn elect(&mut self) -> usize {
        self.until(200, |net| {
            net.leader().is_some()
                && net
                    .nodes
                    .iter()
                    .zip(&net.down)
                    .all(|(z, d)| *d || z.serving())
        });
        self.leader().expect("elected")
    }

    fn emitted_by(&self, i: usize) -> Vec<Command> {
        self.emitted
            .iter()
            .filter(|(k, _)| *k == i)
            .map(|(_, c)| c.clone())
            .collect()
    }
}

fn cluster(members: usize, bugs: &[Bug]) -> Net {
    Net::new(
        (1..=members)
            .map(|i| node(&format!("n{i}"), members, bugs))
            .collect(),
    )
}

// ---- election -------------------------------------------------------------------------

#[test]
fn fle_a_fresh_node_votes_for_itself_on_its_first_tick() {
    let mut z = node("n1", 3, &[]);
    let cmds = z.step(Event::Tick);
    let msgs = sent(&cmds);
    assert_eq!(msgs.len(), 2);
    for m in &msgs {
        assert_eq!(
            m.body,
            Body::Notification {
                round: 1,
                vote: Vote {
                    leader: n("n1"),
                    epoch: 0,
                    zxid: Zxid::ZERO
                },
                state: PeerState::Looking
            }
        );
    }
}

#[test]
fn fle_adopts_a_better_vote_and_rounds_reset_or_get_an_answer() {
    let mut z = with_log("n1", 3, &[], (1, 1), vec![txn(1, 1)]);
    z.step(Event::Tick);
    let better = Vote {
        leader: n("n2"),
        epoch: 1,
        zxid: Zxid::new(1, 2),
    };
    let note = |round, vote: &Vote| Body::Notification {
        round,
        vote: vote.clone(),
        state: PeerState::Looking,
    };
    let cmds = z.step(msg("n2", "n1", 1, note(1, &better)));
    assert!(
        sent(&cmds)
            .iter()
            .all(|m| m.body == note(1, &better) && m.to != n("n1")),
        "the better vote is adopted and announced: {cmds:?}"
    );
    // A worse vote of the same round changes nothing.
    let worse = Vote {
        leader: n("n3"),
        epoch: 0,
        zxid: Zxid::new(0, 9),
    };
    assert!(sent(&z.step(msg("n3", "n1", 1, note(1, &worse)))).is_empty());
    // A higher round resets: the own vote if it is better than the sender's.
    let cmds = z.step(msg("n3", "n1", 1, note(5, &worse)));
    assert_eq!(z.election_round(), 5);
    let own = Vote {
        leader: n("n1"),
        epoch: 1,
        zxid: Zxid::new(1, 1),
    };
    assert!(sent(&cmds).iter().all(|m| m.body == note(5, &own)));
    // A lower round is answered so the sender catches up.
    let cmds = z.step(msg("n2", "n1", 1, note(2, &better)));
    assert_eq!(sent(&cmds).len(), 1);
    assert_eq!(sent(&cmds)[0].to, n("n2"));
}

#[test]
fn fle_decides_after_a_quorum_agrees_and_the_finalize_wait() {
    let mut net = cluster(3, &[]);
    let l = net.elect();
    // Equal epochs and zxids: the highest id wins.
    assert_eq!(net.nodes[l].id(), &n("n3"));
    assert!(net.nodes[0].role() == Role::Following && net.nodes[1].role() == Role::Following);
    assert_eq!(net.nodes[0].leader(), Some(&n("n3")));
}

#[test]
fn fle_a_higher_current_epoch_beats_a_longer_history() {
    let mut net = Net::new(vec![
        with_log("n1", 3, &[], (2, 2), vec![txn(1, 1)]),
        with_log("n2", 3, &[], (1, 1), vec![txn(1, 1), txn(1, 2)]),
        with_log("n3", 3, &[], (1, 1), vec![txn(1, 1)]),
    ]);
    let l = net.elect();
    assert_eq!(net.nodes[l].id(), &n("n1"));
}

#[test]
fn a_late_node_joins_an_established_leader() {
    let mut net = cluster(3, &[]);
    net.down[0] = true;
    let l = net.elect();
    net.down[0] = false;
    net.nodes[0] = node("n1", 3, &[]);
    net.until(100, |net| net.nodes[0].serving());
    assert_eq!(net.nodes[0].leader(), Some(net.nodes[l].id()));
}

// ---- discovery ------------------------------------------------------------------------

/// A core made leader candidate by hand (as if FLE chose it).
fn candidate(z: &mut Zab) -> Vec<Command> {
    z.become_leader();
    std::mem::take(&mut z.out)
}

/// A core made follower of `leader` by hand.
fn follower_of(z: &mut Zab, leader: &str) -> Vec<Command> {
    z.become_follower(n(leader));
    std::mem::take(&mut z.out)
}

#[test]
fn discovery_new_epoch_is_max_accepted_plus_one_persisted_before_leaderinfo() {
    let mut l = with_log("n1", 3, &[], (4, 3), vec![txn(3, 1)]);
    assert!(
        candidate(&mut l).is_empty(),
        "one FOLLOWERINFO is no quorum"
    );
    let info = Body::FollowerInfo {
        accepted_epoch: 6,
        last_zxid: Zxid::new(3, 1),
    };
    let cmds = l.step(msg("n2", "n1", 6, info));
    assert_eq!(cmds[0], Command::PersistAcceptedEpoch(7));
    assert_eq!(
        sent(&cmds),
        vec![Message {
            from: n("n1"),
            to: n("n2"),
            epoch: 7,
            body: Body::LeaderInfo { epoch: 7 }
        }]
    );
    assert_eq!(l.accepted_epoch(), 7);
    assert_eq!(l.phase(), Phase::Discovery);
}

#[test]
fn discovery_a_follower_persists_the_new_epoch_before_its_ackepoch() {
    let mut f = with_log("n2", 3, &[], (1, 1), vec![txn(1, 1)]);
    follower_of(&mut f, "n1");
    let cmds = f.step(msg("n1", "n2", 2, Body::LeaderInfo { epoch: 2 }));
    assert_eq!(
        cmds,
        vec![
            Command::PersistAcceptedEpoch(2),
            Command::Send(Message {
                from: n("n2"),
                to: n("n1"),
                epoch: 2,
                body: Body::AckEpoch {
                    current_epoch: Some(1),
                    last_zxid: Zxid::new(1, 1)
                }
            })
        ]
    );
}

#[test]
fn discovery_an_epoch_already_accepted_gets_a_nack_and_an_older_one_is_abandoned() {
    let mut f = with_log("n2", 3, &[], (2, 1), vec![]);
    follower_of(&mut f, "n1");
    let cmds = f.step(msg("n1", "n2", 2, Body::LeaderInfo { epoch: 2 }));
    assert_eq!(
        cmds.iter().filter(|c| c.is_storage()).count(),
        0,
        "nothing new to persist"
    );
    assert_eq!(
        sent(&cmds)[0].body,
        Body::AckEpoch {
            current_epoch: None,
            last_zxid: Zxid::ZERO
        }
    );
    let mut g = with_log("n3", 3, &[], (5, 1), vec![]);
    follower_of(&mut g, "n1");
    g.step(msg("n1", "n3", 4, Body::LeaderInfo { epoch: 4 }));
    assert_eq!(
        g.role(),
        Role::Looking,
        "a leader of an older epoch is left"
    );
}

#[test]
fn discovery_an_ackepoch_for_an_epoch_already_accepted_is_not_an_ack() {
    let run = |bugs: &[Bug]| {
        let mut l = node("n1", 3, bugs);
        candidate(&mut l);
        let info = Body::FollowerInfo {
            accepted_epoch: 0,
            last_zxid: Zxid::ZERO,
        };
        l.step(msg("n2", "n1", 0, info));
        let nack = Body::AckEpoch {
            current_epoch: None,
            last_zxid: Zxid::ZERO,
        };
        l.step(msg("n2", "n1", 1, nack));
        l.phase()
    };
    assert_eq!(run(&[]), Phase::Discovery);
    assert_eq!(run(&[Bug::CountEpochNack]), Phase::Synchronization);
}

#[test]
fn discovery_a_follower_ahead_of_the_leader_makes_it_give_up() {
    let mut l = with_log("n1", 3, &[], (1, 1), vec![txn(1, 1)]);
    candidate(&mut l);
    let info = Body::FollowerInfo {
        accepted_epoch: 1,
        last_zxid: Zxid::new(1, 2),
    };
    l.step(msg("n2", "n1", 1, info));
    let ahead = Body::AckEpoch {
        current_epoch: Some(1),
        last_zxid: Zxid::new(1, 2),
    };
    l.step(msg("n2", "n1", 2, ahead));
    assert_eq!(l.role(), Role::Looking);
}

#[test]
fn forget_accepted_epoch_keeps_the_epoch_in_memory_only() {
    let mut l = node("n1", 3, &[Bug::ForgetAcceptedEpoch]);
    candidate(&mut l);
    let info = Body::FollowerInfo {
        accepted_epoch: 0,
        last_zxid: Zxid::ZERO,
    };
    let cmds = l.step(msg("n2", "n1", 0, info));
    assert!(!cmds
        .iter()
        .any(|c| matches!(c, Command::PersistAcceptedEpoch(_))));
    assert_eq!(l.accepted_epoch(), 1);
    let mut f = node("n2", 3, &[Bug::ForgetAcceptedEpoch]);
    follower_of(&mut f, "n1");
    let cmds = f.step(msg("n1", "n2", 1, Body::LeaderInfo { epoch: 1 }));
    assert!(cmds.iter().all(|c| !c.is_storage()), "{cmds:?}");
}

/// The scripted schedule `count-epoch-nack` needs (5 nodes): two would-be leaders pick the
/// same epoch from FOLLOWERINFO of one node, n2, that then accepts the epoch from one and
/// rejoins the other.
fn two_leaders_one_epoch(bugs: &[Bug]) -> (Phase, Phase) {
    let mut net = Net::new((1..=5).map(|i| node(&format!("n{i}"), 5, bugs)).collect());
    let (a, x, c, d, b) = (0, 1, 2, 3, 4);
    // A = n1 with B = n5 and X = n2; C = n3 with D = n4 and X.
    candidate(&mut net.nodes[a]);
    candidate(&mut net.nodes[c]);
    let fi = |net: &mut Net, who: usize, leader: &str| {
        let cmds = follower_of(&mut net.nodes[who], leader);
        for m in sent(&cmds) {
            net.queue.push_back(m);
        }
    };
    fi(&mut net, b, "n1");
    fi(&mut net, x, "n1");
    // A picks epoch 1 from {A, B, X}; X never hears its LEADERINFO.
    net.down[x] = true;
    net.deliver();
    net.down[x] = false;
    assert_eq!(net.nodes[a].leading_epoch(), Some(1));
    // X follows C instead; C also picks epoch 1 from {C, D, X}; X accepts it from C.
    fi(&mut net, d, "n3");
    fi(&mut net, x, "n3");
    net.deliver();
    assert_eq!(net.nodes[c].leading_epoch(), Some(1));
    assert_eq!(net.nodes[x].accepted_epoch(), 1);
    // X rejoins A: already accepted epoch 1, it answers −1.
    fi(&mut net, x, "n1");
    net.deliver();
    (net.nodes[a].phase(), net.nodes[c].phase())
}

#[test]
fn count_epoch_nack_lets_two_leaders_establish_one_epoch() {
    let (a, c) = two_leaders_one_epoch(&[]);
    assert!(
        a == Phase::Discovery && c >= Phase::Synchronization,
        "{a:?} {c:?}"
    );
    let (a, c) = two_leaders_one_epoch(&[Bug::CountEpochNack]);
    assert!(
        a >= Phase::Synchronization && c >= Phase::Synchronization,
        "{a:?} {c:?}"
    );
}

// ---- sync -----------------------------------------------------------------------------

fn leader_with(log: Vec<Txn>, bugs: &[Bug], window: usize) -> Zab {
    let mut c = cfg("n1", 3, bugs);
    c.diff_window = window;
    let last = log.last().map_or(0, |t| t.zxid.epoch);
    Zab::new(
        c,
        Durable {
            accepted_epoch: last,
            current_epoch: last,
            log,
        },
    )
}

#[test]
fn sync_diff_trunc_snap_as_the_follower_needs() {
    let log = vec![txn(1, 1), txn(1, 2), txn(2, 1), txn(2, 2)];
    let l = leader_with(log.clone(), &[], 2);
    assert_eq!(
        l.sync_plan(Zxid::new(2, 2)),
        Sync::Diff { txns: vec![] },
        "in step"
    );
    assert_eq!(
        l.sync_plan(Zxid::new(2, 1)),
        Sync::Diff {
            txns: vec![txn(2, 2)]
        }
    );
    // The follower logged <1,3>, which this leader never had: cut back to <1,2> first.
    assert_eq!(
        l.sync_plan(Zxid::new(1, 3)),
        Sync::Trunc {
            to: Zxid::new(1, 2),
            txns: vec![txn(2, 1), txn(2, 2)]
        }
    );
    // A suffix past the leader's end.
    assert_eq!(
        l.sync_plan(Zxid::new(2, 7)),
        Sync::Trunc {
            to: Zxid::new(2, 2),
            txns: vec![]
        }
    );
    // Further behind than the DIFF window: SNAP.
    assert_eq!(l.sync_plan(Zxid::ZERO), Sync::Snap { txns: log.clone() });
    // Bug::DiffWithoutTrunc: the suffix stays.
    let bad = leader_with(log, &[Bug::DiffWithoutTrunc], 2);
    assert_eq!(
        bad.sync_plan(Zxid::new(1, 3)),
        Sync::Diff {
            txns: vec![txn(2, 1), txn(2, 2)]
        }
    );
}

#[test]
fn sync_the_leader_persists_current_epoch_before_newleader() {
    let mut l = node("n1", 3, &[]);
    candidate(&mut l);
    let info = Body::FollowerInfo {
        accepted_epoch: 0,
        last_zxid: Zxid::ZERO,
    };
    l.step(msg("n2", "n1", 0, info));
    let ack = Body::AckEpoch {
        current_epoch: Some(0),
        last_zxid: Zxid::ZERO,
    };
    let cmds = l.step(msg("n2", "n1", 1, ack));
    assert_eq!(cmds[0], Command::PersistCurrentEpoch(1));
    assert!(matches!(
        sent(&cmds)[0].body,
        Body::NewLeader {
            sync: Sync::Diff { .. },
            ..
        }
    ));
}

/// A follower of n1 that accepted epoch 3 and is waiting for NEWLEADER, holding
/// `<1,1> <1,2> <1,9>` (the last one never committed).
fn syncing_follower(bugs: &[Bug]) -> Zab {
    let mut f = with_log("n2", 3, bugs, (2, 2), vec![txn(1, 1), txn(1, 2), txn(1, 9)]);
    follower_of(&mut f, "n1");
    f.step(msg("n1", "n2", 3, Body::LeaderInfo { epoch: 3 }));
    f
}

fn trunc_and_diff() -> Body {
    Body::NewLeader {
        sync: Sync::Trunc {
            to: Zxid::new(1, 2),
            txns: vec![txn(2, 1)],
        },
        through: Zxid::new(2, 1),
    }
}

#[test]
fn sync_the_follower_writes_history_then_current_epoch_then_acks() {
    let mut f = syncing_follower(&[]);
    let cmds = f.step(msg("n1", "n2", 3, trunc_and_diff()));
    assert_eq!(
        cmds,
        vec![
            Command::Truncate {
                after: Zxid::new(1, 2)
            },
            Command::Append(vec![txn(2, 1)]),
            Command::PersistCurrentEpoch(3),
            Command::Send(Message {
                from: n("n2"),
                to: n("n1"),
                epoch: 3,
                body: Body::AckNewLeader {
                    through: Zxid::new(2, 1)
                }
            })
        ]
    );
    assert_eq!(f.log(), &[txn(1, 1), txn(1, 2), txn(2, 1)]);
}

#[test]
fn epoch_before_history_writes_the_epoch_first_and_the_history_late() {
    let mut f = syncing_follower(&[Bug::EpochBeforeHistory]);
    let cmds = f.step(msg("n1", "n2", 3, trunc_and_diff()));
    assert_eq!(cmds, vec![Command::PersistCurrentEpoch(3)]);
    // The history and the ACK follow with the late group flush.
    let mut later = Vec::new();
    for _ in 0..3 {
        later.extend(f.step(Event::Tick));
    }
    assert_eq!(
        later[0],
        Command::Truncate {
            after: Zxid::new(1, 2)
        }
    );
    assert_eq!(later[1], Command::Append(vec![txn(2, 1)]));
    assert!(matches!(
        later[2],
        Command::Send(Message {
            body: Body::AckNewLeader { .. },
            ..
        })
    ));
}

#[test]
fn ack_before_fsync_acks_newleader_before_the_history_is_written() {
    let mut f = syncing_follower(&[Bug::AckBeforeFsync]);
    let cmds = f.step(msg("n1", "n2", 3, trunc_and_diff()));
    assert!(cmds.iter().all(|c| !c.is_storage()), "{cmds:?}");
    assert!(matches!(sent(&cmds)[0].body, Body::AckNewLeader { .. }));
}

#[test]
fn nothing_is_served_before_uptodate() {
    let mut f = syncing_follower(&[]);
    f.step(msg("n1", "n2", 3, trunc_and_diff()));
    assert_eq!(f.phase(), Phase::Synchronization);
    let cmds = f.step(Event::Request {
        id: RequestId(1),
        request: read("k", ReadLevel::Local, 0),
    });
    assert_eq!(
        replies(&cmds),
        vec![(RequestId(1), Err(RequestError::NotServing))]
    );
    f.step(msg(
        "n1",
        "n2",
        3,
        Body::UpToDate {
            commit: Zxid::new(2, 1),
        },
    ));
    let cmds = f.step(Event::Request {
        id: RequestId(2),
        request: read("k", ReadLevel::Local, 0),
    });
    assert_eq!(
        replies(&cmds),
        vec![(
            RequestId(2),
            Ok(Response::Value {
                value: None,
                position: Zxid::new(2, 1).as_u64()
            })
        )]
    );
}

// ---- broadcast ------------------------------------------------------------------------

#[test]
fn broadcast_followers_log_before_they_ack_and_the_leader_commits_on_a_quorum() {
    let mut net = cluster(3, &[]);
    let l = net.elect();
    let f = (l + 1) % 3;
    let other = (l + 2) % 3;
    net.down[other] = true;
    net.emitted.clear();
    let cmds = net.step(
        l,
        Event::Request {
            id: RequestId(9),
            request: write("x", "1"),
        },
    );
    assert!(
        matches!(cmds[0], Command::Append(_)),
        "the leader logs its proposal before sending it: {cmds:?}"
    );
    assert!(replies(&cmds).is_empty(), "one ACK (its own) is no quorum");
    net.deliver();
    let fc = net.emitted_by(f);
    let append = fc
        .iter()
        .position(|c| matches!(c, Command::Append(_)))
        .expect("the follower logs");
    let ack = fc
        .iter()
        .position(|c| {
            matches!(
                c,
                Command::Send(Message {
                    body: Body::Ack { .. },
                    ..
                })
            )
        })
        .expect("the follower acks");
    assert!(append < ack);
    let lc = net.emitted_by(l);
    assert!(replies(&lc)
        .iter()
        .any(|(id, r)| *id == RequestId(9) && *r == Ok(Response::Written)));
    let epoch = net.nodes[l].current_epoch();
    assert!(lc.iter().any(|c| matches!(
        c,
        Command::Send(Message { body: Body::Commit { zxid }, .. }) if *zxid == Zxid::new(epoch, 1)
    )));
}

#[test]
fn ack_before_fsync_acks_a_proposal_before_logging_it() {
    let mut net = cluster(3, &[Bug::AckBeforeFsync]);
    let l = net.elect();
    let f = (l + 1) % 3;
    net.emitted.clear();
    net.step(
        l,
        Event::Request {
            id: RequestId(9),
            request: write("x", "1"),
        },
    );
    let leader_cmds = net.emitted_by(l);
    assert!(
        !leader_cmds.iter().any(|c| matches!(c, Command::Append(_))),
        "the leader's own write is late too"
    );
    net.deliver();
    let fc = net.emitted_by(f);
    assert!(fc.iter().any(|c| matches!(
        c,
        Command::Send(Message {
            body: Body::Ack { .. },
            ..
        })
    )));
    assert!(!fc.iter().any(|c| matches!(c, Command::Append(_))));
    // Acknowledged to the client while no node has the write on disk.
    assert!(replies(&net.emitted_by(l))
        .iter()
        .any(|(id, r)| *id == RequestId(9) && r.is_ok()));
}

#[test]
fn a_gap_in_the_proposals_sends_the_follower_back_to_looking() {
    let mut net = cluster(3, &[]);
    let l = net.elect();
    let f = (l + 1) % 3;
    let epoch = net.nodes[l].current_epoch();
    let last = net.nodes[f].last_zxid();
    let skipped = Body::Proposal {
        prev: Zxid::new(epoch, 7),
        txn: Txn {
            zxid: Zxid::new(epoch, 8),
            payload: Payload::Noop,
        },
    };
    let from = net.nodes[l].id().0.clone();
    let to = net.nodes[f].id().0.clone();
    net.nodes[f].step(msg(&from, &to, epoch, skipped));
    assert_eq!(net.nodes[f].role(), Role::Looking);
    assert_eq!(
        net.nodes[f].last_zxid(),
        last,
        "nothing logged past the gap"
    );
}

#[test]
fn followers_drop_leader_messages_of_another_epoch() {
    let mut net = cluster(3, &[]);
    let l = net.elect();
    let f = (l + 1) % 3;
    let epoch = net.nodes[l].current_epoch();
    let from = net.nodes[l].id().0.clone();
    let to = net.nodes[f].id().0.clone();
    let stale = Body::Proposal {
        prev: net.nodes[f].last_zxid(),
        txn: Txn {
            zxid: Zxid::new(epoch - 1, 50),
            payload: Payload::Noop,
        },
    };
    let cmds = net.nodes[f].step(msg(&from, &to, epoch - 1, stale));
    assert!(cmds.is_empty());
    assert_eq!(net.nodes[f].role(), Role::Following);
}

#[test]
fn a_leader_without_a_quorum_steps_down_unless_stale_sync() {
    for (bugs, steps_down) in [(&[][..], true), (&[Bug::StaleSync][..], false)] {
        let mut net = cluster(3, bugs);
        let l = net.elect();
        for i in 0..3 {
            net.down[i] = i != l;
        }
        for _ in 0..30 {
            net.tick();
        }
        assert_eq!(net.nodes[l].role() == Role::Looking, steps_down, "{bugs:?}");
    }
}

// ---- reads ----------------------------------------------------------------------------

#[test]
fn reads_quorum_waits_for_a_ping_round_local_does_not_and_behind_refuses() {
    let mut net = cluster(3, &[]);
    let l = net.elect();
    let f = (l + 1) % 3;
    net.step(
        l,
        Event::Request {
            id: RequestId(1),
            request: write("k", "v"),
        },
    );
    net.deliver();
    let cmds = net.step(
        l,
        Event::Request {
            id: RequestId(2),
            request: read("k", ReadLevel::Quorum, 0),
        },
    );
    assert!(
        replies(&cmds).is_empty(),
        "a quorum read needs a PING round"
    );
    assert!(sent(&cmds)
        .iter()
        .all(|m| matches!(m.body, Body::Ping { round: 1, .. })));
    net.emitted.clear();
    net.deliver();
    let position = net.nodes[l].applied_zxid().as_u64();
    assert_eq!(
        replies(&net.emitted_by(l)),
        vec![(
            RequestId(2),
            Ok(Response::Value {
                value: Some("v".into()),
                position
            })
        )]
    );
    // Followers refuse quorum reads with the leader's name, serve local reads at once,
    // and refuse a client that has seen more than they applied.
    let at = |net: &mut Net, request| {
        replies(&net.step(
            f,
            Event::Request {
                id: RequestId(3),
                request,
            },
        ))
    };
    let leader = net.nodes[l].id().clone();
    assert_eq!(
        at(&mut net, read("k", ReadLevel::Quorum, 0)),
        vec![(
            RequestId(3),
            Err(RequestError::NotLeader {
                leader: Some(leader)
            })
        )]
    );
    let local = at(&mut net, read("k", ReadLevel::Local, 0));
    assert!(matches!(local[0].1, Ok(Response::Value { .. })));
    let behind = at(&mut net, read("k", ReadLevel::Local, position + 1));
    assert!(matches!(behind[0].1, Err(RequestError::Behind { .. })));
}

#[test]
fn reads_sync_waits_for_the_leaders_proposals_but_not_with_stale_sync() {
    for (bugs, waits) in [(&[][..], true), (&[Bug::StaleSync][..], false)] {
        let mut net = cluster(3, bugs);
        let l = net.elect();
        net.step(
            l,
            Event::Request {
                id: RequestId(1),
                request: write("k", "v"),
            },
        );
        // The proposal is not committed yet: a sync read on the leader waits for it.
        let cmds = net.step(
            l,
            Event::Request {
                id: RequestId(2),
                request: read("k", ReadLevel::Sync, 0),
            },
        );
        assert_eq!(replies(&cmds).is_empty(), waits, "{bugs:?}");
        net.emitted.clear();
        net.deliver();
        if waits {
            let r = replies(&net.emitted_by(l));
            assert!(r.iter().any(|(id, r)| *id == RequestId(2)
                && matches!(r, Ok(Response::Value { value: Some(v), .. }) if v == "v")));
        }
    }
}

#[test]
fn reads_sync_on_a_follower_goes_through_the_leader() {
    let mut net = cluster(3, &[]);
    let l = net.elect();
    let f = (l + 1) % 3;
    let cmds = net.step(
        f,
        Event::Request {
            id: RequestId(4),
            request: read("k", ReadLevel::Sync, 0),
        },
    );
    assert!(replies(&cmds).is_empty());
    assert!(matches!(sent(&cmds)[0].body, Body::SyncRequest { .. }));
    net.emitted.clear();
    net.deliver();
    assert!(matches!(
        replies(&net.emitted_by(f))[..],
        [(RequestId(4), Ok(Response::Value { .. }))]
    ));
}

// ---- sessions -------------------------------------------------------------------------

fn acquire(client: &str, ttl_ms: u64) -> Request {
    Request::Op(Op::Acquire {
        name: "L".into(),
        client: client.into(),
        ttl_ms,
    })
}

/// Ticks from a new leader's election until it proposes closing an inherited session.
fn ticks_until_inherited_session_closes(bugs: &[Bug]) -> u64 {
    let mut net = cluster(3, bugs);
    let l = net.elect();
    net.step(
        l,
        Event::Request {
            id: RequestId(1),
            request: acquire("c1", 200), // 20 ticks
        },
    );
    net.deliver();
    assert!(net.nodes[l].state_machine().lock("L").is_some());
    // The leader dies; a new one is elected and inherits the session.
    net.down[l] = true;
    net.until(200, |net| net.leader().is_some());
    let l2 = net.leader().expect("a new leader");
    net.emitted.clear();
    for t in 0..100 {
        let closing = net.emitted_by(l2).iter().any(|c| {
            matches!(c, Command::Append(txns) if txns.iter().any(|t| matches!(t.payload, Payload::CloseSession { .. })))
        });
        if closing {
            return t;
        }
        net.tick();
    }
    panic!("the session never expired");
}

#[test]
fn sessions_a_new_leader_gives_inherited_sessions_a_full_timeout() {
    assert!(ticks_until_inherited_session_closes(&[]) >= 20);
    assert!(ticks_until_inherited_session_closes(&[Bug::ExpireSessionsOnElection]) <= 1);
}

#[test]
fn sessions_expire_without_heartbeats_and_free_their_locks_tokens_are_zxids() {
    let mut net = cluster(3, &[]);
    let l = net.elect();
    net.emitted.clear();
    net.step(
        l,
        Event::Request {
            id: RequestId(1),
            request: acquire("c1", 100), // 10 ticks
        },
    );
    net.deliver();
    let token = match replies(&net.emitted_by(l))[..] {
        [(_, Ok(Response::Granted { token }))] => token,
        ref other => panic!("{other:?}"),
    };
    let epoch = net.nodes[l].current_epoch();
    assert_eq!(
        Zxid::from_u64(token).epoch,
        epoch,
        "the token is the grant's zxid"
    );
    // Held: a second client is refused.
    let busy = net.step(
        l,
        Event::Request {
            id: RequestId(2),
            request: acquire("c2", 100),
        },
    );
    net.deliver();
    let _ = busy;
    assert!(net.nodes[l].state_machine().lock("L").is_some());
    for _ in 0..15 {
        net.tick();
    }
    assert!(
        net.nodes
            .iter()
            .all(|z| z.state_machine().lock("L").is_none()),
        "the session expired and its lock went with it on every replica"
    );
}
