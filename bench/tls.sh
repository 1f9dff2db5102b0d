#!/usr/bin/env bash
# What TLS costs, for docs/PERFORMANCE.md: the core figures (bench/core.sh) from one
# binary built with `--features tls`, first over plain ws, then over wss with a
# throwaway certificate, back to back so the two tables are comparable. Run on a
# quiet machine (no compile on the other core).
# Usage: bench/tls.sh [--runs 3] [--rounds 200] [--burst 2000] [--idle-secs 10]
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet --features tls --bin homeclaude --bin fake-claude --example loadgen
ulimit -n 8192
echo "### plain (ws://)"
taskset -c 1 target/release/examples/loadgen --bin target/release/homeclaude "$@"
echo
echo "### TLS (wss://)"
taskset -c 1 target/release/examples/loadgen --bin target/release/homeclaude --tls "$@"
