#!/usr/bin/env bash
# The whole test suite: the cargo tests (no root needed), then, as root, the
# end-to-end tests that run real vipd processes in network namespaces.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo test --all-targets 2>&1

if [ "$(id -u)" -ne 0 ]; then
    echo "netns-tests: skipped (they need root: run 'sudo scripts/test.sh')" >&2
    exit 0
fi
cargo build 2>&1
VIPD_BIN="$PWD/target/debug/vipd" bash netns-tests/run.sh
