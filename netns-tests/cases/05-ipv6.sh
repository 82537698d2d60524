#!/usr/bin/env bash
# IPv6 (VRRPv3): the master takes 2001:db8::50/64 and sends an unsolicited
# Neighbour Advertisement for it; after a failover the client reaches the
# VIP over IPv6 through the backup.
source "$(dirname "$0")/../lib.sh"

topo_up n1 n2 client
capture_start nd "icmp6 or $BPF_VRRP6"
v6=(virtual_ips="[\"$VIP6_CIDR\"]")
start_vipd n1 priority=150 "${v6[@]}"
start_vipd n2 priority=100 "${v6[@]}"
wait_until "n1 holds $VIP6" 10 only_holder n1 "$VIP6"
v6flags="$(ip -n "$(ns n1)" -o -6 addr show dev eth0 | grep " $VIP6/" || true)"
[[ "$v6flags" != *tentative* ]] || fail "$VIP6 usable at once" "not tentative (added without DAD)" "$v6flags"
ok "$VIP6 is not tentative on n1: $(sed 's/.*scope/scope/; s/\\.*//' <<<"$v6flags")"
stays_true "n1 is the only IPv6 holder" 1 only_holder n1 "$VIP6"

# VRRPv3 over IPv6: adverts to ff02::12 from a link-local source.
wait_until "IPv6 VRRP adverts to ff02::12 on the wire" 2 cap_at_least nd 1 "$BPF_VRRP6 and dst ff02::12"
cap_show nd "$BPF_VRRP6" | head -n 1 | sed 's/^/      /'

una() { cap_show nd "icmp6 and ip6[40] = 136 and ether src $(node_mac "$1")" | grep -c "tgt is $VIP6" || true; }
wait_until "unsolicited NA for $VIP6 from n1" 2 eval '(( $(una n1) >= 1 ))'
na="$(cap_show nd "icmp6 and ip6[40] = 136 and ether src $(node_mac n1)" | grep -m1 "tgt is $VIP6")"
[[ "$na" == *"> ff02::1:"* && "$na" == *override* && "$na" != *solicited* ]] ||
    fail "n1's NA for $VIP6" "to ff02::1, Override set, Solicited clear" "$na"
ok "the NA goes to ff02::1 with Override set and Solicited clear"
cap_show nd "icmp6 and ip6[40] = 136 and ether src $(node_mac n1)" | grep -A1 "tgt is $VIP6" | head -n 2 | sed 's/^/      /'

client_ping "$VIP6" 2 || fail "client ping6 to $VIP6" "replies" "$(cat "$VT_TMP/ping.out")"
assert_eq "client's IPv6 neighbour entry has n1's MAC" "$(node_mac n1)" "$(client_neigh_mac "$VIP6")"

step "n1 dies"
crash_node n1
wait_until "n2 holds $VIP6" 3 only_holder n2 "$VIP6"
wait_until "unsolicited NA for $VIP6 from n2" 2 eval '(( $(una n2) >= 1 ))'
wait_until "client's IPv6 entry for $VIP6 moved to n2's MAC" 2 client_neigh_is "$(node_mac n2)" "$VIP6"
client_ping "$VIP6" 3 || fail "client ping6 after failover" "replies" "$(cat "$VT_TMP/ping.out")"
ok "client pings $VIP6 through n2: $(grep -o '[0-9]* received' "$VT_TMP/ping.out")"
