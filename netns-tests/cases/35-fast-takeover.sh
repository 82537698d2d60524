#!/usr/bin/env bash
# Fast takeover, off and on (README "Fast takeover"), counted in adverts on
# the wire. Master n1 (priority 150) tracks a file with weight -100; backup n2
# (priority 100, preempt) listens; 1 s adverts. Writing 1 to the file drops
# n1 to 50, and n1 advertises 50 at once.
# - fast_takeover off (RFC 9568): n2 discards the lower adverts and preempts
#   only when its Master_Down_Timer (3 x 1 s + skew, restarted by n1's last
#   priority-150 advert) runs out: n1 sends its immediate advert plus the
#   three on its grid, so at least 3 adverts of priority 50 go out before
#   n2's first advert.
# - fast_takeover on: n2 takes over on the first advert of priority 50: n2's
#   first advert follows it with no other priority-50 advert of n1 between.
# The capture on the bridge is read from outside both daemons; no durations
# are asserted, only what the protocol predicts in counts and order.
source "$(dirname "$0")/../lib.sh"

topo_up n1 n2
health="$VT_TMP/n1/health"
tracked="$(printf 'track_files = [{ name = "health", weight = -100 }]\n\n[track_files.health]\npath = "%s"\n' "$health")"

# adverts NAME: one line per VRRP advert of VRID 51 in the capture, in
# order: "n1 150", "n2 100", ...
adverts() {
    tcpdump -r "$VT_TMP/$1.pcap" -n -tt "$BPF_VRRP4 and ip[21] = 51" 2>/dev/null | awk '
        match($0, /prio [0-9]+/) {
            who = ($3 == "192.0.2.11") ? "n1" : ($3 == "192.0.2.12") ? "n2" : $3
            print who, substr($0, RSTART + 5, RLENGTH - 5)
        }'
}
# lower_before_takeover NAME: the number of n1's priority-50 adverts before
# n2's first advert; "none" when n2 advertised before n1 ever sent 50 (it
# must not: it is a backup until then), "-" when n1 never sent 50.
lower_before_takeover() {
    adverts "$1" | awk '
        $1 == "n1" && $2 == 50 { lower++ }
        $1 == "n2" { print (lower ? lower : "none"); found = 1; exit }
        END { if (!found) print "-" }'
}
n2_advertised() { adverts "$1" | awk '$1 == "n2" { f = 1 } END { exit !f }'; }
effective_priority() { status_json "$1" | jfield 'd["instances"][0]["priority"]["effective"]'; }
priority_is() { [[ "$(effective_priority "$1")" == "$2" ]]; }

# run MODE FAST: a fresh pair with fast_takeover = FAST on n2, n1's
# priority dropped while capturing; sets LOWER to lower_before_takeover.
run() {
    local mode="$1" fast="$2"
    step "fast_takeover = $fast: n1's priority drops from 150 to 50"
    echo 0 >"$health"
    start_vipd n1 priority=150 advert_interval=1s "extra=$tracked"
    wait_until "n1 holds $VIP4" 10 only_holder n1
    start_vipd n2 priority=100 advert_interval=1s "extra=fast_takeover = $fast"
    wait_until "n2 is BACKUP" 10 state_is n2 BACKUP
    capture_start "$mode"
    # Two priority-150 adverts on the wire: the capture sees n1 as master.
    wait_until "capture $mode sees n1's adverts" 5 cap_at_least "$mode" 2 "$BPF_VRRP4 and src 192.0.2.11"
    echo 1 >"$health"
    wait_until "n1's effective priority is 50" 5 priority_is n1 50
    wait_until "n2 takes $VIP4 over" 10 only_holder n2
    wait_until "n2's first advert is on the wire" 5 n2_advertised "$mode"
    wait_until "n1 is BACKUP" 5 state_is n1 BACKUP
    capture_stop "$mode"
    log "adverts on the wire (fast_takeover = $fast): $(adverts "$mode" | paste -sd, | sed 's/,/, /g')"
    check "n2's transition names the preemption" log_has n2 "preempting lower priority 50 master 192.0.2.11"
    LOWER="$(lower_before_takeover "$mode")"
    kill_vipd n2 TERM
    kill_vipd n1 TERM
    wait_until "nobody holds $VIP4 between runs" 5 only_holder ""
}

run rfc false
case "$LOWER" in
    none | -) fail "n2 advertised only after n1's priority-50 adverts (fast_takeover = false)" "n1 50 ... then n2" "$LOWER" ;;
esac
((LOWER >= 3)) || fail "fast_takeover = false: n2 waits Master_Down_Interval, so n1 sends at least 3 adverts of priority 50 before n2's first" ">= 3" "$LOWER"
ok "fast_takeover = false: n1 sent $LOWER adverts of priority 50 before n2 took over"

run fast true
assert_eq "fast_takeover = true: n1's priority-50 adverts before n2's first advert (n2 took over on the first)" 1 "$LOWER"
