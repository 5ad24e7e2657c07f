//! Names and addresses of a namespace run: pure functions from (run, slot, n) to namespaces,
//! interfaces and IPv4 addresses.
//!
//! ```text
//! slot s (0..512) ──► subnet 198.18.0.0/15 + s·256, /24
//!                      ├─ node n<i>  → .<i>      (i in 1..=MAX_NODES)
//!                      └─ control    → .254
//! namespaces: fl-<run>-n<i>, fl-<run>-br (the bridge, no address), fl-<run>-ctl
//! ```
//!
//! Invariants: every address lies in 198.18.0.0/15 (RFC 2544 benchmarking space, never
//! routed on the Internet); two runs with different slots share no address; interface
//! names stay within Linux's 15-byte limit (`v-n200`, `v-ctl`, `br0`, `eth0`).

use std::net::Ipv4Addr;

/// The first address of faultline's range, 198.18.0.0/15.
pub const RANGE_BASE: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 0);
/// How many /24 slots the /15 holds.
pub const SLOTS: u16 = 512;
/// Largest cluster one slot can address (hosts .1 ..= .200).
pub const MAX_NODES: u16 = 200;
/// Host number of the control namespace inside a slot.
pub const CONTROL_HOST: u8 = 254;
/// Prefix length of a slot's subnet.
pub const PREFIX_LEN: u8 = 24;
/// Longest run name accepted.
pub const MAX_RUN_NAME: usize = 40;

/// Checks a run name: 1..=40 chars of `[a-z0-9-]`, not starting or ending with `-`.
pub fn validate_run_name(run: &str) -> Result<(), String> {
    let ok_chars = run
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if run.is_empty() || run.len() > MAX_RUN_NAME || !ok_chars {
        return Err(format!(
            "run name {run:?} must be 1..={MAX_RUN_NAME} characters of a-z, 0-9 and '-'"
        ));
    }
    if run.starts_with('-') || run.ends_with('-') {
        return Err(format!("run name {run:?} must not start or end with '-'"));
    }
    Ok(())
}

/// The subnet's first address for a slot.
pub fn slot_base(slot: u16) -> Ipv4Addr {
    assert!(slot < SLOTS, "slot {slot} out of range");
    Ipv4Addr::from(u32::from(RANGE_BASE) + u32::from(slot) * 256)
}

/// Address of node `i` (1-based) in a slot.
pub fn node_addr(slot: u16, i: u16) -> Ipv4Addr {
    assert!((1..=MAX_NODES).contains(&i), "node index {i} out of range");
    Ipv4Addr::from(u32::from(slot_base(slot)) + u32::from(i))
}

/// Address of the control namespace in a slot.
pub fn control_addr(slot: u16) -> Ipv4Addr {
    Ipv4Addr::from(u32::from(slot_base(slot)) + u32::from(CONTROL_HOST))
}

/// Whether an address is inside 198.18.0.0/15.
pub fn in_range(addr: Ipv4Addr) -> bool {
    u32::from(addr) >> 17 == u32::from(RANGE_BASE) >> 17
}

/// Namespace of node `i`.
pub fn node_ns(run: &str, i: u16) -> String {
    format!("fl-{run}-n{i}")
}

/// Namespace holding the bridge.
pub fn bridge_ns(run: &str) -> String {
    format!("fl-{run}-br")
}

/// Namespace of the harness's clients.
pub fn control_ns(run: &str) -> String {
    format!("fl-{run}-ctl")
}

/// Every namespace of a run, bridge first.
pub fn all_ns(run: &str, n: u16) -> Vec<String> {
    let mut v = vec![bridge_ns(run), control_ns(run)];
    v.extend((1..=n).map(|i| node_ns(run, i)));
    v
}

/// Which run a namespace name belongs to, if it is one of ours.
pub fn run_of_ns(ns: &str) -> Option<&str> {
    let rest = ns.strip_prefix("fl-")?;
    let (run, suffix) = rest.rsplit_once('-')?;
    let ours = suffix == "br"
        || suffix == "ctl"
        || suffix
            .strip_prefix('n')
            .is_some_and(|i| !i.is_empty() && i.bytes().all(|b| b.is_ascii_digit()));
    (ours && validate_run_name(run).is_ok()).then_some(run)
}

/// Name of a member's veth end inside the bridge namespace (`v-n3`, `v-ctl`).
pub fn bridge_port(member: &str) -> String {
    format!("v-{member}")
}

/// Name of the interface inside a node or control namespace.
pub const NODE_IF: &str = "eth0";
/// Name of the bridge device inside the bridge namespace.
pub const BRIDGE_IF: &str = "br0";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::NodeId;

    #[test]
    fn addresses_stay_in_range_and_slots_do_not_overlap() {
        for slot in [0, 1, 255, 256, SLOTS - 1] {
            for i in [1, 2, MAX_NODES] {
                assert!(in_range(node_addr(slot, i)), "{slot} {i}");
            }
            assert!(in_range(control_addr(slot)));
        }
        assert_eq!(node_addr(0, 1), Ipv4Addr::new(198, 18, 0, 1));
        assert_eq!(control_addr(1), Ipv4Addr::new(198, 18, 1, 254));
        assert_eq!(node_addr(SLOTS - 1, 5), Ipv4Addr::new(198, 19, 255, 5));
        assert!(!in_range(Ipv4Addr::new(198, 20, 0, 1)));
        assert!(!in_range(Ipv4Addr::new(198, 17, 255, 255)));
    }

    #[test]
    fn interface_names_fit_in_15_bytes() {
        assert!(bridge_port(&NodeId::nth(MAX_NODES).to_string()).len() <= 15);
        assert!(bridge_port("ctl").len() <= 15);
    }

    #[test]
    fn namespace_names_round_trip_to_their_run() {
        for ns in all_ns("my-run-7", 12) {
            assert_eq!(run_of_ns(&ns), Some("my-run-7"), "{ns}");
        }
        assert_eq!(run_of_ns("fl-x-n"), None);
        assert_eq!(run_of_ns("other-x-n1"), None);
        assert_eq!(run_of_ns("fl-x-eth"), None);
    }

    #[test]
    fn run_names_are_checked() {
        assert!(validate_run_name("ok-1").is_ok());
        for bad in ["", "Up", "a_b", "-a", "a-", &"x".repeat(41)] {
            assert!(validate_run_name(bad).is_err(), "{bad}");
        }
    }
}
