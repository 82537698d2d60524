#!/usr/bin/env bash
# RFC 3768 5.1.2 and RFC 9568 5.1.1.2/5.1.2.2: VRRP adverts (to 224.0.0.18
# and ff02::12) MUST NOT be forwarded by a router. n1 runs vipd for an IPv4
# and an IPv6 instance on eth0 and also routes (forwarding on) to a second
# segment on eth1: nothing VRRP may appear there, whatever vipd does.
source "$(dirname "$0")/../lib.sh"

topo_up n1 n2
add_ns far
n1ns="$(ns n1)"
farns="$(ns far)"
ip link add eth1 netns "$n1ns" type veth peer name eth0 netns "$farns"
ip -n "$n1ns" addr add 198.51.100.1/24 dev eth1
ip -n "$n1ns" link set eth1 up
ip -n "$farns" addr add 198.51.100.2/24 dev eth0
ip -n "$farns" addr add 2001:db8:1::2/64 dev eth0 nodad
ip -n "$farns" link set eth0 up
nsx n1 sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
ok "n1 routes between the VRRP segment (eth0) and a second segment (eth1)"

# Everything VRRP that reaches the far segment, for as long as n1 advertises.
ip netns exec "$farns" tcpdump -i eth0 --immediate-mode -U -n -w "$VT_TMP/far.pcap" 'ip proto 112 or ip6 proto 112' \
    >"$VT_TMP/far.tcpdump.log" 2>&1 &
far_pid=$!
record_pid "$far_pid"
wait_until "capture on the far segment listening" 5 grep -qs "listening on" "$VT_TMP/far.tcpdump.log"
capture_start near 'ip proto 112 or ip6 proto 112'

v6='[instances.vip6]
interface = "eth0"
vrid = 52
advert_interval = "100ms"
virtual_ips = ["2001:db8::50/64"]'
start_vipd n1 priority=150 "extra=$v6"
start_vipd n2 priority=100 "extra=$v6"
wait_until "n1 holds $VIP4" 5 only_holder n1
enough() { (($(cap_count near "src host 192.0.2.11") >= 20 && $(cap_count near "ip6 proto 112") >= 20)); }
wait_until "at least 20 IPv4 and 20 IPv6 adverts on the VRRP segment" 10 enough

stop_pid "$far_pid" INT 3
far="$(tcpdump -r "$VT_TMP/far.pcap" -n 2>/dev/null | wc -l)"
assert_eq "VRRP packets forwarded to the far segment" 0 "$far"
ok "n1 sent $(cap_count near "src host 192.0.2.11") IPv4 adverts on eth0 and forwarded none of them, nor any of n2's"
