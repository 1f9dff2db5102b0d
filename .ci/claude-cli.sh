#!/usr/bin/env bash
# Installs the pinned `claude` CLI (the npm package of the native Linux x64 build)
# into target/claude-cli, for the fixture recordings and the real-CLI end-to-end
# test (tests/real_cli.rs). Idempotent: when that version is already there it does
# nothing, so it works offline after the first run. target/ is gitignored, so the
# 200+ MB package never reaches a commit.
set -euo pipefail
cd "$(dirname "$0")/.."
VERSION=2.1.330
PKG=@anthropic-ai/claude-code-linux-x64
DIR=target/claude-cli
BIN="$DIR/node_modules/$PKG/claude"
if [ -x "$BIN" ] && [ "$(cat "$DIR/.version" 2>/dev/null)" = "$VERSION" ]; then
    echo "claude CLI $VERSION already in $DIR"
    exit 0
fi
mkdir -p "$DIR"
# --prefix installs into $DIR/node_modules without a package.json of ours; no
# scripts run (the package is a prebuilt binary and needs none).
npm install --prefix "$DIR" --no-save --ignore-scripts --no-audit --no-fund "$PKG@$VERSION"
test -x "$BIN" || { echo "no executable at $BIN after npm install" >&2; exit 1; }
echo "$VERSION" > "$DIR/.version"
echo "claude CLI $VERSION installed: $BIN"
