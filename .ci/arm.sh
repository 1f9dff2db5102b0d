#!/usr/bin/env bash
# .ci/arm.sh — build and test homeclaude for ARM on an x86_64 Debian machine,
# without Docker: Debian's cross gcc links, qemu user-mode emulation runs.
#
#   1. installs the cross toolchains and qemu (only what is missing);
#   2. adds the rustup targets;
#   3. mounts binfmt_misc and registers qemu for ARM ELF files, so an ARM binary
#      started by a test (env!("CARGO_BIN_EXE_homeclaude")) runs too;
#   4. runs the whole test suite for aarch64-unknown-linux-gnu under qemu
#      (through the `runner` in .cargo/config.toml);
#   5. runs the TLS tests for aarch64 (ring's assembly under qemu) and builds the
#      aarch64 release binary with TLS, to print what TLS costs;
#   6. builds the armv7 release binary, with and without TLS (and runs the armv7 tests unless
#      ARM_TEST_ARMV7=0);
#   7. prints the stripped release binary sizes and fails if aarch64 is over
#      HOMECLAUDE_MAX_AARCH64_BYTES (default 2 MiB, the size budget of issue 6).
#
# Idempotent: safe to run again; a warm run only rebuilds what changed.
# Needs root for apt-get and binfmt_misc (CI and dev machines here run as root).
# Never `dpkg --add-architecture`: that breaks later apt-get updates.
set -euo pipefail
cd "$(dirname "$0")/.."

AARCH64=aarch64-unknown-linux-gnu
ARMV7=armv7-unknown-linux-gnueabihf
MAX_AARCH64_BYTES=${HOMECLAUDE_MAX_AARCH64_BYTES:-2097152}
PACKAGES=(gcc-aarch64-linux-gnu gcc-arm-linux-gnueabihf libc6-dev-arm64-cross
          libc6-dev-armhf-cross qemu-user qemu-user-binfmt)

step() { printf '\n== arm.sh [%4ds] %s\n' "$SECONDS" "$*"; }

install_packages() {
    local missing=() p
    for p in "${PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' \
            || missing+=("$p")
    done
    if [ ${#missing[@]} -eq 0 ]; then
        echo "all cross packages already installed"
        return
    fi
    echo "installing: ${missing[*]}"
    # A stale index can make `update` exit non-zero while `install` still works.
    apt-get update -q || true
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}"
}

# qemu-user-binfmt ships the registrations in /usr/lib/binfmt.d, but its
# postinst relies on systemd-binfmt, which does not run in a container: do by
# hand what systemd-binfmt would (the .conf lines are in the kernel's own
# `register` format).
ensure_binfmt() {
    local dir=/proc/sys/fs/binfmt_misc arch conf
    if [ ! -e "$dir/register" ]; then
        mount -t binfmt_misc binfmt_misc "$dir"
    fi
    echo 1 > "$dir/status"
    for arch in aarch64 arm; do
        conf=/usr/lib/binfmt.d/qemu-$arch.conf
        if [ -e "$dir/qemu-$arch" ]; then
            echo 1 > "$dir/qemu-$arch"
        else
            grep -v '^#' "$conf" > "$dir/register"
        fi
        head -n 2 "$dir/qemu-$arch"
    done
    # Prove it before any test depends on it: run the ARM dynamic loader
    # directly, as the kernel would run a spawned ARM binary.
    QEMU_LD_PREFIX=/usr/aarch64-linux-gnu /usr/aarch64-linux-gnu/lib/ld-linux-aarch64.so.1 --version | head -n 1
    QEMU_LD_PREFIX=/usr/arm-linux-gnueabihf /usr/arm-linux-gnueabihf/lib/ld-linux-armhf.so.3 --version | head -n 1
}

release_bin() { echo "${CARGO_TARGET_DIR:-target}/$1/release/homeclaude"; }
size_of() { stat -c %s "$(release_bin "$1")"; }

step "install cross toolchains and qemu"
install_packages
qemu-aarch64 --version | head -n 1

step "rustup targets"
rustup target add "$AARCH64" "$ARMV7"

step "binfmt_misc"
ensure_binfmt

# QEMU_LD_PREFIX: where a qemu started by binfmt (a binary spawned by a test, not
# by cargo's runner) finds the ARM loader and glibc. Tests that spawn the binary
# must pass the environment through (no env_clear()) for this to reach it.
step "cargo test --target $AARCH64 (under qemu-aarch64)"
# Under emulation every test costs ten times its native time, and CI has 30
# minutes. So qemu runs the unit tests and the integration tests whose code
# differs by architecture (syscalls through rustix: sockets, poll, eventfd,
# process groups and signals, openat2 and inotify, fsync; memory bounds), not
# those that only exercise the same logic over the same syscalls again
# (approvals, whose absence-of-timeout test waits 61 s; the REST API, people,
# notify, git; all ran natively in .ci/test). ARM_TEST_ALL=1 runs everything.
# The real-CLI test runs the x86_64 CLI whatever the target, so it is skipped.
if [ "${ARM_TEST_ALL:-0}" = 1 ]; then
    ARM_TESTS=()
else
    ARM_TESTS=(--bins --test server --test runs --test hardening --test security
               --test replay --test history --test restart_loop --test watchdog
               --test files --test terminal)
fi
HOMECLAUDE_SKIP_REAL_CLI=1 QEMU_LD_PREFIX=/usr/aarch64-linux-gnu HOMECLAUDE_TEST_SLOWDOWN=${HOMECLAUDE_TEST_SLOWDOWN:-10} cargo test --no-fail-fast --target "$AARCH64" "${ARM_TESTS[@]}"

step "cargo test --features tls --test tls --target $AARCH64 (under qemu-aarch64)"
QEMU_LD_PREFIX=/usr/aarch64-linux-gnu HOMECLAUDE_TEST_SLOWDOWN=${HOMECLAUDE_TEST_SLOWDOWN:-10} cargo test --target "$AARCH64" --features tls --test tls

step "cargo build --release --features tls --target $AARCH64"
cargo build --release --features tls --target "$AARCH64"
TLS_BYTES=$(size_of "$AARCH64")

step "cargo build --release --target $AARCH64"
cargo build --release --target "$AARCH64"

# armv7: the claude CLI is not published for 32-bit ARM (docs/DEPLOY.md), so the
# server there only serves a box whose claude runs elsewhere. CI skips these two
# release builds (ARM_BUILD_ARMV7=0) to stay within its 30 minutes.
if [ "${ARM_BUILD_ARMV7:-1}" != 0 ]; then
    step "cargo build --release --features tls --target $ARMV7"
    cargo build --release --features tls --target "$ARMV7"
    TLS_ARMV7_BYTES=$(size_of "$ARMV7")

    step "cargo build --release --target $ARMV7"
    cargo build --release --target "$ARMV7"
else
    TLS_ARMV7_BYTES="-"
fi

if [ "${ARM_TEST_ARMV7:-1}" != 0 ]; then
    step "cargo test --target $ARMV7 (under qemu-arm)"
    HOMECLAUDE_SKIP_REAL_CLI=1 QEMU_LD_PREFIX=/usr/arm-linux-gnueabihf HOMECLAUDE_TEST_SLOWDOWN=${HOMECLAUDE_TEST_SLOWDOWN:-10} cargo test --target "$ARMV7"
fi

step "stripped release binary sizes (bytes)"
file "$(release_bin "$AARCH64")"
ARMV7_BYTES="-"
if [ "${ARM_BUILD_ARMV7:-1}" != 0 ]; then ARMV7_BYTES=$(size_of "$ARMV7"); fi
printf '%-44s %9s\n' "$AARCH64" "$(size_of "$AARCH64")" "$AARCH64 --features tls" "$TLS_BYTES" \
    "$ARMV7" "$ARMV7_BYTES" "$ARMV7 --features tls" "$TLS_ARMV7_BYTES"
if [ "$(size_of "$AARCH64")" -gt "$MAX_AARCH64_BYTES" ]; then
    echo "FAIL: aarch64 binary is over $MAX_AARCH64_BYTES bytes" >&2
    exit 1
fi

step "done"
