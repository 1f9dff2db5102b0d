#!/usr/bin/env bash
# Soak benchmark for docs/PERFORMANCE.md ("Soak"): the release binary on loopback,
# bounded in time, under honest load and attack at once (examples/soak.rs says
# what each party does). The server is pinned to CPU 0, the load to CPU 1. Run on
# a quiet machine (nothing compiling).
# Usage: bench/soak.sh [--minutes 10 | --seconds 60]
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet --bin homeclaude --bin fake-claude --example soak
# 1,500 slowloris sockets, 200 clients and the attackers: ~2,000 descriptors on
# each side, two per not-logged-in connection on the server.
ulimit -n 16384
SOAK_SERVER_CPU=0 exec taskset -c 1 target/release/examples/soak \
  --bin target/release/homeclaude "$@"
