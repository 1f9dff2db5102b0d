#!/usr/bin/env bash
# Compares `homeclaude usage --daily` with `ccusage daily --json --offline`
# (20.0.24, the compiled release) day by day on a generated transcript store
# that has resumed sessions: files that start with a verbatim copy of an
# earlier session's lines (issue 14). Exits 1 if any figure differs.
#
#   bench/usage-compare.sh [WORKDIR] [gen_transcripts options...]
#
# WORKDIR defaults to /tmp/homeclaude-usage-compare; the generator options
# to `--sessions 40 --mb 10 --seed 7 --resumed 4 --end 2026-11-23T16:00:00Z`.
# Both tools run with the same TZ (default UTC; set TZ to try another zone).
# homeclaude runs twice: without the cache, and from the cache of a first run.
# Needs: cargo, node + npm (registry access for ccusage).
set -euo pipefail

WORK=${1:-/tmp/homeclaude-usage-compare}
shift || true
GEN_ARGS=("$@")
if [ ${#GEN_ARGS[@]} -eq 0 ]; then
  GEN_ARGS=(--sessions 40 --mb 10 --seed 7 --resumed 4 --end 2026-11-23T16:00:00Z)
fi
ROOT=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$WORK"
export TZ=${TZ:-UTC}

echo "building (release)..." >&2
(cd "$ROOT" && CARGO_BUILD_JOBS=1 cargo build --release -q --bin homeclaude --example gen_transcripts)
HC=$ROOT/target/release/homeclaude
GEN=$ROOT/target/release/examples/gen_transcripts

if [ ! -d "$WORK/ccusage-20.0.24/node_modules/ccusage" ]; then
  echo "installing ccusage 20.0.24..." >&2
  npm install --silent --prefix "$WORK/ccusage-20.0.24" ccusage@20.0.24 >/dev/null 2>&1
fi
CC20=$(ls "$WORK"/ccusage-20.0.24/node_modules/@ccusage/ccusage-linux-*/bin/ccusage)
chmod +x "$CC20" # the npm wrapper does this on first use; we call the binary directly

rm -rf "$WORK/tree" "$WORK/data"
"$GEN" --out "$WORK/tree" "${GEN_ARGS[@]}" >&2
export CLAUDE_CONFIG_DIR=$WORK/tree

"$CC20" daily --json --offline >"$WORK/ccusage.json"
"$HC" usage --daily --no-cache >"$WORK/homeclaude.json"
"$HC" usage --daily --data-dir "$WORK/data" >/dev/null
"$HC" usage --daily --data-dir "$WORK/data" >"$WORK/homeclaude-cached.json"

node -e '
const [cc, ...runs] = process.argv.slice(1).map(f => [f, require(f)]);
let diffs = 0;
for (const [file, hc] of runs) {
  const byDay = new Map(cc[1].daily.map(d => [d.period ?? d.date, d]));
  for (const d of hc.daily) {
    const c = byDay.get(d.date);
    byDay.delete(d.date);
    if (!c) { diffs++; console.log(file, "only homeclaude:", d.date); continue; }
    for (const k of ["inputTokens", "outputTokens", "cacheCreationTokens", "cacheReadTokens", "totalTokens"])
      if (d[k] !== c[k]) { diffs++; console.log(file, d.date, k, d[k], "vs", c[k]); }
    if (Math.abs(d.totalCost - c.totalCost) > 1e-6) { diffs++; console.log(file, d.date, "cost", d.totalCost, "vs", c.totalCost); }
    if (JSON.stringify(d.modelsUsed) !== JSON.stringify(c.modelsUsed)) { diffs++; console.log(file, d.date, "models"); }
  }
  for (const k of byDay.keys()) { diffs++; console.log(file, "only ccusage:", k); }
  const t = hc.totals, u = cc[1].totals;
  console.log(`${file.split("/").pop()}: ${hc.daily.length} days; total $${t.totalCost.toFixed(6)} vs ccusage 20.0.24 $${u.totalCost.toFixed(6)}; tokens ${t.totalTokens} vs ${u.totalTokens}; output ${t.outputTokens} vs ${u.outputTokens}`);
}
console.log(diffs ? `${diffs} differing figures` : "every day equal");
process.exit(diffs ? 1 : 0);
' "$WORK/ccusage.json" "$WORK/homeclaude.json" "$WORK/homeclaude-cached.json"
