#!/usr/bin/env bash
# Unicast peers: with multicast VRRP dropped by the bridge, nodes configured
# with unicast_peers still elect one master and fail over.
#
# How multicast is blocked: an nftables table of family bridge in the switch
# namespace drops, in the forward hook, every frame to 224.0.0.18 (and
# ff02::12). This works on this kernel (nf_tables bridge family); a probe
# below proves it before vipd starts, by counting a multicast ping.
source "$(dirname "$0")/../lib.sh"

topo_up n1 n2 client
command -v nft >/dev/null || fail "nft is not installed (apt-get install -y nftables)"
nsx sw nft -f - <<'NFT'
table bridge vipdtest {
    chain forward_mcast {
        type filter hook forward priority 0; policy accept;
        ip daddr 224.0.0.18 counter drop
        ip6 daddr ff02::12 counter drop
    }
}
NFT
mcast_dropped() { nsx sw nft list chain bridge vipdtest forward_mcast | awk '/224.0.0.18/ { for (i = 1; i < NF; i++) if ($i == "packets") print $(i + 1) }'; }
nsx n1 ping -n -c 1 -W 0.2 -t 1 -I eth0 224.0.0.18 >/dev/null 2>&1 || true
wait_until "the bridge drops a probe sent to 224.0.0.18" 2 eval '(( $(mcast_dropped) >= 1 ))'
dropped_before="$(mcast_dropped)"

capture_start vrrp "$BPF_VRRP4"
start_vipd n1 priority=150 unicast_peers='["192.0.2.12"]'
start_vipd n2 priority=100 unicast_peers='["192.0.2.11"]'
wait_until "n1 holds $VIP4" 5 only_holder n1
stays_true "n1 is the only holder (n2 hears n1 by unicast)" 1 only_holder n1

uni="$(cap_count vrrp "$BPF_VRRP4 and src 192.0.2.11 and dst 192.0.2.12")"
multi="$(cap_count vrrp "$BPF_VRRP4 and dst 224.0.0.18")"
((uni >= 5)) || fail "unicast adverts n1 -> n2" ">= 5" "$uni"
assert_eq "multicast adverts on the wire" 0 "$multi"
ok "n1 -> 192.0.2.12 unicast adverts: $uni"

step "n1 dies"
crash_node n1
wait_until "n2 holds $VIP4" 3 only_holder n2
client_ping "$VIP4" 3 || fail "client ping after failover" "replies" "$(cat "$VT_TMP/ping.out")"
ok "client pings $VIP4 through n2"
assert_eq "client's neighbour entry has n2's MAC" "$(node_mac n2)" "$(client_neigh_mac)"
check "n2 sends unicast adverts to 192.0.2.11" cap_at_least vrrp 1 "$BPF_VRRP4 and src 192.0.2.12 and dst 192.0.2.11"
assert_eq "packets the bridge dropped to 224.0.0.18 since vipd started" "$dropped_before" "$(mcast_dropped)"
