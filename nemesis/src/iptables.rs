//! Rendering a node's faults into an `iptables-restore` ruleset (pure), and the one
//! place that applies a ruleset inside a node's namespace.
//!
//! ```text
//! Grudge + loss ──filters()──► NodeFilter per node ──render()──► "*filter … COMMIT"
//!                                                      └─apply()─► iptables-restore -w 5
//!                                                                  (in fl-<run>-n<i>)
//! ```
//!
//! A grudge "a drops from b" becomes two rules for the same direction b → a:
//! `-A INPUT -s b -j DROP` on a and `-A OUTPUT -d a -j DROP` on b, so each namespace's
//! INPUT and OUTPUT chains agree and one-way cuts stay one-way. Loss on node x drops a
//! random fraction `p` of packets x exchanges with each *other node* (INPUT and OUTPUT).
//!
//! Invariants: rules only ever name node addresses, so the control namespace (clients)
//! is never cut; the ruleset replaces the node namespace's whole filter table atomically,
//! so applying the empty filter heals everything and nothing else is ever touched (the
//! namespace is ours alone). References: Jepsen `jepsen.net/iptables`, iptables-
//! extensions(8) `statistic`.

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;

use harness::cluster::NodeId;
use harness::exec::{Cmd, Exec, ExecError};

use crate::grudge::Grudge;

/// Everything the nemesis wants dropped in one node's namespace.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct NodeFilter {
    /// Drop packets arriving from these addresses.
    pub drop_from: BTreeSet<Ipv4Addr>,
    /// Drop packets leaving for these addresses.
    pub drop_to: BTreeSet<Ipv4Addr>,
    /// Random loss: probability and the peer addresses it applies to.
    pub loss: Option<(f64, BTreeSet<Ipv4Addr>)>,
}

/// Per-node filters for a grudge plus packet loss on some nodes. Every node in `addrs`
/// gets an entry (possibly empty, which heals it).
pub fn filters(
    grudge: &Grudge,
    loss: &BTreeMap<NodeId, f64>,
    addrs: &BTreeMap<NodeId, Ipv4Addr>,
) -> BTreeMap<NodeId, NodeFilter> {
    let mut out: BTreeMap<NodeId, NodeFilter> =
        addrs.keys().map(|n| (*n, NodeFilter::default())).collect();
    for (receiver, senders) in &grudge.0 {
        let Some(raddr) = addrs.get(receiver) else {
            continue;
        };
        for sender in senders {
            let Some(saddr) = addrs.get(sender) else {
                continue;
            };
            if let Some(f) = out.get_mut(receiver) {
                f.drop_from.insert(*saddr);
            }
            if let Some(f) = out.get_mut(sender) {
                f.drop_to.insert(*raddr);
            }
        }
    }
    for (node, p) in loss {
        if let Some(f) = out.get_mut(node) {
            let peers = addrs
                .iter()
                .filter(|(n, _)| *n != node)
                .map(|(_, a)| *a)
                .collect();
            f.loss = Some((*p, peers));
        }
    }
    out
}

/// The `iptables-restore` input that makes a namespace's filter table exactly `f`.
pub fn render(f: &NodeFilter) -> String {
    let mut s =
        String::from("*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n");
    for a in &f.drop_from {
        s.push_str(&format!("-A INPUT -s {a}/32 -j DROP\n"));
    }
    for a in &f.drop_to {
        s.push_str(&format!("-A OUTPUT -d {a}/32 -j DROP\n"));
    }
    if let Some((p, peers)) = &f.loss {
        for a in peers {
            s.push_str(&format!(
                "-A INPUT -s {a}/32 -m statistic --mode random --probability {p} -j DROP\n"
            ));
        }
        for a in peers {
            s.push_str(&format!(
                "-A OUTPUT -d {a}/32 -m statistic --mode random --probability {p} -j DROP\n"
            ));
        }
    }
    s.push_str("COMMIT\n");
    s
}

/// The command that installs `ruleset` in namespace `ns`.
pub fn restore_cmd(ns: &str, ruleset: String) -> Cmd {
    Cmd::new("iptables-restore")
        .args(["-w", "5"])
        .netns(ns)
        .stdin(ruleset)
}

/// The one place that runs iptables: installs each `(namespace, ruleset)` in parallel.
/// Returns one result per namespace, in input order.
pub fn apply(
    exec: &dyn Exec,
    rulesets: Vec<(String, String)>,
) -> Vec<(String, Result<(), ExecError>)> {
    std::thread::scope(|s| {
        let handles: Vec<_> = rulesets
            .into_iter()
            .map(|(ns, rules)| {
                s.spawn(move || {
                    let r = exec.run(&restore_cmd(&ns, rules)).map(|_| ());
                    (ns, r)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("iptables thread does not panic"))
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grudge;

    fn addrs(n: u16) -> BTreeMap<NodeId, Ipv4Addr> {
        (1..=n)
            .map(|i| (NodeId::nth(i), harness::cluster::addr::node_addr(0, i)))
            .collect()
    }

    fn render_all(g: &Grudge, loss: &BTreeMap<NodeId, f64>, n: u16) -> String {
        filters(g, loss, &addrs(n))
            .iter()
            .map(|(node, f)| format!("## {node}\n{}", render(f)))
            .collect()
    }

    #[test]
    fn isolate_one_of_three() {
        let nodes: Vec<NodeId> = (1..=3).map(NodeId::nth).collect();
        let g = grudge::isolate(&nodes, NodeId::nth(1));
        insta::assert_snapshot!(render_all(&g, &BTreeMap::new(), 3));
    }

    #[test]
    fn one_way_cut() {
        let g = grudge::one_way(&[NodeId::nth(1)], &[NodeId::nth(2)]);
        insta::assert_snapshot!(render_all(&g, &BTreeMap::new(), 2));
    }

    #[test]
    fn majorities_ring_of_five() {
        let nodes: Vec<NodeId> = (1..=5).map(NodeId::nth).collect();
        insta::assert_snapshot!(render_all(
            &grudge::majorities_ring(&nodes),
            &BTreeMap::new(),
            5
        ));
    }

    #[test]
    fn loss_on_one_node() {
        let loss = [(NodeId::nth(2), 0.25)].into_iter().collect();
        insta::assert_snapshot!(render_all(&Grudge::default(), &loss, 3));
    }

    #[test]
    fn heal_is_the_empty_table_and_the_control_address_never_appears() {
        assert_eq!(
            render(&NodeFilter::default()),
            "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\nCOMMIT\n"
        );
        let nodes: Vec<NodeId> = (1..=5).map(NodeId::nth).collect();
        let loss = nodes.iter().map(|n| (*n, 0.5)).collect();
        let text = render_all(&grudge::halves(&nodes), &loss, 5);
        let ctl = harness::cluster::addr::control_addr(0).to_string();
        assert!(!text.contains(&ctl));
    }

    #[test]
    fn apply_runs_restore_inside_each_namespace() {
        let exec = harness::exec::RecordingExec::new();
        let results = apply(
            &exec,
            vec![
                ("fl-t-n1".into(), "a".into()),
                ("fl-t-n2".into(), "b".into()),
            ],
        );
        assert!(results.iter().all(|(_, r)| r.is_ok()));
        let mut cmds: Vec<String> = exec.commands().iter().map(|c| c.to_string()).collect();
        cmds.sort();
        assert_eq!(
            cmds,
            [
                "[netns fl-t-n1] iptables-restore -w 5",
                "[netns fl-t-n2] iptables-restore -w 5"
            ]
        );
    }
}
