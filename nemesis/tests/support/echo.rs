//! `faultline-nemesis-echo ADDR:PORT`: a bounded TCP echo server, started on nodes by the
//! nemesis's integration tests as a node's service (so kill and pause have a process).

fn main() {
    runtime::netns::probe::echo_main()
}
