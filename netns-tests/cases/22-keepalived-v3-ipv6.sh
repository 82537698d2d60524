#!/usr/bin/env bash
# vipd and keepalived, VRRPv3 over IPv6 (adverts from the link-local address
# to ff02::12, 500 ms), both ways round; the client reaches 2001:db8::50
# through the master and, after the master dies, through the other node
# (its unsolicited NA moves the client's neighbour entry).
source "$(dirname "$0")/../peers.sh"
need_tools keepalived

topo_up n1 n2 client
start_n1() { start_vipd_peer n1 priority="$1" version=3 advert_interval=500ms virtual_ips="[\"$VIP6_CIDR\"]"; }
start_n2() {
    wait_until "n2's link-local address is usable" 10 ll_ready n2
    start_keepalived n2 priority="$1" version=3 advert_int=0.5 vips="$VIP6_CIDR"
}
IX_ADDR="$VIP6"
# Master_Down_Interval at priority 100: 3 x 0.5 s + 0.3 s = 1.8 s.
IX_SETTLE=10
IX_STEADY=2.5

capture_start vrrp6 "$BPF_VRRP6"
interop_both_ways

# Adverts from each node's link-local address to ff02::12.
for node in n1 n2; do
    ll="$(link_local_of "$node")"
    n="$(cap_count vrrp6 "$BPF_VRRP6 and src $ll and dst ff02::12")"
    ((n >= 3)) || fail "IPv6 adverts from $node ($(kind_of "$node")) at $ll to ff02::12" ">= 3" "$n"
    ok "IPv6 adverts from $node ($(kind_of "$node")), $ll -> ff02::12: $n"
done
