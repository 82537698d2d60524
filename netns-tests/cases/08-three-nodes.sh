#!/usr/bin/env bash
# Three nodes: successive failures elect in priority order (150, 120, 100),
# and the lowest never takes the VIP while a better node is alive.
source "$(dirname "$0")/../lib.sh"

topo_up n1 n2 n3 client
start_vipd n1 priority=150
start_vipd n2 priority=120
start_vipd n3 priority=100
wait_until "n1 holds $VIP4" 5 only_holder n1
monitor_start

crash_node n1
wait_until "n2 (120) takes $VIP4" 3 only_holder n2
stays_true "n2 keeps it, n3 stays backup" 1 only_holder n2
if monitor_ever_held n3; then fail "n3 (100) took the VIP while n2 (120) was alive" "never" "$(cat "$VT_TMP/monitor.log")"; fi
ok "n3 never held $VIP4 while n2 was alive"

crash_node n2
wait_until "n3 (100) takes $VIP4" 3 only_holder n3
client_ping "$VIP4" 3 || fail "client ping after the second failover" "replies" "$(cat "$VT_TMP/ping.out")"
assert_eq "client's neighbour entry has n3's MAC" "$(node_mac n3)" "$(client_neigh_mac)"
monitor_stop
assert_eq "never two holders at once" 1 "$(monitor_max_holders)"
log "holder changes: $(monitor_changes)"
