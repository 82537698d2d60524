#!/usr/bin/env bash
# vipd and keepalived, VRRPv3 over IPv4 multicast with 200 ms adverts
# (keepalived: advert_int 0.2), both ways round; both put 20 centiseconds in
# the Max Advert Int field, and each accepts the other's checksum (the
# RFC 5798 pseudo-header form, which both send).
source "$(dirname "$0")/../peers.sh"
need_tools keepalived arping tshark

topo_up n1 n2 client
start_n1() { start_vipd_peer n1 priority="$1" version=3 advert_interval=200ms; }
start_n2() { start_keepalived n2 priority="$1" version=3 advert_int=0.2; }
# Master_Down_Interval at priority 100: 3 x 0.2 s + 0.12 s = 0.72 s.
IX_SETTLE=8
IX_STEADY=2

capture_start vrrp "$BPF_VRRP4"
interop_both_ways
capture_stop vrrp

# What each sent, as tshark decodes it: version, interval and checksum verdict.
for node in n1 n2; do
    fields="$(tshark -n -r "$VT_TMP/vrrp.pcap" -Y "ip.src == $(ip4_of "$node") && vrrp.prio != 0" \
        -T fields -e vrrp.version -e vrrp.short_adver_int -e vrrp.checksum.status 2>/dev/null | sort | uniq -c)"
    [[ -n "$fields" ]] || fail "adverts from $node ($(kind_of "$node")) in the capture" "some" "none"
    assert_eq "version, Max Advert Int (cs) and checksum verdict of every advert from $node ($(kind_of "$node"))" \
        "3 20 1" "$(awk '{ print $2, $3, $4 }' <<<"$fields" | sort -u | paste -sd'|' -)"
done
