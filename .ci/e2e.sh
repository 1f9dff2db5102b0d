#!/usr/bin/env bash
# End-to-end tests of the page: the real binary and the fake claude, driven in
# Debian's headless Chromium by playwright-core. Called by .ci/run; runs alone too:
#   .ci/e2e.sh            install what is missing, build, run every test
#   .ci/e2e.sh chat       only tests/e2e/chat.test.mjs
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v chromium >/dev/null; then
  apt-get update
  apt-get install -y chromium
fi
# openssl makes the TLS test's throwaway certificate.
command -v openssl >/dev/null || { apt-get update || true; apt-get install -y openssl; }
command -v node >/dev/null || { echo "e2e: node is not installed" >&2; exit 1; }
(cd tests/e2e && npm ci --no-audit --no-fund)

# Both binaries the tests start: the server and the fake CLI.
# With TLS built in, so tls.test.mjs can serve https; the other tests serve plain
# http from the same binary.
CARGO_BUILD_JOBS="${CARGO_BUILD_JOBS:-1}" cargo build --bins --features tls

args=()
for name in "$@"; do args+=("tests/e2e/${name%.test.mjs}.test.mjs"); done
node tests/e2e/run.mjs "${args[@]}"
