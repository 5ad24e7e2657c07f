//! Integration tests of the node runtimes: namespaces, and SSH against real sshd servers
//! inside namespaces (root required: CI is root).
//! One binary, a module per feature; every test uses its own run name, so they run in
//! parallel, and every cluster is an owned `Cluster` whose drop tears it down even when
//! an assertion fails.

mod cleanup;
mod network;
mod services;
mod ssh;
mod support;
mod vagrant;
