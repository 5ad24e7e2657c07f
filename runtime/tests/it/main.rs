//! Integration tests of the namespace cluster runtime (root required: CI is root).
//! One binary, a module per feature; every test uses its own run name, so they run in
//! parallel, and every cluster is an owned `Cluster` whose drop tears it down even when
//! an assertion fails.

mod cleanup;
mod network;
mod services;
mod ssh;
mod support;
