#!/usr/bin/env bash
# .ci/systemd.sh — check the deploy files in systemd/ without booting systemd:
#   * `systemd-analyze verify` on homeclaude.service, failing on any warning
#     (verify exits 0 on unknown keys and bad values, it only prints them);
#   * `systemd-analyze security --offline` exposure report, for the log;
#   * the example env file is plain KEY=value lines and names every setting;
#   * shellcheck on the shell scripts (if shellcheck can be installed).
# The restart loop's behaviour is tested by `cargo test` (tests/restart_loop.rs).
#
# verify refuses a unit whose ExecStart= binary does not exist ("Command
# /usr/local/bin/homeclaude is not executable"), and CI must not install into
# /usr/local/bin. So it verifies a copy in a temp dir whose ExecStart= points at
# the binary cargo just built; the copy differs in that one line only (checked).
set -euo pipefail
cd "$(dirname "$0")/.."

need() {  # need COMMAND PACKAGE: install PACKAGE if COMMAND is missing
    command -v "$1" >/dev/null && return
    apt-get update -q || true
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$2"
}
need systemd-analyze systemd
need shellcheck shellcheck || echo "shellcheck unavailable: skipping it"

cargo build --quiet
bin=$(realpath "${CARGO_TARGET_DIR:-target}")/debug/homeclaude
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

unit=systemd/homeclaude.service
copy=$work/homeclaude.service
sed "s|^ExecStart=/usr/local/bin/homeclaude\$|ExecStart=$bin|" "$unit" > "$copy"
changed=$(diff "$unit" "$copy" | grep -c '^[<>]' || true)
if [ "$changed" -ne 2 ]; then
    echo "FAIL: expected exactly one ExecStart=/usr/local/bin/homeclaude line in $unit" >&2
    exit 1
fi

echo "== systemd-analyze verify $unit"
systemd-analyze --version | head -n 1
out=$(systemd-analyze verify --man=no "$copy" 2>&1) || { echo "$out"; exit 1; }
if [ -n "$out" ]; then
    echo "$out"
    echo "FAIL: systemd-analyze verify printed warnings" >&2
    exit 1
fi
echo "ok: no warnings"

echo "== systemd-analyze security --offline=yes (lower is better)"
systemd-analyze security --offline=yes --no-pager "$copy" 2>&1 | grep -E '^→' || true

echo "== systemd/homeclaude.env.example"
env_file=systemd/homeclaude.env.example
bad=$(grep -vnE '^(#.*)?$|^[A-Z_][A-Z0-9_]*=' "$env_file" || true)
if [ -n "$bad" ]; then
    echo "$bad"
    echo "FAIL: lines that are neither comments nor KEY=value" >&2
    exit 1
fi
for var in HOMECLAUDE_LISTEN HOMECLAUDE_WORKDIR HOMECLAUDE_DATA_DIR HOMECLAUDE_CLAUDE \
           HOMECLAUDE_MODEL HOMECLAUDE_PERMISSION_MODE HOMECLAUDE_CLAUDE_ARGS \
           HOMECLAUDE_TOKEN HOMECLAUDE_PASSWORD_HASH RUST_LOG; do
    grep -qE "^#?$var=" "$env_file" || { echo "FAIL: $env_file does not mention $var" >&2; exit 1; }
done
echo "ok"

if command -v shellcheck >/dev/null; then
    echo "== shellcheck"
    # The deploy scripts by name: other scripts answer to their own owners.
    shellcheck systemd/homeclaude-loop.sh .ci/arm.sh .ci/systemd.sh .ci/systemd-boot.sh bench/sizes.sh
    echo "ok"
fi
