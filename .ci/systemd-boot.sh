#!/usr/bin/env bash
# .ci/systemd-boot.sh — run systemd/homeclaude.service under a real systemd,
# with the real claude CLI inside its sandbox. Slower and heavier than
# .ci/systemd.sh (a Debian bookworm tree from debootstrap, ~1-4 min the first
# time, and the CLI from the npm registry, ~380 MB), so it is opt-in:
#
#   bash .ci/systemd-boot.sh          # as root; the trees are cached in /var/tmp
#
# It boots the tree with systemd-nspawn, installs the unit and the example env
# file unchanged, plus one test drop-in (WatchdogSec=4, so the watchdog test
# takes seconds), and a stand-in for homeclaude (Python) that speaks sd_notify,
# runs the checks below from inside the sandbox, and exits with a code on
# request. Checks:
#   sandbox   claude --version runs; `claude -p` gets as far as "Not logged in"
#             and writes ~/.claude and ~/.claude.json; the workdir, data dir and
#             /tmp are writable, /etc and /usr are not; /proc/loadavg readable;
#             no capabilities, no_new_privs, a seccomp filter; LimitNOFILE;
#   notify    `systemctl start` returns only after READY=1; STATUS= is shown;
#   watchdog  when the stand-in stops pinging, systemd kills and restarts it;
#   exit 100  restarted; exit 2: left failed; exit 0: left stopped;
#   stop      a child in its own process group is gone after `systemctl stop`.
# With HOMECLAUDE_BOOT_BIN=path/to/homeclaude (an x86_64 build of the real
# server), it then swaps the stand-in for that binary and checks that the real
# server reaches READY=1 under the unit, logs its login URL, answers /healthz,
# keeps the 4 s watchdog fed for 12 s, and stops cleanly.
set -euo pipefail
cd "$(dirname "$0")/.."

ROOT=${HOMECLAUDE_BOOT_ROOT:-/var/tmp/homeclaude-boot-root}
CLAUDE_PREFIX=${HOMECLAUDE_BOOT_CLAUDE:-/var/tmp/homeclaude-boot-claude}
CLAUDE_VERSION=${HOMECLAUDE_BOOT_CLAUDE_VERSION:-2.1.330}
HOME_DIR=/home/homeclaude

step() { printf '\n== systemd-boot [%4ds] %s\n' "$SECONDS" "$*"; }
fail() {
    if [ -n "${init:-}" ]; then ns journalctl -b -u homeclaude -o cat --no-pager | tail -n 25; fi
    echo "FAIL: $*" >&2
    exit 1
}

step "tools"
for pair in systemd-nspawn:systemd-container debootstrap:debootstrap npm:npm; do
    command -v "${pair%%:*}" >/dev/null && continue
    apt-get update -q || true
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${pair#*:}"
done

step "bookworm tree in $ROOT"
if [ ! -x "$ROOT/usr/lib/systemd/systemd" ]; then
    rm -rf "$ROOT"
    debootstrap --variant=minbase --include=systemd,systemd-sysv,dbus,python3-minimal,procps \
        bookworm "$ROOT" http://deb.debian.org/debian > /tmp/homeclaude-debootstrap.log
    chroot "$ROOT" useradd --system --create-home --home-dir "$HOME_DIR" --shell /bin/bash homeclaude
    echo homeclaude-boot > "$ROOT/etc/hostname"
fi

step "claude CLI $CLAUDE_VERSION"
claude_bin=$CLAUDE_PREFIX/lib/node_modules/@anthropic-ai/claude-code/bin/claude.exe
if ! "$claude_bin" --version 2>/dev/null | grep -q "^$CLAUDE_VERSION "; then
    npm install --global --prefix "$CLAUDE_PREFIX" "@anthropic-ai/claude-code@$CLAUDE_VERSION" >/dev/null
fi
"$claude_bin" --version

step "install the unit, the env file and the stand-in"
# Fresh home and state each run, so the checks see a first start.
rm -rf "${ROOT:?}$HOME_DIR" "$ROOT/var/lib/homeclaude" "$ROOT/var/lib/private/homeclaude"
chroot "$ROOT" install -d -o homeclaude -g homeclaude -m 750 \
    "$HOME_DIR" "$HOME_DIR/work" "$HOME_DIR/.local" "$HOME_DIR/.local/bin"
: > "$ROOT$HOME_DIR/.local/bin/claude"   # bind-mount target, as the native installer's path
install -m 644 systemd/homeclaude.service "$ROOT/etc/systemd/system/homeclaude.service"
install -d "$ROOT/etc/homeclaude" "$ROOT/etc/systemd/system/homeclaude.service.d"
install -m 640 systemd/homeclaude.env.example "$ROOT/etc/homeclaude/homeclaude.env"
chroot "$ROOT" chgrp homeclaude /etc/homeclaude/homeclaude.env
printf '[Service]\n# test only: seconds, not half a minute\nWatchdogSec=4\n' \
    > "$ROOT/etc/systemd/system/homeclaude.service.d/test.conf"
cat > "$ROOT/usr/local/bin/homeclaude" <<'PY'
#!/usr/bin/python3
# Stand-in for homeclaude: sd_notify, sandbox checks, exit codes on request.
import os, socket, subprocess, sys, time

def notify(msg):
    path = os.environ.get("NOTIFY_SOCKET", "")
    if path:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        s.sendto(msg.encode(), "\0" + path[1:] if path.startswith("@") else path)
        s.close()

def check(name, expect_ok, fn):
    try:
        detail, ok = repr(fn())[:300], True
    except Exception as e:
        detail, ok = f"{type(e).__name__}: {e}", False
    print(f"CHECK {'ok' if ok == expect_ok else 'FAILED'} {name}: {detail}", flush=True)

def run(cmd, cwd=None):
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=cwd)
    return f"exit={p.returncode} {p.stdout[-200:]}"

def write(path):
    with open(path, "w") as f:
        f.write("x")

home, work, data = os.environ["HOME"], os.environ["HOMECLAUDE_WORKDIR"], os.environ["HOMECLAUDE_DATA_DIR"]
if not os.path.exists(f"{home}/checks-done"):
    check("claude --version", True, lambda: run(["claude", "--version"]))
    check("claude -p reaches the login check", True,
          lambda: "Not logged in" in run(["claude", "-p", "hi", "--output-format", "stream-json", "--verbose"], cwd=work) or 1 / 0)
    check("~/.claude written", True, lambda: os.listdir(f"{home}/.claude"))
    check("~/.claude.json written", True, lambda: os.path.getsize(f"{home}/.claude.json"))
    check("workdir writable", True, lambda: write(f"{work}/probe"))
    check("data dir writable", True, lambda: write(f"{data}/probe"))
    check("/tmp writable", True, lambda: write("/tmp/probe"))
    check("/etc read-only", False, lambda: write("/etc/probe"))
    check("/usr read-only", False, lambda: write("/usr/local/probe"))
    check("/proc/loadavg readable", True, lambda: open("/proc/loadavg").read())
    status = open("/proc/self/status").read()
    check("no capabilities", True, lambda: "CapEff:\t0000000000000000" in status or 1 / 0)
    check("no_new_privs", True, lambda: "NoNewPrivs:\t1" in status or 1 / 0)
    check("seccomp filter", True, lambda: "Seccomp:\t2" in status or 1 / 0)
    check("LimitNOFILE raised", True,
          lambda: [l for l in open("/proc/self/limits") if l.startswith("Max open files")][0].split()[3] != "1024" or 1 / 0)
    write(f"{home}/checks-done")

child = subprocess.Popen(["sleep", "1000"], process_group=0)   # like a claude run
notify("READY=1\nSTATUS=stand-in: ready")
print("ready", flush=True)
period = int(os.environ.get("WATCHDOG_USEC", "0")) / 4e6 or 0.5
while True:
    if os.path.exists(f"{home}/exit-code"):
        code = int(open(f"{home}/exit-code").read())
        os.unlink(f"{home}/exit-code")
        notify("STOPPING=1")
        sys.exit(code)
    if not os.path.exists(f"{home}/wedge"):
        notify("WATCHDOG=1")
    time.sleep(period)
PY
chmod 755 "$ROOT/usr/local/bin/homeclaude"
chroot "$ROOT" systemctl enable homeclaude.service 2>/dev/null

step "boot"
systemd-nspawn -D "$ROOT" -b -M homeclaude-boot --register=no --keep-unit --console=passive \
    --bind-ro="$claude_bin:$HOME_DIR/.local/bin/claude" > /tmp/homeclaude-nspawn.log 2>&1 &
nspawn=$!
trap 'kill "$nspawn" 2>/dev/null; wait "$nspawn" 2>/dev/null || true' EXIT
init=
for _ in $(seq 100); do
    init=$(pgrep -P "$nspawn" || true)
    [ -n "$init" ] && break
    sleep 0.1
done
[ -n "$init" ] || { cat /tmp/homeclaude-nspawn.log; fail "container did not start"; }
ns() { nsenter -t "$init" -a "$@"; }
as_homeclaude() { ns runuser -u homeclaude -- "$@"; }
for _ in $(seq 300); do
    state=$(ns systemctl is-system-running 2>/dev/null || true)
    case $state in running|degraded) break ;; esac
    sleep 0.1
done
echo "system: $state"
show() { ns systemctl show -p "$1" --value homeclaude; }
# Waits up to 30 s for `systemctl show -p $1` to become $2.
wait_for() {
    for _ in $(seq 300); do [ "$(show "$1")" = "$2" ] && return 0; sleep 0.1; done
    fail "$1 is $(show "$1"), not $2"
}

step "sandbox and READY=1 (the unit is enabled: started at boot)"
ns systemctl start homeclaude || fail "start"    # returns after READY=1
wait_for SubState running
[ "$(show StatusText)" = "stand-in: ready" ] || fail "no STATUS= from sd_notify"
checks=$(ns journalctl -b -u homeclaude -o cat --no-pager | grep '^CHECK' || true)
echo "$checks"
[ "$(grep -c '^CHECK ok' <<<"$checks")" -eq 14 ] || fail "sandbox checks"

step "watchdog: stop pinging"
restarts=$(show NRestarts)
as_homeclaude touch "$HOME_DIR/wedge"
wait_for Result watchdog
as_homeclaude rm "$HOME_DIR/wedge"
wait_for NRestarts $((restarts + 1))
wait_for SubState running

step "exit 100: restarted"
restarts=$(show NRestarts)
as_homeclaude sh -c "echo 100 > $HOME_DIR/exit-code"
wait_for NRestarts $((restarts + 1))
wait_for SubState running

step "exit 2: left failed"
as_homeclaude sh -c "echo 2 > $HOME_DIR/exit-code"
wait_for ActiveState failed
[ "$(show ExecMainStatus)" = 2 ] || fail "exit status $(show ExecMainStatus)"
ns systemctl reset-failed homeclaude

step "exit 0: left stopped"
ns systemctl start homeclaude
as_homeclaude sh -c "echo 0 > $HOME_DIR/exit-code"
wait_for ActiveState inactive
[ "$(show Result)" = success ] || fail "result $(show Result)"

step "stop: the child's process group goes too"
ns systemctl start homeclaude
ns pgrep -u homeclaude -x sleep >/dev/null || fail "no child"
ns systemctl stop homeclaude
if ns pgrep -u homeclaude -x sleep; then fail "child survived systemctl stop"; fi

ns journalctl -b -u homeclaude -o short-precise --no-pager | grep -E 'Watchdog|status=|Scheduled restart' | tail -n 8

if [ -n "${HOMECLAUDE_BOOT_BIN:-}" ]; then
    step "the real server: $HOMECLAUDE_BOOT_BIN"
    install -m 755 "$HOMECLAUDE_BOOT_BIN" "$ROOT/usr/local/bin/homeclaude"
    ns systemctl reset-failed homeclaude 2>/dev/null || true
    started=$SECONDS
    ns systemctl start homeclaude || fail "real server: no READY=1"
    echo "READY=1 after $((SECONDS - started)) s; status: $(show StatusText)"
    [ -n "$(show StatusText)" ] || fail "real server: no STATUS="
    ns journalctl -b -u homeclaude -o cat --no-pager | grep -m 1 'login?token=' | sed 's/token=.*/token=.../'
    # shellcheck disable=SC2016  # expanded inside the container's bash
    healthz=$(ns bash -c 'exec 3<>/dev/tcp/127.0.0.1/8765
        printf "GET /healthz HTTP/1.0\r\nHost: 127.0.0.1:8765\r\n\r\n" >&3; cat <&3')
    head -n 1 <<<"$healthz"
    grep -q '^HTTP/1.[01] 200' <<<"$healthz" || fail "real server: /healthz"
    restarts=$(show NRestarts)
    sleep 12    # three watchdog periods: time has to pass for this one
    if [ "$(show NRestarts)" != "$restarts" ] || [ "$(show SubState)" != running ]; then
        fail "real server: the watchdog fired"
    fi
    ns systemctl stop homeclaude
    [ "$(show Result)" = success ] || fail "real server: stop result $(show Result)"
    echo "ok: ready, healthz, watchdog fed, clean stop"
fi
step "all checks passed"
