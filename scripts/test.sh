#!/usr/bin/env bash
# The project's test command (the README's second command): formatting, lints, every test.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
cargo fmt --all -- --check
cargo clippy --workspace --all-targets -- -D warnings
cargo test --workspace --all-targets
# Leave nothing behind: no faultline namespace may survive the suite.
if ip netns list 2>/dev/null | grep -q '^fl-'; then
  echo "test: leftover faultline namespaces:"; ip netns list | grep '^fl-'; exit 1
fi
