//! Integration tests of the election workload: real candidate processes on service
//! nodes (network namespaces) campaigning on the bundled Raft, with the fenced resource
//! on the controller. Needs root (namespaces), as the other privileged tests.

mod paused_leader;
mod unreachable;
