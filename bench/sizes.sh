#!/usr/bin/env bash
# bench/sizes.sh — build the release binary for each deploy target and print
# its size (stripped: [profile.release] has strip = true) as a Markdown table
# for docs/PERFORMANCE.md, with the newest glibc symbol version it needs.
#
#   bench/sizes.sh                      # the default targets below
#   bench/sizes.sh aarch64-unknown-linux-gnu armv7-unknown-linux-gnueabihf
#   CARGO_PROFILE_RELEASE_OPT_LEVEL=s bench/sizes.sh    # try another setting
#
# Needs the cross linkers from .cargo/config.toml (run .ci/arm.sh once, or
# apt-get install gcc-aarch64-linux-gnu gcc-arm-linux-gnueabihf
# libc6-dev-arm64-cross libc6-dev-armhf-cross). A target whose std cannot be
# fetched by rustup, or whose linker is missing, is reported and skipped.
set -euo pipefail
cd "$(dirname "$0")/.."

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    targets=(x86_64-unknown-linux-gnu aarch64-unknown-linux-gnu armv7-unknown-linux-gnueabihf
             aarch64-unknown-linux-musl arm-unknown-linux-gnueabihf)
fi

linker_of() {
    case $1 in
        x86_64-*) echo cc ;;
        aarch64-*) echo aarch64-linux-gnu-gcc ;;
        arm*) echo arm-linux-gnueabihf-gcc ;;
        *) echo unknown ;;
    esac
}

rows=()
for t in "${targets[@]}"; do
    if ! command -v "$(linker_of "$t")" >/dev/null; then
        rows+=("| $t | skipped: no linker $(linker_of "$t") | | |")
        continue
    fi
    if ! rustup target add "$t" >/dev/null 2>&1; then
        rows+=("| $t | skipped: rustup cannot fetch its std | | |")
        continue
    fi
    if ! cargo build --release --quiet --target "$t"; then
        rows+=("| $t | build failed | | |")
        continue
    fi
    bin=target/$t/release/homeclaude
    bytes=$(stat -c %s "$bin")
    mib=$(awk -v b="$bytes" 'BEGIN { printf "%.2f", b / 1048576 }')
    glibc=$(readelf -V --wide "$bin" 2>/dev/null | grep -o 'GLIBC_[0-9.]*' | sort -Vu | tail -n 1 || true)
    kind=$(file -b "$bin" | grep -oE 'statically linked|static-pie linked|dynamically linked' || true)
    stripped=$(file -b "$bin" | grep -oE 'not stripped|stripped' || true)
    rows+=("| $t | $bytes | $mib | ${glibc:-none} ($kind, $stripped) |")
done

echo "rustc: $(rustc --version); opt-level: ${CARGO_PROFILE_RELEASE_OPT_LEVEL:-as in Cargo.toml}"
echo
echo "| target | bytes | MiB | needs glibc |"
echo "|---|---:|---:|---|"
printf '%s\n' "${rows[@]}"
