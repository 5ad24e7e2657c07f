//! Nemesis against real namespaces (root required: CI is root). One binary, a module per
//! feature; every test brings up its own uniquely named cluster, torn down on drop.

mod faults;
mod partitions;
mod support;
