#!/usr/bin/env bash
# Unicast peers a routed hop apart: their adverts arrive with TTL 254, and
# are accepted (the TTL rule is for multicast), so there is exactly one
# master; when it dies the other takes over.
source "$(dirname "$0")/../lib.sh"

VIP_R="203.0.113.50"
step "n1 (192.0.2.0/24) and n2 (198.51.100.0/24) with a router between"
add_ns r
nsx r sysctl -qw net.ipv4.ip_forward=1
for peer in n1 n2; do
    add_ns "$peer"
    mkdir -p "$VT_TMP/$peer"
    VT_NODES+=("$peer")
done
ip -n "$(ns n1)" link add eth0 type veth peer name r-n1 netns "$(ns r)"
ip -n "$(ns n2)" link add eth0 type veth peer name r-n2 netns "$(ns r)"
ip -n "$(ns r)" addr add 192.0.2.1/24 dev r-n1
ip -n "$(ns r)" addr add 198.51.100.1/24 dev r-n2
ip -n "$(ns n1)" addr add 192.0.2.11/24 dev eth0
ip -n "$(ns n2)" addr add 198.51.100.12/24 dev eth0
for link in r-n1 r-n2; do ip -n "$(ns r)" link set "$link" up; done
for peer in n1 n2; do ip -n "$(ns "$peer")" link set eth0 up; done
ip -n "$(ns n1)" route add default via 192.0.2.1
ip -n "$(ns n2)" route add default via 198.51.100.1
wait_until "n1 reaches n2 through the router" 5 nsx n1 ping -n -c 1 -W 1 198.51.100.12

start_vipd n1 priority=150 virtual_ips="[\"$VIP_R/32\"]" unicast_peers='["198.51.100.12"]'
start_vipd n2 priority=100 virtual_ips="[\"$VIP_R/32\"]" unicast_peers='["192.0.2.11"]'
wait_until "n1 holds $VIP_R" 5 only_holder n1 "$VIP_R"
wait_until "n2 hears n1 and is BACKUP" 5 state_is n2 BACKUP
stays_true "n1 stays the only holder" 2 only_holder n1 "$VIP_R"
received="$(status_json n2 | jfield 'd["instances"][0]["counters"]["adverts_received"]')"
((received > 0)) || fail "n2 counts n1's routed adverts" "> 0" "$received"
ok "n2 received $received routed adverts"

step "the master stops"
kill_vipd n1 TERM
wait_until "n2 takes $VIP_R" 5 only_holder n2 "$VIP_R"
wait_until "n2 is MASTER" 5 state_is n2 MASTER
