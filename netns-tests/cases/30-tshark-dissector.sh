#!/usr/bin/env bash
# An independent check of everything vipd puts on the wire: tshark's
# dissectors decode vipd's VRRPv2 and VRRPv3 adverts (IPv4 multicast and
# unicast, IPv6 multicast and unicast, priority 0 on shutdown), gratuitous
# ARPs and unsolicited neighbour advertisements, and find no malformed packet,
# no bad checksum (VRRP, IPv4 header, ICMPv6) and no warning or error.
# Every decoded field is compared with the configuration.
source "$(dirname "$0")/../peers.sh"
need_tools tshark

topo_up n1 n2 client
# n2 runs nothing: its kernel answers ARP and ND for the unicast peers.
mkdir -p "$VT_TMP/n1"
cat >"$VT_TMP/n1/vipd.toml" <<TOML
# written by netns-tests/cases/30-tshark-dissector.sh
[global]
node_name = "n1"
control_socket = "$VT_TMP/n1/vipd.sock"

[instances.v2auth]
interface = "eth0"
vrid = 52
priority = 150
version = 2
advert_interval = "1s"
auth_pass = "s3cret"
virtual_ips = ["192.0.2.52/24"]

[instances.v2plain]
interface = "eth0"
vrid = 57
priority = 120
version = 2
advert_interval = "2s"
virtual_ips = ["192.0.2.57/24"]

[instances.v3two]
interface = "eth0"
vrid = 53
priority = 130
advert_interval = "250ms"
virtual_ips = ["192.0.2.53/24", "192.0.2.153/24"]

[instances.v3six]
interface = "eth0"
vrid = 54
priority = 140
advert_interval = "300ms"
virtual_ips = ["2001:db8::54/64"]

[instances.v3uni4]
interface = "eth0"
vrid = 55
priority = 160
advert_interval = "200ms"
unicast_peers = ["192.0.2.12"]
virtual_ips = ["192.0.2.55/24"]

[instances.v3uni6]
interface = "eth0"
vrid = 56
priority = 170
advert_interval = "400ms"
unicast_peers = ["2001:db8::12"]
virtual_ips = ["2001:db8::56/64"]
TOML
"$VIPD_BIN" check --config "$VT_TMP/n1/vipd.toml" >/dev/null || fail "vipd check of the test's configuration"

capture_start wire "proto 112 or arp or icmp6"
PEER_KIND[n1]=vipd
start_vipd n1
pcap="$VT_TMP/wire.pcap"
n1ip="$(ip4_of n1)"
n1ll="$(link_local_of n1)"
n1mac="$(node_mac n1)"

# count FILTER: frames from n1 matching a tshark display filter.
count() { tshark -n -r "$pcap" -Y "eth.src == $n1mac && ($1)" -T fields -e frame.number 2>/dev/null | grep -c . || true; }
at_least() { (($(count "$1") >= $2)); }

step "collect: 3 adverts per instance, 5 GARPs per IPv4 VIP, 5 NAs per IPv6 VIP"
for vrid in 52 53 54 55 56 57; do
    wait_until "3 adverts for vrid $vrid" 15 at_least "vrrp.virt_rtr_id == $vrid" 3
done
for vip in 192.0.2.52 192.0.2.53 192.0.2.153 192.0.2.55 192.0.2.57; do
    wait_until "5 gratuitous ARPs for $vip" 10 at_least "arp.src.proto_ipv4 == $vip && arp.dst.proto_ipv4 == $vip" 5
done
for vip in 2001:db8::54 2001:db8::56; do
    wait_until "5 unsolicited NAs for $vip" 10 at_least "icmpv6.type == 136 && icmpv6.nd.na.target_address == $vip" 5
done

step "SIGTERM: priority-0 adverts for every instance"
kill_vipd n1 TERM
assert_eq "vipd's exit status" 0 "$VIPD_RC"
for vrid in 52 53 54 55 56 57; do
    wait_until "priority-0 advert for vrid $vrid" 5 at_least "vrrp.virt_rtr_id == $vrid && vrrp.prio == 0" 1
done
capture_stop wire

step "tshark's verdict"
total="$(count "frame")"
ok "frames from vipd's node in the capture: $total ($(count vrrp) VRRP, $(count arp) ARP, $(count icmpv6) ICMPv6)"
# With IPv4 header checksum verification on (off by default in tshark).
tsh() { tshark -n -r "$pcap" -o ip.check_checksum:TRUE "$@" 2>/dev/null; }
bad="$(tsh -Y "eth.src == $n1mac && (_ws.malformed || _ws.expert.severity >= 0x00600000 || vrrp.checksum.status != 1 || (icmpv6 && icmpv6.checksum.status != 1) || (ip && ip.checksum.status != 1))" | head -n 20)"
[[ -z "$bad" ]] || fail "frames tshark finds malformed, with a bad or unverified checksum, or with a warning" "none" "$bad"
ok "no malformed frame, no warning or error, every VRRP, IPv4 header and ICMPv6 checksum verified good"
experts="$(tsh -q -z expert -Y "eth.src == $n1mac" | sed -n '/Errors\|Warns\|Notes\|Chats/p' | paste -sd' ' -)"
log "tshark expert summary: ${experts:-none}"

# fields FILTER FIELD...: the distinct values of FIELDs over frames from n1
# matching FILTER, one line per combination, fields separated by spaces.
fields() {
    local filter="$1" args=() f
    shift
    for f in "$@"; do args+=(-e "$f"); done
    tsh -Y "eth.src == $n1mac && ($filter)" -T fields -E separator=' ' -E occurrence=a -E aggregator=, "${args[@]}" | sort -u | paste -sd'|' -
}

# Adverts: version, type, vrid, priority (not 0), count, auth, interval,
# addresses, TTL/hop limit, source and destination.
v4=(vrrp.version vrrp.type vrrp.prio vrrp.addr_count ip.ttl ip.src ip.dst vrrp.ip_addr)
v6=(vrrp.version vrrp.type vrrp.prio vrrp.addr_count ipv6.hlim ipv6.src ipv6.dst vrrp.ipv6_addr)
assert_eq "vrid 52 (VRRPv2, password)" "2 1 150 1 255 $n1ip 224.0.0.18 192.0.2.52 1 1 s3cret" \
    "$(fields "vrrp.virt_rtr_id == 52 && vrrp.prio != 0" "${v4[@]}" vrrp.auth_type vrrp.adver_int vrrp.auth_string)"
assert_eq "vrid 57 (VRRPv2, no authentication)" "2 1 120 1 255 $n1ip 224.0.0.18 192.0.2.57 0 2" \
    "$(fields "vrrp.virt_rtr_id == 57 && vrrp.prio != 0" "${v4[@]}" vrrp.auth_type vrrp.adver_int)"
assert_eq "vrid 53 (VRRPv3 IPv4, two VIPs)" "3 1 130 2 255 $n1ip 224.0.0.18 192.0.2.53,192.0.2.153 25" \
    "$(fields "vrrp.virt_rtr_id == 53 && vrrp.prio != 0" "${v4[@]}" vrrp.short_adver_int)"
assert_eq "vrid 55 (VRRPv3 IPv4 unicast)" "3 1 160 1 255 $n1ip 192.0.2.12 192.0.2.55 20" \
    "$(fields "vrrp.virt_rtr_id == 55 && vrrp.prio != 0" "${v4[@]}" vrrp.short_adver_int)"
assert_eq "vrid 54 (VRRPv3 IPv6)" "3 1 140 1 255 $n1ll ff02::12 2001:db8::54 30" \
    "$(fields "vrrp.virt_rtr_id == 54 && vrrp.prio != 0" "${v6[@]}" vrrp.short_adver_int)"
assert_eq "vrid 56 (VRRPv3 IPv6 unicast)" "3 1 170 1 255 $n1ll 2001:db8::12 2001:db8::56 40" \
    "$(fields "vrrp.virt_rtr_id == 56 && vrrp.prio != 0" "${v6[@]}" vrrp.short_adver_int)"
assert_eq "the VRRPv3 reserved bits" "0" "$(fields "vrrp.version == 3" vrrp.reserved_mbz)"
assert_eq "priority-0 adverts: VRID and priority" "52 0|53 0|54 0|55 0|56 0|57 0" \
    "$(fields "vrrp.prio == 0" vrrp.virt_rtr_id vrrp.prio)"

# The VRRPv3 IPv4 checksum includes the IPv4 pseudo-header (as keepalived and
# FRR compute it): with tshark told to leave it out, it calls them wrong.
assert_eq "VRRPv3 IPv4 checksums, verified without the pseudo-header (vrrp.v3_checksum_as_in_v2)" "0" \
    "$(tshark -n -r "$pcap" -o vrrp.v3_checksum_as_in_v2:TRUE -Y "eth.src == $n1mac && vrrp.version == 3 && ip" \
        -T fields -e vrrp.checksum.status 2>/dev/null | sort -u | paste -sd'|' -)"

# Gratuitous ARP (vipd's ARP frames are the ones with a VIP as sender; the
# kernel's own, for the unicast peer, use 192.0.2.11): request, sender =
# target = VIP, our MAC, target MAC zero, broadcast.
garp="arp && arp.src.proto_ipv4 != $n1ip"
assert_eq "gratuitous ARPs: opcode, sender MAC, target MAC, destination, gratuitous" \
    "1 $n1mac 00:00:00:00:00:00 ff:ff:ff:ff:ff:ff 1" \
    "$(fields "$garp" arp.opcode arp.src.hw_mac arp.dst.hw_mac eth.dst arp.isgratuitous)"
assert_eq "addresses announced by gratuitous ARP" "192.0.2.153|192.0.2.52|192.0.2.53|192.0.2.55|192.0.2.57" \
    "$(fields "$garp" arp.src.proto_ipv4)"

# Unsolicited NA: to ff02::1 from our link-local, hop limit 255, Override set,
# Solicited and Router clear, our MAC as target link-layer address.
una="icmpv6.type == 136 && (icmpv6.nd.na.target_address == 2001:db8::54 || icmpv6.nd.na.target_address == 2001:db8::56)"
assert_eq "unsolicited NAs: source, destination, hop limit, R, S, O, target link-layer address" \
    "$n1ll ff02::1 255 0 0 1 $n1mac" \
    "$(fields "$una" ipv6.src ipv6.dst ipv6.hlim icmpv6.nd.na.flag.r icmpv6.nd.na.flag.s icmpv6.nd.na.flag.o icmpv6.opt.linkaddr)"
assert_eq "addresses announced by unsolicited NA" "2001:db8::54|2001:db8::56" \
    "$(fields "$una" icmpv6.nd.na.target_address)"
# vipd is not a router: it sends no Router Advertisement (RFC 9568 6.4.3 asks
# an IPv6 master for them; see docs/conformance.md).
assert_eq "Router Advertisements from vipd's node" 0 "$(count "icmpv6.type == 134")"
