#!/usr/bin/env bash
# vipd and keepalived with unicast peers (VRRPv3, IPv4, 500 ms adverts),
# with every multicast advert dropped by the bridge, both ways round: they
# elect one master and fail over by unicast alone.
#
# Multicast is blocked as in 06-unicast.sh: an nftables bridge table in the
# switch namespace drops every frame to 224.0.0.18.
source "$(dirname "$0")/../peers.sh"
need_tools keepalived arping nft

topo_up n1 n2 client
nsx sw nft -f - <<'NFT'
table bridge vipdtest {
    chain forward_mcast {
        type filter hook forward priority 0; policy accept;
        ip daddr 224.0.0.18 counter drop
    }
}
NFT
mcast_dropped() { nsx sw nft list chain bridge vipdtest forward_mcast | awk '/224.0.0.18/ { for (i = 1; i < NF; i++) if ($i == "packets") print $(i + 1) }'; }
nsx n1 ping -n -c 1 -W 0.2 -t 1 -I eth0 224.0.0.18 >/dev/null 2>&1 || true
probe_dropped() { (($(mcast_dropped) >= 1)); }
wait_until "the bridge drops a probe sent to 224.0.0.18" 2 probe_dropped
dropped_before="$(mcast_dropped)"

start_n1() { start_vipd_peer n1 priority="$1" version=3 advert_interval=500ms unicast_peers='["192.0.2.12"]'; }
start_n2() {
    start_keepalived n2 priority="$1" version=3 advert_int=0.5 \
        unicast_src_ip=192.0.2.12 unicast_peers=192.0.2.11
}
# Master_Down_Interval at priority 100: 3 x 0.5 s + 0.3 s = 1.8 s.
IX_SETTLE=10
IX_STEADY=2.5

capture_start vrrp "$BPF_VRRP4"
interop_both_ways

for pair in "n1 n2" "n2 n1"; do
    read -r from to <<<"$pair"
    n="$(cap_count vrrp "$BPF_VRRP4 and src $(ip4_of "$from") and dst $(ip4_of "$to")")"
    ((n >= 3)) || fail "unicast adverts $from ($(kind_of "$from")) -> $to" ">= 3" "$n"
    ok "unicast adverts $from ($(kind_of "$from")) -> $(ip4_of "$to"): $n"
done
assert_eq "multicast adverts that reached the bridge's capture" 0 "$(cap_count vrrp "$BPF_VRRP4 and dst 224.0.0.18")"
assert_eq "frames to 224.0.0.18 dropped by the bridge, unchanged since the probe (nobody sent multicast)" "$dropped_before" "$(mcast_dropped)"
