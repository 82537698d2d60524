#!/usr/bin/env bash
# kill -9, then restart on the same node: the VIP the dead daemon left on
# the interface is removed at start-up, before the node enters Backup.
# n1 runs with preempt off so that, once restarted, it must stay backup:
# any VIP on it afterwards would be the stale one.
source "$(dirname "$0")/../lib.sh"

topo_up n1 n2 client
start_vipd n1 priority=150 preempt=false
start_vipd n2 priority=100
wait_until "n1 holds $VIP4" 5 only_holder n1

step "kill -9 n1 (link stays up)"
{ kill -KILL "${VIPD_PID[n1]}" && wait "${VIPD_PID[n1]}"; } 2>/dev/null || true
wait_until "n2 takes $VIP4 over" 3 holds_vip n2
check "the dead daemon left $VIP4 behind on n1 (stale)" has_addr n1
log "holders now: $(vip_holders)"

step "restart n1"
# n1's notify script records whether eth0 carried the VIP when vipd
# reported each state: at BACKUP the stale VIP must already be gone.
notify="$(make_notify n1)"
start_vipd n1 priority=150 preempt=false notify="$notify"
wait_until "restarted n1 removes the stale $VIP4" 2 not_ has_addr n1
wait_until "restarted n1 reports BACKUP through notify" 3 grep -q " BACKUP " "$VT_TMP/n1/notify.log"
first="$(head -n 1 "$VT_TMP/n1/notify.log")"
[[ "$first" == *" BACKUP "*" vip=no" ]] || fail "n1's first state after restart" "BACKUP with the stale VIP already gone (vip=no)" "$first"
ok "first notify after restart: ${first#* }"
stays_true "n2 alone holds $VIP4 (n1 backup, preempt off)" 1.5 only_holder n2
client_ping "$VIP4" 2 || fail "client ping" "replies" "$(cat "$VT_TMP/ping.out")"
assert_eq "client's neighbour entry has n2's MAC" "$(node_mac n2)" "$(client_neigh_mac)"
