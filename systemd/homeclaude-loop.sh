#!/bin/sh
# homeclaude-loop.sh — keep homeclaude running on a box without systemd (a NAS,
# a container, an old init). Where systemd exists, use homeclaude.service.
#
#   homeclaude-loop.sh [homeclaude flags...]     e.g. --listen 0.0.0.0:8765
#
# What it does with each exit of homeclaude:
#   0          stop (a clean shutdown): the loop exits 0;
#   2          stop (bad configuration, a restart cannot fix it): exits 2;
#   100        start again at once (the chat's `restart` command);
#   any other  (a crash, a signal) start again after a back-off that doubles
#              from HOMECLAUDE_BACKOFF_BASE up to HOMECLAUDE_BACKOFF_MAX seconds,
#              and falls back to the base after a run that lasted at least
#              HOMECLAUDE_BACKOFF_RESET seconds or ended in a restart request.
# SIGTERM or SIGINT (Ctrl-C) to the loop is passed on to homeclaude as SIGTERM
# (a program that sh starts in the background has SIGINT ignored, and both mean
# "shut down" to homeclaude); the loop then waits for it to exit and exits with
# its status, restarting nothing. A second signal sends SIGKILL.
#
# Start it at boot however the box allows, e.g. from /etc/rc.local:
#   su homeclaude -c 'nohup /usr/local/bin/homeclaude-loop.sh >>/var/log/homeclaude.log 2>&1 &'
#
# Environment (all optional):
#   HOMECLAUDE_BIN            program to run (default /usr/local/bin/homeclaude)
#   HOMECLAUDE_BACKOFF_BASE   first delay after a crash, seconds (default 1)
#   HOMECLAUDE_BACKOFF_MAX    longest delay, seconds (default 60)
#   HOMECLAUDE_BACKOFF_RESET  a run this long, seconds, resets the delay (default 60)
#   HOMECLAUDE_LOOP_SLEEP     the command that waits out a delay (default sleep);
#                             for tests, which record the delays instead
# plus the HOMECLAUDE_* settings of homeclaude itself, which it inherits.
set -u

bin=${HOMECLAUDE_BIN:-/usr/local/bin/homeclaude}
base=${HOMECLAUDE_BACKOFF_BASE:-1}
max=${HOMECLAUDE_BACKOFF_MAX:-60}
reset_after=${HOMECLAUDE_BACKOFF_RESET:-60}
sleep_cmd=${HOMECLAUDE_LOOP_SLEEP:-sleep}

log() { printf '%s homeclaude-loop: %s\n' "$(date '+%Y-%m-%dT%H:%M:%S')" "$*" >&2; }

child=
sleeper=
stopping=

# A trapped signal interrupts `wait` at once; remember it and pass it on to
# whatever we are waiting for. homeclaude gets SIGTERM, or SIGKILL on a second
# signal: a SIGTERM that lands between fork and exec is lost (the child still
# runs this shell's handler), so there must be a way to insist. The back-off
# sleep gets SIGKILL straight away for the same reason.
on_signal() {
    if [ -n "$stopping" ]; then sig=KILL; else sig=TERM; fi
    stopping=$1
    if [ -n "$child" ]; then kill -s "$sig" "$child" 2>/dev/null; fi
    if [ -n "$sleeper" ]; then kill -s KILL "$sleeper" 2>/dev/null; fi
}
trap 'on_signal TERM' TERM
trap 'on_signal INT' INT

# Waits for process $1 even across trapped signals; sets $status to its exit
# status (128+N if signal N killed it). A trap makes `wait` return 128+N early:
# if the process still exists (a zombie still answers kill -0), wait again; if
# the shell already reaped it, a second `wait` fetches the status it kept, and
# answers 127 only when the first `wait` had reported a real death by signal.
wait_for() {
    wait "$1"
    status=$?
    while [ "$status" -gt 128 ]; do
        if kill -0 "$1" 2>/dev/null; then
            wait "$1"
            status=$?
        else
            wait "$1"
            again=$?
            if [ "$again" -ne 127 ]; then status=$again; fi
            return 0
        fi
    done
}

delay=$base
while :; do
    started=$(date +%s)
    "$bin" "$@" &
    child=$!
    # A signal that came before $child was set has not been passed on yet.
    if [ -n "$stopping" ]; then kill -s TERM "$child" 2>/dev/null; fi
    wait_for "$child"
    child=

    if [ -n "$stopping" ]; then
        log "got SIG$stopping; homeclaude exited with $status; stopping"
        exit "$status"
    fi
    case $status in
        0)
            log "homeclaude exited cleanly; stopping"
            exit 0 ;;
        2)
            log "homeclaude exited with 2 (bad configuration); stopping"
            exit 2 ;;
        100)
            log "restart requested (exit 100); starting again"
            delay=$base
            continue ;;
    esac

    if [ $(( $(date +%s) - started )) -ge "$reset_after" ]; then
        delay=$base
    fi
    if [ "$status" -gt 128 ]; then
        log "homeclaude killed by signal $((status - 128)); starting again in ${delay}s"
    else
        log "homeclaude exited with $status; starting again in ${delay}s"
    fi
    "$sleep_cmd" "$delay" &
    sleeper=$!
    if [ -z "$stopping" ]; then wait_for "$sleeper"; fi
    kill -s KILL "$sleeper" 2>/dev/null
    sleeper=
    if [ -n "$stopping" ]; then
        log "got SIG$stopping while waiting to restart; stopping"
        exit 0
    fi
    delay=$((delay * 2))
    if [ "$delay" -gt "$max" ]; then delay=$max; fi
done
