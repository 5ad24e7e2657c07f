#!/usr/bin/env bash
# The main job (the README's first command): install prerequisites, build faultline,
# and run `faultline test` — by default on the bundled Raft, register workload,
# partition + kill faults, 5 nodes. Extra arguments go to `faultline test`.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
cargo build --release --quiet
exec ./target/release/faultline test "$@"
