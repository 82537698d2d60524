#!/usr/bin/env bash
# vipd and keepalived, VRRPv2 over IPv4 multicast, 1 s adverts: both ways
# round (vipd the higher priority, then keepalived), exactly one node holds
# the VIP and it is the higher one; when it dies the other takes the VIP
# over and the client reaches it there.
source "$(dirname "$0")/../peers.sh"
need_tools keepalived arping

topo_up n1 n2 client
start_n1() { start_vipd_peer n1 priority="$1" version=2 advert_interval=1s; }
start_n2() { start_keepalived n2 priority="$1" version=2 advert_int=1; }
# Master_Down_Interval at priority 100: 3 x 1 s + 0.61 s.
IX_SETTLE=10
IX_STEADY=4.5

capture_start vrrp "$BPF_VRRP4"
interop_both_ways

# Both sent VRRPv2 (version nibble 2, type 1: first byte 0x21).
for node in n1 n2; do
    n="$(cap_count vrrp "$BPF_VRRP4 and src $(ip4_of "$node") and ip[20] = 0x21")"
    ((n >= 3)) || fail "VRRPv2 adverts from $node ($(kind_of "$node"))" ">= 3" "$n"
    ok "VRRPv2 adverts from $node ($(kind_of "$node")): $n"
done
