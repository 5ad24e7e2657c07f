//! `faultline-test-echo ADDR:PORT`: a bounded TCP echo server, started on nodes by the
//! runtime's integration tests as a node's service.

fn main() {
    runtime::netns::probe::echo_main()
}
