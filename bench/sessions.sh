#!/usr/bin/env bash
# Session-listing benchmark for docs/PERFORMANCE.md ("Session listing"): builds the
# example and runs it on one core. It writes ~500 MB of session files to $TMPDIR
# first and removes them at the end. Run on a quiet machine (no compile running).
# Usage: bench/sessions.sh [--files 5000] [--size 100000] [--runs 5] [--drop-cache]
#        [--dir PATH]  (keep the generated store there and reuse it next time)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet --example sessions_bench
exec taskset -c 1 target/release/examples/sessions_bench "$@"
