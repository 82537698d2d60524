#!/usr/bin/env bash
# Issue 12, item 3: a stalled master steps aside. n1 (priority 150, with a
# gratuitous ARP refresh every 500 ms) is master over n2 (100); n1's vipd is
# stopped (SIGSTOP) for longer than Master_Down_Interval, so n2 takes over
# and announces itself. When n1 resumes it is late for everything it had
# scheduled: it must not announce (no gratuitous ARP pulling the clients
# back) before it has listened; it steps aside to BACKUP, hears n2, and
# takes the role back by preemption, announcing only then.
# Read from outside: a capture on the bridge (who sent which gratuitous ARP
# when) and the time of n1's transitions in its log.
source "$(dirname "$0")/../lib.sh"

topo_up n1 n2 client
start_vipd n1 priority=150 extra='garp_refresh = "500ms"'
wait_until "n1 holds $VIP4" 10 only_holder n1
start_vipd n2 priority=100
wait_until "n2 is BACKUP" 10 state_is n2 BACKUP
n1_mac="$(node_mac n1)"
n2_mac="$(node_mac n2)"
capture_start garp arp

# garps_from MAC [SINCE]: epoch times of gratuitous ARPs for the VIP sent
# from MAC at or after SINCE.
garps_from() {
    tcpdump -r "$VT_TMP/garp.pcap" -n -e -tt "ether src $1 and arp" 2>/dev/null |
        awk -v s="${2:-0}" -v vip="$VIP4" '$1 >= s && index($0, "tell " vip) { print $1 }'
}
# transition_time NODE FROM TO: the epoch time of NODE's latest FROM -> TO.
transition_time() {
    log_since_start "$1" | grep -E "instance vip: $2 -> $3 " | tail -n 1 |
        awk '{ cmd = "date -d " $1 " +%s.%N"; cmd | getline t; close(cmd); print t }'
}

step "n1's vipd stopped for longer than Master_Down_Interval: n2 takes over"
wait_until "n1's refresh is on the wire" 5 eval '[[ -n "$(garps_from "$n1_mac")" ]]'
kill -STOP "${VIPD_PID[n1]}"
wait_until "n2 is MASTER while n1 is stopped" 10 state_is n2 MASTER
wait_until "n2 announced itself" 5 eval '[[ -n "$(garps_from "$n2_mac")" ]]'
# n1's refresh and advert timers all run out while it is stopped.
stays_true "n1's vipd stays stopped past several of its refreshes" 2 \
    eval '[[ "$(ps -o stat= -p "${VIPD_PID[n1]}")" == T* ]]'

step "n1 resumes: it steps aside and listens before it announces anything"
t_cont="$(now)"
kill -CONT "${VIPD_PID[n1]}"
wait_until "n1 stepped aside" 10 log_has n1 "MASTER -> BACKUP .*: woke .* after an advert was due"
wait_until "n1 took the role back by preemption" 10 log_has n1 "BACKUP -> MASTER .*preempting"
wait_until "n1 holds $VIP4 alone" 10 only_holder n1
retaken="$(transition_time n1 BACKUP MASTER)"
first="$(garps_from "$n1_mac" "$t_cont" | head -n 1)"
[[ -n "$retaken" && -n "$first" ]] || fail "n1's takeover and its first announcement after SIGCONT" "both" "takeover '$retaken', announcement '$first'"
log "n1 resumed at $t_cont, took the role back at $retaken, first announced at $first"
check "n1 announced nothing between resuming and taking the role back" \
    awk -v a="$first" -v b="$retaken" 'BEGIN { exit !(a >= b) }'
capture_stop garp
