#!/usr/bin/env bash
# The master dies (SIGKILL + link down): the backup takes the VIP and the
# client's neighbour entry moves to the backup's MAC at once because of its
# gratuitous ARP, long before any neighbour timeout could expire.
source "$(dirname "$0")/../lib.sh"

topo_up n1 n2 client
start_vipd n1 priority=150
start_vipd n2 priority=100
wait_until "n1 holds $VIP4" 5 only_holder n1

client_ping "$VIP4" 2 || fail "client ping before failover" "replies" "$(cat "$VT_TMP/ping.out")"
before="$(client_neigh)"
assert_eq "client's entry points at n1" "$(node_mac n1)" "${before%% *}"
case "${before##* }" in
    REACHABLE | STALE | DELAY) ok "client's entry is ${before##* } (valid: it would not be re-resolved for many seconds)" ;;
    *) fail "client's entry state before the failure" "REACHABLE or STALE" "$before" ;;
esac

capture_start garp arp
crash_node n1
t0="$(now)"
wait_until "n2 holds $VIP4" 3 only_holder n2
# No traffic from the client meanwhile: only a GARP can change the entry.
# Unaided, a REACHABLE entry lasts 15-45 s and a STALE one is kept until
# used and then probed for 5 s; 2 s is far below either.
wait_until "client's entry for $VIP4 moved to n2's MAC without any client traffic" 2 client_neigh_is "$(node_mac n2)"
after="$(client_neigh)"
ok "client's entry moved $(elapsed_ms "$t0") ms after the crash: '$before' -> '$after'"

n2mac="$(node_mac n2)"
garps="$(cap_show garp "arp and ether src $n2mac" | grep -c "$VIP4" || true)"
((garps >= 1)) || fail "gratuitous ARP from n2 for $VIP4 on the wire" ">= 1" "$garps; capture: $(cap_summary garp)"
ok "gratuitous ARPs from n2 for $VIP4 seen on the bridge: $garps"
cap_show garp "arp and ether src $n2mac" | head -n 2 | sed 's/^/      /'

cmac="$(node_mac client)"
asked="$(cap_count garp "arp and ether src $cmac")"
assert_eq "ARP requests from the client before its entry moved (none: it did not re-resolve)" 0 "$asked"

client_ping "$VIP4" 3 || fail "client ping after failover" "replies" "$(cat "$VT_TMP/ping.out")"
ok "client pings $VIP4 through n2: $(grep -o '[0-9]* received' "$VT_TMP/ping.out")"
assert_eq "client's entry still n2's MAC after pinging" "$n2mac" "$(client_neigh_mac)"
