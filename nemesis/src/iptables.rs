//! A run's network faults as one packet-filter table per node (pure).
//!
//! ```text
//! Grudge + loss ──filters()──► FilterTable per node ──► Runtime::apply_filter
//!                                                        (the FAULTLINE chain: runtime::filter)
//! ```
//!
//! A grudge "a drops from b" becomes two rules for the same direction b → a: drop what
//! arrives from b on a, and drop what leaves for a on b, so both ends agree and one-way
//! cuts stay one-way. Loss on node x drops a random fraction `p` of packets x exchanges
//! with each *other node*.
//!
//! Invariants: tables only ever name node addresses; every node gets a table (an empty
//! one heals it). References: Jepsen `jepsen.net/iptables`.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use runtime::{FilterTable, NodeId};

use crate::grudge::Grudge;

/// Per-node tables for a grudge plus packet loss on some nodes. Every node in `addrs`
/// gets an entry (possibly empty, which heals it).
pub fn filters(
    grudge: &Grudge,
    loss: &BTreeMap<NodeId, f64>,
    addrs: &BTreeMap<NodeId, Ipv4Addr>,
) -> BTreeMap<NodeId, FilterTable> {
    let mut out: BTreeMap<NodeId, FilterTable> =
        addrs.keys().map(|n| (*n, FilterTable::default())).collect();
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grudge;
    use runtime::filter::render;
    use runtime::netns::addr::{control_addr, node_addr};

    fn addrs(n: u16) -> BTreeMap<NodeId, Ipv4Addr> {
        (1..=n).map(|i| (NodeId::nth(i), node_addr(0, i))).collect()
    }

    /// Every node's `iptables-restore --noflush` input, the controller exempt.
    fn render_all(g: &Grudge, loss: &BTreeMap<NodeId, f64>, n: u16) -> String {
        filters(g, loss, &addrs(n))
            .iter()
            .map(|(node, f)| format!("## {node}\n{}", render(f, &[control_addr(0)])))
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
    fn heal_is_the_empty_chain_and_only_the_controller_is_exempt() {
        let healed = filters(&Grudge::default(), &BTreeMap::new(), &addrs(3));
        assert!(healed.values().all(FilterTable::is_empty));
        let nodes: Vec<NodeId> = (1..=5).map(NodeId::nth).collect();
        let loss = nodes.iter().map(|n| (*n, 0.5)).collect();
        let text = render_all(&grudge::halves(&nodes), &loss, 5);
        let ctl = control_addr(0).to_string();
        assert!(
            text.lines()
                .filter(|l| l.contains(&ctl))
                .all(|l| l.ends_with("-j RETURN")),
            "the controller is only ever exempted: {text}"
        );
        assert!(
            text.lines().all(|l| !l.starts_with("-A INPUT")
                && !l.starts_with("-A OUTPUT")
                && !l.starts_with(":INPUT")
                && !l.starts_with(":OUTPUT")),
            "only our chain is written: {text}"
        );
    }
}
