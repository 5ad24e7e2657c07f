//! Unit tests, one per Raft rule, driving cores by hand and asserting on the exact commands
//! they emit. Section numbers: Ongaro & Ousterhout 2014.

use super::*;

fn n(id: &str) -> NodeId {
    NodeId::new(id)
}

fn cfg(id: &str, members: usize, bugs: &[Bug]) -> Config {
    Config {
        id: n(id),
        members: (1..=members).map(|i| n(&format!("n{i}"))).collect(),
        election_ticks: (10, 20),
        heartbeat_ticks: 3,
        max_append_entries: 64,
        tick_ms: 10,
        bugs: bugs.iter().copied().collect(),
        seed: 7,
    }
}

fn node(id: &str, members: usize, bugs: &[Bug]) -> Raft {
    Raft::new(cfg(id, members, bugs), HardState::default(), Vec::new())
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

/// Ticks until the node campaigns; returns the commands of that tick.
fn tick_until_campaign(r: &mut Raft) -> Vec<Command> {
    for _ in 0..100 {
        let cmds = r.step(Event::Tick);
        if r.role() == Role::Candidate {
            return cmds;
        }
    }
    panic!("no election within 100 ticks");
}

fn to(msgs: &[Message], id: &str) -> Message {
    msgs.iter()
        .find(|m| m.to == n(id))
        .cloned()
        .unwrap_or_else(|| panic!("no message to {id} in {msgs:?}"))
}

/// Makes `nodes[0]` leader with `nodes[1]`'s vote and lets the no-op commit on both.
fn elect_first(nodes: &mut [Raft]) {
    let cmds = tick_until_campaign(&mut nodes[0]);
    let vote = to(&sent(&cmds), nodes[1].id().0.as_str());
    let resp = sent(&nodes[1].step(Event::Message(vote)));
    let cmds = nodes[0].step(Event::Message(resp[0].clone()));
    assert_eq!(nodes[0].role(), Role::Leader);
    replicate(nodes, cmds);
}

/// Delivers `cmds`' messages between `nodes` until quiet (no loss).
fn replicate(nodes: &mut [Raft], cmds: Vec<Command>) -> Vec<Command> {
    let mut all = Vec::new();
    let mut queue = sent(&cmds);
    all.extend(cmds);
    while let Some(m) = queue.pop() {
        if let Some(dst) = nodes.iter_mut().find(|r| *r.id() == m.to) {
            let out = dst.step(Event::Message(m));
            queue.extend(sent(&out));
            all.extend(out);
        }
    }
    all
}

fn write(key: &str, value: &str) -> Request {
    Request::Op(Op::Write {
        key: key.into(),
        value: value.into(),
    })
}

#[test]
fn s5_2_follower_campaigns_after_timeout_and_persists_before_asking() {
    let mut r = node("n1", 3, &[]);
    let cmds = tick_until_campaign(&mut r);
    assert_eq!(r.term(), 1);
    assert_eq!(
        cmds[0],
        Command::PersistHardState(HardState {
            term: 1,
            voted_for: Some(n("n1"))
        }),
        "the self-vote must be durable before RequestVote is sent"
    );
    let msgs = sent(&cmds);
    assert_eq!(msgs.len(), 2);
    assert!(msgs
        .iter()
        .all(|m| matches!(m.body, Body::RequestVote { .. }) && m.term == 1));
}

#[test]
fn s5_2_at_most_one_vote_per_term() {
    let mut voter = node("n3", 3, &[]);
    let ask = |from: &str| {
        Event::Message(Message {
            from: n(from),
            to: n("n3"),
            term: 1,
            body: Body::RequestVote {
                last_log_index: 0,
                last_log_term: 0,
            },
        })
    };
    let first = voter.step(ask("n1"));
    assert!(matches!(first[0], Command::PersistHardState(_)));
    assert_eq!(
        sent(&first)[0].body,
        Body::RequestVoteResponse { granted: true }
    );
    let second = voter.step(ask("n2"));
    assert_eq!(
        sent(&second)[0].body,
        Body::RequestVoteResponse { granted: false }
    );
    // Re-asking by the same candidate (a duplicate) is granted again.
    let again = voter.step(ask("n1"));
    assert_eq!(
        sent(&again)[0].body,
        Body::RequestVoteResponse { granted: true }
    );
}

#[test]
fn s5_4_1_vote_only_for_an_up_to_date_log() {
    let log = vec![Entry {
        term: 2,
        index: 1,
        payload: Payload::Noop,
    }];
    let hard = HardState {
        term: 2,
        voted_for: None,
    };
    let mut voter = Raft::new(cfg("n3", 3, &[]), hard, log);
    let ask = |last_log_index, last_log_term| {
        Event::Message(Message {
            from: n("n1"),
            to: n("n3"),
            term: 3,
            body: Body::RequestVote {
                last_log_index,
                last_log_term,
            },
        })
    };
    let stale = voter.step(ask(5, 1));
    assert_eq!(
        sent(&stale)[0].body,
        Body::RequestVoteResponse { granted: false }
    );
    let fresh = voter.step(ask(1, 2));
    assert_eq!(
        sent(&fresh)[0].body,
        Body::RequestVoteResponse { granted: true }
    );
}

#[test]
fn s5_1_higher_term_deposes_a_leader() {
    let mut nodes = vec![node("n1", 3, &[]), node("n2", 3, &[]), node("n3", 3, &[])];
    elect_first(&mut nodes);
    let cmds = nodes[0].step(Event::Message(Message {
        from: n("n3"),
        to: n("n1"),
        term: 9,
        body: Body::RequestVoteResponse { granted: false },
    }));
    assert_eq!(nodes[0].role(), Role::Follower);
    assert_eq!(
        cmds[0],
        Command::PersistHardState(HardState {
            term: 9,
            voted_for: None
        })
    );
}

#[test]
fn s5_3_consistency_check_and_conflict_truncation() {
    let log = vec![
        Entry {
            term: 1,
            index: 1,
            payload: Payload::Noop,
        },
        Entry {
            term: 1,
            index: 2,
            payload: Payload::Noop,
        },
    ];
    let hard = HardState {
        term: 1,
        voted_for: None,
    };
    let mut f = Raft::new(cfg("n2", 3, &[]), hard, log);
    let append = |prev_log_index, prev_log_term, entries: Vec<Entry>| {
        Event::Message(Message {
            from: n("n1"),
            to: n("n2"),
            term: 2,
            body: Body::AppendEntries {
                prev_log_index,
                prev_log_term,
                entries,
                leader_commit: 0,
                read_round: 0,
            },
        })
    };
    // prev (index 2, term 2) does not match our (2, 1): reject, nothing written.
    let cmds = f.step(append(2, 2, vec![]));
    assert!(matches!(
        sent(&cmds)[0].body,
        Body::AppendEntriesResponse { success: false, .. }
    ));
    assert!(!cmds
        .iter()
        .any(|c| matches!(c, Command::Append(_) | Command::Truncate { .. })));
    // prev (1, 1) matches; entry 2 of term 2 conflicts: truncate from 2, then append.
    let new = Entry {
        term: 2,
        index: 2,
        payload: Payload::Noop,
    };
    let cmds = f.step(append(1, 1, vec![new.clone()]));
    let storage: Vec<&Command> = cmds
        .iter()
        .filter(|c| matches!(c, Command::Append(_) | Command::Truncate { .. }))
        .collect();
    assert_eq!(
        storage,
        vec![&Command::Truncate { from: 2 }, &Command::Append(vec![new])]
    );
    assert!(matches!(
        sent(&cmds)[0].body,
        Body::AppendEntriesResponse {
            success: true,
            match_index: 2,
            ..
        }
    ));
}

/// Builds the Figure 8 (c) situation: n1 leads term 3 holding an entry of term 1 at index 2
/// that only n2 has; n3 acknowledges it. Returns (leader, its commands after the ack).
fn figure_8(bugs: &[Bug]) -> Raft {
    let old = |index, term| Entry {
        term,
        index,
        payload: Payload::Noop,
    };
    let hard = HardState {
        term: 2,
        voted_for: None,
    };
    let mut cfg = cfg("n1", 5, bugs);
    cfg.max_append_entries = 1;
    let mut l = Raft::new(cfg, hard, vec![old(1, 1), old(2, 1)]);
    tick_until_campaign(&mut l);
    for v in ["n2", "n3"] {
        l.step(Event::Message(Message {
            from: n(v),
            to: n("n1"),
            term: 3,
            body: Body::RequestVoteResponse { granted: true },
        }));
    }
    assert_eq!(l.role(), Role::Leader);
    // n2 and n3 acknowledge index 2 (term 1) but not yet the term-3 no-op at index 3.
    for v in ["n2", "n3"] {
        l.step(Event::Message(Message {
            from: n(v),
            to: n("n1"),
            term: 3,
            body: Body::AppendEntriesResponse {
                success: true,
                match_index: 2,
                retry_from: 0,
                read_round: 0,
            },
        }));
    }
    l
}

#[test]
fn s5_4_2_never_commit_an_old_term_entry_by_counting_replicas() {
    let l = figure_8(&[]);
    assert_eq!(
        l.commit_index(),
        0,
        "index 2 is from term 1: not committed by counting"
    );
    let buggy = figure_8(&[Bug::CommitOldTerm]);
    assert_eq!(buggy.commit_index(), 2, "the planted bug commits it");
}

#[test]
fn s5_3_writes_are_answered_only_after_a_majority_stores_them() {
    let mut nodes = vec![node("n1", 3, &[]), node("n2", 3, &[]), node("n3", 3, &[])];
    elect_first(&mut nodes);
    let cmds = nodes[0].step(Event::Request {
        id: RequestId(1),
        request: write("x", "1"),
    });
    assert!(replies(&cmds).is_empty(), "no answer before replication");
    let all = replicate(&mut nodes, cmds);
    assert_eq!(replies(&all), vec![(RequestId(1), Ok(Response::Written))]);

    let mut buggy = vec![
        node("n1", 3, &[Bug::AckBeforeCommit]),
        node("n2", 3, &[]),
        node("n3", 3, &[]),
    ];
    elect_first(&mut buggy);
    let cmds = buggy[0].step(Event::Request {
        id: RequestId(1),
        request: write("x", "1"),
    });
    assert_eq!(replies(&cmds), vec![(RequestId(1), Ok(Response::Written))]);
}

#[test]
fn read_index_waits_for_a_quorum_round_and_followers_refuse() {
    let mut nodes = vec![node("n1", 3, &[]), node("n2", 3, &[]), node("n3", 3, &[])];
    elect_first(&mut nodes);
    let read = || Event::Request {
        id: RequestId(5),
        request: Request::read("x"),
    };
    let follower = nodes[1].step(read());
    assert_eq!(
        replies(&follower),
        vec![(
            RequestId(5),
            Err(RequestError::NotLeader {
                leader: Some(n("n1"))
            })
        )]
    );
    let cmds = nodes[0].step(read());
    assert!(
        replies(&cmds).is_empty(),
        "a read needs a heartbeat round first"
    );
    let all = replicate(&mut nodes, cmds);
    assert_eq!(
        replies(&all),
        vec![(
            RequestId(5),
            Ok(Response::Value {
                value: None,
                position: 1
            })
        )]
    );

    let mut stale = vec![
        node("n1", 3, &[Bug::StaleRead]),
        node("n2", 3, &[]),
        node("n3", 3, &[]),
    ];
    elect_first(&mut stale);
    let cmds = stale[0].step(read());
    assert_eq!(
        replies(&cmds),
        vec![(
            RequestId(5),
            Ok(Response::Value {
                value: None,
                position: 1
            })
        )]
    );
}

#[test]
fn s8_a_new_leader_serves_reads_only_after_committing_in_its_term() {
    let mut l = node("n1", 3, &[]);
    tick_until_campaign(&mut l);
    l.step(Event::Message(Message {
        from: n("n2"),
        to: n("n1"),
        term: 1,
        body: Body::RequestVoteResponse { granted: true },
    }));
    assert_eq!(l.role(), Role::Leader);
    l.step(Event::Request {
        id: RequestId(1),
        request: Request::read("k"),
    });
    // n2 confirms the round but has not stored the no-op: leadership is confirmed yet the
    // leader has nothing of its term committed, so it must not answer.
    let cmds = l.step(Event::Message(Message {
        from: n("n2"),
        to: n("n1"),
        term: 1,
        body: Body::AppendEntriesResponse {
            success: false,
            match_index: 0,
            retry_from: 1,
            read_round: 1,
        },
    }));
    assert!(replies(&cmds).is_empty());
    let cmds = l.step(Event::Message(Message {
        from: n("n2"),
        to: n("n1"),
        term: 1,
        body: Body::AppendEntriesResponse {
            success: true,
            match_index: 1,
            retry_from: 0,
            read_round: 1,
        },
    }));
    assert_eq!(
        replies(&cmds),
        vec![(
            RequestId(1),
            Ok(Response::Value {
                value: None,
                position: 1
            })
        )]
    );
}

#[test]
fn forget_vote_persists_the_term_without_the_vote() {
    let mut r = node("n1", 3, &[Bug::ForgetVote]);
    let cmds = tick_until_campaign(&mut r);
    assert_eq!(
        cmds[0],
        Command::PersistHardState(HardState {
            term: 1,
            voted_for: None
        })
    );
}

fn acquire(client: &str) -> Request {
    Request::Op(Op::Acquire {
        name: "l".into(),
        client: client.into(),
        ttl_ms: 100,
    })
}

/// A new leader inherits a held lock: correct code waits a whole TTL (10 ticks) before
/// proposing the expiry; the planted bug expires it at once.
fn ticks_until_inherited_lock_expires(bugs: &[Bug]) -> u64 {
    let mut nodes = vec![
        node("n1", 3, bugs),
        node("n2", 3, bugs),
        node("n3", 3, bugs),
    ];
    elect_first(&mut nodes);
    let cmds = nodes[0].step(Event::Request {
        id: RequestId(1),
        request: acquire("a"),
    });
    let all = replicate(&mut nodes, cmds);
    assert_eq!(
        replies(&all),
        vec![(RequestId(1), Ok(Response::Granted { token: 2 }))]
    );
    // Spread the commit index with a heartbeat, then n2 takes over.
    let hb: Vec<Command> = (0..3).flat_map(|_| nodes[0].step(Event::Tick)).collect();
    replicate(&mut nodes, hb);
    assert!(nodes[1].state_machine().lock("l").is_some());
    let cmds = tick_until_campaign(&mut nodes[1]);
    let vote = to(&sent(&cmds), "n3");
    let resp = sent(&nodes[2].step(Event::Message(vote)));
    nodes[1].step(Event::Message(resp[0].clone()));
    assert_eq!(nodes[1].role(), Role::Leader);
    for t in 1..=50 {
        let cmds = nodes[1].step(Event::Tick);
        let expires = cmds.iter().any(|c| {
            matches!(c, Command::Append(es) if es.iter().any(|e| matches!(e.payload, Payload::Expire { .. })))
        });
        if expires {
            return t;
        }
    }
    panic!("lock never expired");
}

#[test]
fn lock_leases_are_honoured_by_a_new_leader() {
    assert!(ticks_until_inherited_lock_expires(&[]) >= 10);
    assert_eq!(
        ticks_until_inherited_lock_expires(&[Bug::LockNoLeaseCheck]),
        1
    );
}

#[test]
fn lock_tokens_increase_strictly() {
    let mut nodes = vec![node("n1", 3, &[]), node("n2", 3, &[]), node("n3", 3, &[])];
    elect_first(&mut nodes);
    let mut tokens = Vec::new();
    for (i, client) in ["a", "a", "a"].iter().enumerate() {
        let cmds = nodes[0].step(Event::Request {
            id: RequestId(i as u64),
            request: acquire(client),
        });
        for (_, r) in replies(&replicate(&mut nodes, cmds)) {
            if let Ok(Response::Granted { token }) = r {
                tokens.push(token);
            }
        }
    }
    assert_eq!(tokens.len(), 3);
    assert!(tokens.windows(2).all(|w| w[0] < w[1]), "{tokens:?}");
}

#[test]
fn check_quorum_an_isolated_leader_steps_down_and_fails_pending_writes_indeterminately() {
    let mut nodes = vec![node("n1", 3, &[]), node("n2", 3, &[]), node("n3", 3, &[])];
    elect_first(&mut nodes);
    let cmds = nodes[0].step(Event::Request {
        id: RequestId(9),
        request: write("x", "1"),
    });
    assert!(replies(&cmds).is_empty());
    // Nothing reaches the followers any more: within two election timeouts the leader
    // notices it lost its quorum.
    let mut out = Vec::new();
    for _ in 0..40 {
        out.extend(nodes[0].step(Event::Tick));
        if nodes[0].role() != Role::Leader {
            break;
        }
    }
    assert_eq!(nodes[0].role(), Role::Follower);
    let r = replies(&out);
    assert_eq!(r, vec![(RequestId(9), Err(RequestError::LeadershipLost))]);
    assert!(!RequestError::LeadershipLost.is_definite());
}

fn txn(ops: Vec<crate::bundled::TxnOp>) -> Request {
    Request::Op(Op::Txn { ops })
}

/// T1 = [r x][append y 1] and T2 = [append x 7][r y] proposed back to back; T1 commits
/// while T2 is still only in the leader's log, then T2 commits. Returns both answers.
fn read_while_pending(bugs: &[Bug]) -> (Response, Response) {
    use crate::bundled::TxnOp::{Append, Read};
    let mut nodes = vec![node("n1", 3, bugs), node("n2", 3, &[]), node("n3", 3, &[])];
    elect_first(&mut nodes);
    let t1 = nodes[0].step(Event::Request {
        id: RequestId(1),
        request: txn(vec![
            Read { key: "x".into() },
            Append {
                key: "y".into(),
                value: 1,
            },
        ]),
    });
    let t2 = nodes[0].step(Event::Request {
        id: RequestId(2),
        request: txn(vec![
            Append {
                key: "x".into(),
                value: 7,
            },
            Read { key: "y".into() },
        ]),
    });
    // Only T1's AppendEntries reaches n2: T1 commits, T2 stays uncommitted.
    let only_t1 = to(&sent(&t1), "n2");
    let ack = sent(&nodes[1].step(Event::Message(only_t1)));
    let cmds = nodes[0].step(Event::Message(ack[0].clone()));
    let first = replies(&cmds);
    assert_eq!(first.len(), 1, "T1 answered once committed: {first:?}");
    let all = replicate(&mut nodes, t2);
    let second = replies(&all);
    assert_eq!(second.len(), 1, "T2 answered once committed: {second:?}");
    let answer = |r: &[(RequestId, Result<Response, RequestError>)], id| {
        assert_eq!(r[0].0, RequestId(id));
        r[0].1.clone().expect("committed")
    };
    (answer(&first, 1), answer(&second, 2))
}

#[test]
fn transactions_apply_atomically_in_log_order() {
    let (t1, t2) = read_while_pending(&[]);
    assert_eq!(
        t1,
        Response::Txn {
            reads: vec![vec![]]
        }
    );
    assert_eq!(
        t2,
        Response::Txn {
            reads: vec![vec![1]]
        }
    );
}

/// The planted dirty read, caught deterministically by the list-append checker: T1 read
/// T2's append before T2 committed, and T2 read T1's: a G1c cycle (T1 wr→ T2 wr→ T1).
#[test]
fn txn_read_uncommitted_lets_a_read_see_a_pending_append_and_elle_finds_the_cycle() {
    use checkers::elle::{check, AnomalyKind, Budget, CycleClass, MicroOp, Options, Txn};
    use checkers::verdict::Validity;
    let history = |(t1, t2): (Response, Response)| {
        let reads = |r: Response| match r {
            Response::Txn { reads } => reads,
            other => panic!("not a transaction answer: {other:?}"),
        };
        let (r1, r2) = (reads(t1), reads(t2));
        vec![
            Txn::ok(
                0,
                0,
                2,
                vec![MicroOp::read("x", r1[0].clone()), MicroOp::append("y", 1)],
            ),
            Txn::ok(
                1,
                1,
                3,
                vec![MicroOp::append("x", 7), MicroOp::read("y", r2[0].clone())],
            ),
        ]
    };
    let clean = check(
        &history(read_while_pending(&[])),
        &Options::default(),
        Budget::default(),
    );
    assert_eq!(clean.valid, Validity::Valid, "{:?}", clean.describe());

    let dirty = read_while_pending(&[Bug::TxnReadUncommitted]);
    assert_eq!(
        dirty.0,
        Response::Txn {
            reads: vec![vec![7]]
        }
    );
    let report = check(&history(dirty), &Options::default(), Budget::default());
    assert_eq!(report.valid, Validity::Invalid);
    assert!(
        report
            .anomaly_types
            .iter()
            .any(|k| matches!(k, AnomalyKind::Cycle(c) if c.class == CycleClass::G1c)),
        "{:?}",
        report.describe()
    );
}
