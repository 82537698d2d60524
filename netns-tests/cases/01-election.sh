#!/usr/bin/env bash
# Election: the highest priority holds the VIP and no other node does; the
# client reaches the VIP and its neighbour entry has the master's MAC.
source "$(dirname "$0")/../lib.sh"

topo_up n1 n2 n3 client
start_vipd n1 priority=150
start_vipd n2 priority=120
start_vipd n3 priority=100

capture_start vrrp "$BPF_VRRP4"
wait_until "n1 (priority 150) holds $VIP4" 5 holds_vip n1
t_master="$(now)"
# Give the others a full Master_Down_Interval (3 x 100 ms + skew) to get it
# wrong: none of them may take the address while n1 advertises.
stays_true "n1 is the only holder" 1 only_holder n1

client_ping "$VIP4" 3 || fail "client ping to $VIP4" "replies" "$(cat "$VT_TMP/ping.out")"
ok "client pings $VIP4: $(grep -o '[0-9]* received' "$VT_TMP/ping.out")"
assert_eq "client's neighbour entry for $VIP4 has n1's MAC" "$(node_mac n1)" "$(client_neigh_mac)"

# After the election only the master advertises: count adverts per source
# over the packets captured from 100 ms after n1 took the address.
capture_stop vrrp
others="$(tcpdump -r "$VT_TMP/vrrp.pcap" -n -tt "$BPF_VRRP4 and not src $(ip4_of n1)" 2>/dev/null |
    awk -v t="$t_master" '$1 > t + 0.1' | wc -l)"
mine="$(cap_count vrrp "$BPF_VRRP4 and src $(ip4_of n1)")"
assert_eq "adverts from n2 or n3 once n1 is master" 0 "$others"
((mine >= 10)) || fail "adverts from n1 (100 ms interval, > 1 s)" ">= 10" "$mine"
ok "n1 sent $mine adverts"
