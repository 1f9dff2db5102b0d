#!/usr/bin/env bash
# Benchmarks `homeclaude usage --json` against ccusage 20.0.24 (compiled)
# and 18.0.11 (Node) on a generated ~100 MB transcript tree of 400 sessions.
#
#   bench/usage.sh [WORKDIR]        (default /tmp/homeclaude-usage-bench)
#
# Cold: no cache. Warm: after one more run is appended to the newest
# session, with the cache of the previous invocation (ccusage has no cache,
# so its runs are all cold). Each figure is the median of 3 runs; wall time
# in ms from a bare run, CPU time and peak RSS from a run under
# `/usr/bin/time -v` (CPU from `perf stat` task-clock when perf is there:
# GNU time reports it in 10 ms steps).
# Day-by-day equality with ccusage on a store with resumed sessions (copied
# prefixes, issue 14): bench/usage-compare.sh.
# Needs: cargo, node + npm (registry access for the two ccusage versions),
# GNU time, taskset. Run it on an otherwise idle machine: it prints the load
# average before and after so a busy run can be recognised.
set -euo pipefail

WORK=${1:-/tmp/homeclaude-usage-bench}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
TREE=$WORK/tree
DATA=$WORK/data
mkdir -p "$WORK"

echo "building (release)..." >&2
(cd "$ROOT" && CARGO_BUILD_JOBS=1 cargo build --release -q --bin homeclaude --example gen_transcripts)
HC=$ROOT/target/release/homeclaude
GEN=$ROOT/target/release/examples/gen_transcripts

for version in 20.0.24 18.0.11; do
  if [ ! -d "$WORK/ccusage-$version/node_modules/ccusage" ]; then
    echo "installing ccusage $version..." >&2
    npm install --silent --prefix "$WORK/ccusage-$version" "ccusage@$version" >/dev/null 2>&1
  fi
done
CC20=$(ls "$WORK"/ccusage-20.0.24/node_modules/@ccusage/ccusage-linux-*/bin/ccusage)
chmod +x "$CC20"   # the npm wrapper does this on first use; we call the binary directly
CC18="node $WORK/ccusage-18.0.11/node_modules/ccusage/dist/index.js"

rm -rf "$TREE" "$DATA"
"$GEN" --out "$TREE" --sessions 400 --seed 42 --mb 100 >&2
export CLAUDE_CONFIG_DIR=$TREE
TREE_MB=$(du -sm "$TREE/projects" | cut -f1)
FILES=$(find "$TREE/projects" -name '*.jsonl' | wc -l)

# median of three numbers on stdin
median() { sort -g | sed -n 2p; }

# wall ms of one bare run
wall_ms() {
  local t0 t1
  t0=$(date +%s%N)
  "$@" >/dev/null 2>&1
  t1=$(date +%s%N)
  echo $(( (t1 - t0) / 1000000 ))
}

# "peak-RSS-MB cpu-ms" of one run under GNU time (CPU = user + system; it
# is less disturbed than wall time when other work shares the cores)
rss_cpu() {
  /usr/bin/time -v "$@" 2>&1 >/dev/null | awk -F': ' '
    /Maximum resident/ {rss = $2 / 1024}
    /User time/ {cpu += $2}
    /System time/ {cpu += $2}
    END {printf "%.1f %d\n", rss, cpu * 1000}'
}

# measure LABEL PREP CMD... : PREP is run (not timed) before each of 3 runs
measure() {
  local label=$1 prep=$2; shift 2
  local walls=() rsss=() cpus=() out
  for _ in 1 2 3; do
    eval "$prep"
    walls+=("$(wall_ms "$@")")
    eval "$prep"
    out=$(rss_cpu "$@")
    rsss+=("${out% *}")
    if command -v perf >/dev/null; then
      # perf's task-clock has sub-millisecond resolution, GNU time's 10 ms.
      eval "$prep"
      cpus+=("$(perf stat -x, -e task-clock -- "$@" 2>&1 >/dev/null | awk -F, '/task-clock/ {printf "%.1f\n", $1}')")
    else
      cpus+=("${out#* }")
    fi
  done
  printf '| %s | %s ms | %s ms | %s MB | `%s` |\n' "$label" \
    "$(printf '%s\n' "${walls[@]}" | median)" \
    "$(printf '%s\n' "${cpus[@]}" | median)" \
    "$(printf '%s\n' "${rsss[@]}" | median)" "$*"
}

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
echo
echo "Tree: $TREE_MB MB, $FILES files, 400 sessions (seed 42). $(nproc) cores; load before: $LOAD_BEFORE"
echo
echo '| what | wall | CPU (user+sys) | peak RSS | command |'
echo '|---|---|---|---|---|'
cold_prep="rm -rf '$DATA'"
measure "homeclaude cold" "$cold_prep" "$HC" usage --json --data-dir "$DATA"
measure "homeclaude cold, one core" "$cold_prep" taskset -c 0 "$HC" usage --json --data-dir "$DATA"
"$HC" usage --json --data-dir "$DATA" >/dev/null
sleep 2.1 # let directory listings age past the racy window, as they would
"$HC" usage --json --data-dir "$DATA" >/dev/null
measure "homeclaude warm (after appending one run)" "'$GEN' --out '$TREE' --append-run >/dev/null" \
  "$HC" usage --json --data-dir "$DATA"
measure "homeclaude warm, nothing new" ":" "$HC" usage --json --data-dir "$DATA"
measure "ccusage 20.0.24 daily" ":" "$CC20" daily --json --offline
measure "ccusage 20.0.24 blocks" ":" "$CC20" blocks --json --offline
measure "ccusage 20.0.24 daily, one core" ":" taskset -c 0 "$CC20" daily --json --offline
measure "ccusage 18.0.11 daily" ":" $CC18 daily --json --offline
measure "ccusage 18.0.11 blocks" ":" $CC18 blocks --json --offline
echo
echo "Load after: $(cut -d' ' -f1-3 /proc/loadavg)"

# Same figures? Every day, and the totals, against ccusage 20.0.24.
"$HC" usage --daily --no-cache > "$WORK/homeclaude-daily.json"
"$CC20" daily --json --offline > "$WORK/ccusage20-daily.json"
node -e '
const hc = require(process.argv[1]), cc = require(process.argv[2]);
const byDay = new Map(cc.daily.map(d => [d.period ?? d.date, d]));
let diffs = 0;
for (const d of hc.daily) {
  const c = byDay.get(d.date);
  byDay.delete(d.date);
  if (!c) { diffs++; console.log("only homeclaude:", d.date); continue; }
  for (const k of ["inputTokens","outputTokens","cacheCreationTokens","cacheReadTokens","totalTokens"])
    if (d[k] !== c[k]) { diffs++; console.log(d.date, k, d[k], c[k]); }
  if (Math.abs(d.totalCost - c.totalCost) >= 0.005) { diffs++; console.log(d.date, "cost", d.totalCost, c.totalCost); }
  if (JSON.stringify(d.modelsUsed) !== JSON.stringify(c.modelsUsed)) { diffs++; console.log(d.date, "models"); }
}
for (const k of byDay.keys()) { diffs++; console.log("only ccusage:", k); }
const t = hc.totals, u = cc.totals;
console.log(`days: ${hc.daily.length}, differing figures: ${diffs}; total cost homeclaude $${t.totalCost.toFixed(2)}, ccusage 20.0.24 $${u.totalCost.toFixed(2)}; total tokens ${t.totalTokens} vs ${u.totalTokens}`);
' "$WORK/homeclaude-daily.json" "$WORK/ccusage20-daily.json"
