#!/usr/bin/env bash
# Core benchmark for docs/PERFORMANCE.md: builds the release binary and the load
# generator, then runs the generator pinned to CPU 1 while it starts the server
# pinned to CPU 0. Run on a quiet machine (no compile on the other core).
# Usage: bench/core.sh [--runs 3] [--rounds 200] [--burst 2000] [--idle-secs 10]
#        bench/core.sh --with-runs [--fsync-delay-ms 100]   (prompts streaming meanwhile)
#                      [--run-pace-ms 20] [--round-gap-ms 20]  (0 0: saturating stress)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet --bin homeclaude --bin fake-claude --example loadgen
# 1000 clients need ~2 descriptors each on the server and one in the generator.
ulimit -n 8192
exec taskset -c 1 target/release/examples/loadgen --bin target/release/homeclaude "$@"
