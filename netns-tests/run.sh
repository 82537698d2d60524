#!/usr/bin/env bash
# netns-tests/run.sh: vipd's end-to-end tests in network namespaces (root only).
#
#   sudo netns-tests/run.sh              # every case
#   sudo netns-tests/run.sh preempt ipv6 # only cases whose file name contains a word
#
# Builds vipd once with `cargo build` (skipped when VIPD_BIN names a binary),
# runs each netns-tests/cases/*.sh in its own process with its own topology,
# prints one PASS/FAIL line per case with its duration, then
# "N passed, N failed". Exits non-zero on any failure or when anything a case
# started (a namespace vt<PID>-*, a vipd process) is left behind.
#
# Environment: VIPD_BIN (use this binary), VERBOSE=1 (print every case's
# log, not only failing ones), CASE_TIMEOUT (seconds per case, default 180;
# a case that needs longer says so in a line "# case-timeout: SECONDS", which
# CASE_TIMEOUT overrides when set).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"

if [[ "$(id -u)" != 0 ]]; then
    echo "netns-tests/run.sh: must run as root (it creates network namespaces)" >&2
    exit 2
fi

# Tools the cases need; installed only when missing.
need=()
command -v ip >/dev/null || need+=(iproute2)
command -v ping >/dev/null || need+=(iputils-ping)
command -v tcpdump >/dev/null || need+=(tcpdump)
command -v setpriv >/dev/null || need+=(util-linux)
command -v nft >/dev/null || need+=(nftables)
if ((${#need[@]})); then
    echo "installing ${need[*]}"
    apt-get install -y -qq "${need[@]}" >/dev/null
fi

if [[ -z "${VIPD_BIN:-}" ]]; then
    echo "building vipd (cargo build)"
    (cd "$repo" && cargo build --quiet --bin vipd)
    VIPD_BIN="$repo/target/debug/vipd"
fi
[[ -x "$VIPD_BIN" ]] || { echo "no vipd binary at $VIPD_BIN" >&2; exit 2; }
export VIPD_BIN

work="$(mktemp -d /tmp/vipd-netns-run.XXXXXX)"
export VT_PIDLOG="$work/pids"
: >"$VT_PIDLOG"
case_pids=()
current=""
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    # A case interrupted with us: it cleans up after itself on SIGTERM.
    if [[ -n "$current" ]] && kill -0 "$current" 2>/dev/null; then
        kill -TERM "$current" 2>/dev/null || true
        for _ in $(seq 100); do kill -0 "$current" 2>/dev/null || break; sleep 0.1; done
    fi
    rm -rf "$work"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

cases=()
for f in "$here"/cases/*.sh; do
    name="$(basename "$f" .sh)"
    if (($# > 0)); then
        match=0
        for want in "$@"; do [[ "$name" == *"$want"* ]] && match=1; done
        ((match)) || continue
    fi
    cases+=("$f")
done
((${#cases[@]})) || { echo "no case matches: $*" >&2; exit 2; }

passed=0
failed=0
failed_names=()
suite_start=$EPOCHREALTIME
timeout="${CASE_TIMEOUT:-180}"
for f in "${cases[@]}"; do
    name="$(basename "$f" .sh)"
    out="$work/$name.log"
    case_timeout="$timeout"
    if [[ -z "${CASE_TIMEOUT:-}" ]]; then
        declared="$(sed -n 's/^# case-timeout: \([0-9][0-9]*\)$/\1/p' "$f" | head -n 1)"
        case_timeout="${declared:-$timeout}"
    fi
    start=$EPOCHREALTIME
    bash "$f" >"$out" 2>&1 &
    current=$!
    case_pids+=("$current")
    # A watchdog that only ever signals the case it was made for.
    deadline=$(awk -v s="$start" -v t="$case_timeout" 'BEGIN { printf "%d", s + t }')
    rc=0
    while kill -0 "$current" 2>/dev/null; do
        if (($(date +%s) > deadline)); then
            echo "case $name: timed out after ${case_timeout}s" >>"$out"
            kill -TERM "$current" 2>/dev/null || true
            for _ in $(seq 100); do kill -0 "$current" 2>/dev/null || break; sleep 0.1; done
            kill -KILL "$current" 2>/dev/null || true
            break
        fi
        sleep 0.1
    done
    wait "$current" || rc=$?
    current=""
    secs=$(awk -v s="$start" -v e="$EPOCHREALTIME" 'BEGIN { printf "%.1f", e - s }')
    if ((rc == 0)); then
        passed=$((passed + 1))
        printf 'PASS  %-28s %6ss\n' "$name" "$secs"
        if [[ "${VERBOSE:-0}" == 1 ]]; then sed 's/^/      /' "$out"; fi
    else
        failed=$((failed + 1))
        failed_names+=("$name")
        printf 'FAIL  %-28s %6ss (exit %s)\n' "$name" "$secs" "$rc"
        sed 's/^/      /' "$out"
    fi
done

# Nothing may outlive its case: namespaces named after a case's PID, and
# any process a case started (vipd, tcpdump, monitors).
leftover=0
for pid in "${case_pids[@]}"; do
    left="$(ip netns list | awk '{print $1}' | grep "^vt${pid}-" || true)"
    if [[ -n "$left" ]]; then
        echo "LEFTOVER namespaces of case pid $pid: $(echo $left)"
        leftover=1
    fi
    if compgen -G "/tmp/vt${pid}.*" >/dev/null; then
        echo "LEFTOVER temp dir: $(echo /tmp/vt${pid}.*)"
        leftover=1
    fi
done
# Also any process whose command line names a case's temp dir (vipd's
# --config, tcpdump's -w), in case one escaped the PID bookkeeping.
for pid in "${case_pids[@]}"; do
    for cmdline in /proc/[0-9]*/cmdline; do
        if grep -qas "/tmp/vt${pid}\." "$cmdline"; then
            p="${cmdline#/proc/}"
            echo "LEFTOVER process ${p%/cmdline}: $(tr '\0' ' ' <"$cmdline" 2>/dev/null)"
            leftover=1
        fi
    done
done
while read -r pid; do
    [[ -n "$pid" ]] || continue
    # An empty command line is a kernel thread that reused the PID number
    # (or a zombie on its way out), never a process of ours.
    cmd="$({ tr '\0' ' ' </proc/"$pid"/cmdline; } 2>/dev/null || true)"
    if kill -0 "$pid" 2>/dev/null && [[ -n "$cmd" ]]; then
        echo "LEFTOVER process $pid: $cmd"
        leftover=1
    fi
done <"$VT_PIDLOG"
if ((leftover == 0)); then
    echo "nothing left behind ($(wc -l <"$VT_PIDLOG") processes started, all gone; no vt<PID>- namespace of this run)"
fi

total=$(awk -v s="$suite_start" -v e="$EPOCHREALTIME" 'BEGIN { printf "%.1f", e - s }')
echo "suite time ${total}s"
((failed == 0)) || echo "failed: ${failed_names[*]}"
echo "$passed passed, $failed failed"
((failed == 0 && leftover == 0))
