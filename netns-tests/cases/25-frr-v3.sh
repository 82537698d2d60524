#!/usr/bin/env bash
# vipd and FRR vrrpd (with zebra), VRRPv3 over IPv4 multicast, 500 ms
# adverts, both ways round. FRR holds the VIP on a macvlan carrying the VRRP
# virtual MAC 00:00:5e:00:01:33 (vrid 51) and marks Backup with protodown on
# it; vipd holds it on eth0 with the node's own MAC. Either way exactly one
# node answers for the VIP, the right one, and the client follows a failover.
source "$(dirname "$0")/../peers.sh"
need_tools zebra vrrpd vtysh arping tshark

topo_up n1 n2 client
start_n1() { start_vipd_peer n1 priority="$1" version=3 advert_interval=500ms; }
start_n2() { start_frr n2 priority="$1" version=3 interval_ms=500 vrid=51; }
# Master_Down_Interval at priority 100: 3 x 0.5 s + 0.3 s = 1.8 s.
IX_SETTLE=10
IX_STEADY=2.5

# vrrpd's own view must agree with what the wire and the interfaces show.
ix_elected() {
    local want=Backup view
    [[ "$1" == n2 ]] && want=Master
    view="$(frr_show n2)"
    grep -E "Status|Priority|Interval|Master|Backup" <<<"$view" | head -n 12 | sed 's/^/      /'
    grep -qE "Status \(v4\) +$want" <<<"$view" || fail "vrrpd's own state on n2" "Status (v4) $want" "$view"
    ok "vrrpd on n2 reports itself $want"
}

capture_start vrrp "$BPF_VRRP4"
interop_both_ways
capture_stop vrrp

# FRR sends from the virtual MAC, vipd from the node's MAC; both VRRPv3, 50 cs,
# checksums that tshark (pseudo-header, its default) finds correct.
for node in n1 n2; do
    fields="$(tshark -n -r "$VT_TMP/vrrp.pcap" -Y "ip.src == $(ip4_of "$node") && vrrp.prio != 0" \
        -T fields -e eth.src -e vrrp.version -e vrrp.short_adver_int -e vrrp.checksum.status 2>/dev/null | sort -u | paste -sd'|' -)"
    assert_eq "source MAC, version, Max Advert Int (cs) and checksum verdict of the adverts from $node ($(kind_of "$node"))" \
        "$(holder_mac "$node") 3 50 1" "$(tr '\t' ' ' <<<"$fields")"
done
