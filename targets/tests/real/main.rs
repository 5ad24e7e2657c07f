//! Integration tests of the real targets (etcd, ZooKeeper, Consul) on namespace nodes:
//! short runs of the register, lock and list-append workloads through `harness::run`, each with the
//! leader killed and restarted mid-run, checked by the same checkers as any run.
//!
//! They need root (namespaces) and the systems' binaries: etcd and ZooKeeper are
//! installed with apt-get when missing (CI's `scripts/setup.sh` installs them up front);
//! Consul has no Debian package, so its test is ignored, with the reason, unless a
//! `consul` binary was on PATH (or `FAULTLINE_CONSUL_BIN` named one) when this crate
//! was built.

mod consul;
mod etcd;
mod support;
mod zookeeper;
