//! Packet filters: one node's faults as a table of rules in the dedicated `FAULTLINE`
//! chain, rendered for `iptables-restore --noflush`, and the one place that applies and
//! clears it through a node's [`Runtime`].
//!
//! ```text
//! FilterTable { drop_from, drop_to, loss } ──render(exempt)──► "*filter\n:FAULTLINE - [0:0]\n… COMMIT"
//!      apply: iptables-restore -w 5 --noflush   (declaring the chain empties it first)
//!             iptables -C INPUT|OUTPUT -j FAULTLINE || iptables -I INPUT|OUTPUT 1 -j FAULTLINE
//!      clear: iptables -D INPUT|OUTPUT -j FAULTLINE, -F FAULTLINE, -X FAULTLINE
//! ```
//!
//! Invariants: only the `FAULTLINE` chain and the two jumps into it are ever written, so
//! whatever else a node's filter table holds (on a real machine: the rules that keep its
//! SSH reachable) survives every partition and heal; the exempt addresses (the
//! controller) are returned from the chain before any drop rule; a table that drops
//! nothing renders as the bare chain, which is the heal. Rules only name addresses: a
//! rule `-s a` in a chain jumped to from both INPUT and OUTPUT matches only packets
//! arriving from `a`, and `-d a` only packets leaving for `a`.
//!
//! References: Jepsen `jepsen.net/iptables`, iptables-restore(8) `--noflush`,
//! iptables-extensions(8) `statistic`.

use std::collections::BTreeSet;
use std::net::Ipv4Addr;

use crate::exec::Cmd;
use crate::{NodeId, Runtime, RuntimeError};

/// The chain every faultline rule lives in.
pub const CHAIN: &str = "FAULTLINE";

/// The built-in chains that jump to [`CHAIN`].
pub const HOOKS: [&str; 2] = ["INPUT", "OUTPUT"];

/// Everything the nemesis wants dropped on one node.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FilterTable {
    /// Drop packets arriving from these addresses.
    pub drop_from: BTreeSet<Ipv4Addr>,
    /// Drop packets leaving for these addresses.
    pub drop_to: BTreeSet<Ipv4Addr>,
    /// Random loss: probability and the peer addresses it applies to (both directions).
    pub loss: Option<(f64, BTreeSet<Ipv4Addr>)>,
}

impl FilterTable {
    /// Whether the table drops nothing (applying it heals the node).
    pub fn is_empty(&self) -> bool {
        self.drop_from.is_empty() && self.drop_to.is_empty() && self.loss.is_none()
    }
}

/// The `iptables-restore --noflush` input that makes the node's `FAULTLINE` chain
/// exactly `table`, with `exempt` addresses returned first.
pub fn render(table: &FilterTable, exempt: &[Ipv4Addr]) -> String {
    let mut s = format!("*filter\n:{CHAIN} - [0:0]\n");
    if !table.is_empty() {
        for a in exempt {
            s.push_str(&format!("-A {CHAIN} -s {a}/32 -j RETURN\n"));
            s.push_str(&format!("-A {CHAIN} -d {a}/32 -j RETURN\n"));
        }
    }
    for a in &table.drop_from {
        s.push_str(&format!("-A {CHAIN} -s {a}/32 -j DROP\n"));
    }
    for a in &table.drop_to {
        s.push_str(&format!("-A {CHAIN} -d {a}/32 -j DROP\n"));
    }
    if let Some((p, peers)) = &table.loss {
        for a in peers {
            s.push_str(&format!(
                "-A {CHAIN} -s {a}/32 -m statistic --mode random --probability {p} -j DROP\n"
            ));
        }
        for a in peers {
            s.push_str(&format!(
                "-A {CHAIN} -d {a}/32 -m statistic --mode random --probability {p} -j DROP\n"
            ));
        }
    }
    s.push_str("COMMIT\n");
    s
}

/// `iptables-restore -w 5 --noflush` with `rules` on its stdin.
pub fn restore_cmd(rules: String) -> Cmd {
    Cmd::new("iptables-restore")
        .args(["-w", "5", "--noflush"])
        .stdin(rules)
}

/// `iptables -w 5 <args…>`.
pub fn iptables(args: &[&str]) -> Cmd {
    Cmd::new("iptables").args(["-w", "5"]).args(args)
}

/// Installs `table` in the node's `FAULTLINE` chain, then makes sure INPUT and OUTPUT
/// jump to it (only when the table drops something: an empty chain needs no jump).
pub fn apply<R: Runtime + ?Sized>(
    rt: &R,
    node: NodeId,
    table: &FilterTable,
) -> Result<(), RuntimeError> {
    rt.exec_ok(node, &restore_cmd(render(table, &rt.exempt())))?;
    if table.is_empty() {
        return Ok(());
    }
    for hook in HOOKS {
        if !rt
            .exec(node, &iptables(&["-C", hook, "-j", CHAIN]))?
            .success()
        {
            rt.exec_ok(node, &iptables(&["-I", hook, "1", "-j", CHAIN]))?;
        }
    }
    Ok(())
}

/// Removes the jumps to `FAULTLINE` and the chain itself; nothing else. A node without
/// the chain is already clear.
pub fn clear<R: Runtime + ?Sized>(rt: &R, node: NodeId) -> Result<(), RuntimeError> {
    for hook in HOOKS {
        // A jump inserted twice (two controllers) is removed twice; bounded.
        for _ in 0..8 {
            if !rt
                .exec(node, &iptables(&["-D", hook, "-j", CHAIN]))?
                .success()
            {
                break;
            }
        }
    }
    let listed = rt.exec(node, &iptables(&["-n", "-L", CHAIN]))?;
    if !listed.success() {
        return Ok(());
    }
    rt.exec_ok(node, &iptables(&["-F", CHAIN]))?;
    rt.exec_ok(node, &iptables(&["-X", CHAIN]))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(last: u8) -> Ipv4Addr {
        Ipv4Addr::new(198, 18, 0, last)
    }

    #[test]
    fn an_empty_table_is_the_bare_chain() {
        assert_eq!(
            render(&FilterTable::default(), &[a(254)]),
            "*filter\n:FAULTLINE - [0:0]\nCOMMIT\n"
        );
    }

    #[test]
    fn exempt_addresses_return_before_any_drop() {
        let t = FilterTable {
            drop_from: [a(2)].into_iter().collect(),
            drop_to: [a(3)].into_iter().collect(),
            loss: Some((0.25, [a(4)].into_iter().collect())),
        };
        assert_eq!(
            render(&t, &[a(254)]),
            "*filter\n:FAULTLINE - [0:0]\n\
             -A FAULTLINE -s 198.18.0.254/32 -j RETURN\n\
             -A FAULTLINE -d 198.18.0.254/32 -j RETURN\n\
             -A FAULTLINE -s 198.18.0.2/32 -j DROP\n\
             -A FAULTLINE -d 198.18.0.3/32 -j DROP\n\
             -A FAULTLINE -s 198.18.0.4/32 -m statistic --mode random --probability 0.25 -j DROP\n\
             -A FAULTLINE -d 198.18.0.4/32 -m statistic --mode random --probability 0.25 -j DROP\n\
             COMMIT\n"
        );
    }
}
