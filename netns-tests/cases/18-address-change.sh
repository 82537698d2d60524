#!/usr/bin/env bash
# The master's own address changes under it: it advertises from the new
# address and stays the only holder; with no usable IPv4 address left it goes
# to FAULT (and says why) and the backup takes over; when an address comes
# back it recovers. Status and /metrics agree with ip addr at every step.
source "$(dirname "$0")/../lib.sh"

topo_up n1 n2 client
# Keep the other addresses of the subnet when the primary one goes (as
# distributions configure it), so the new address can take over.
nsx n1 sysctl -qw net.ipv4.conf.eth0.promote_secondaries=1
pair_with_metrics
heard_by_n2() { [[ "$(status_json n2 | jfield 'd["instances"][0]["master"]["address"]')" == "$1" ]]; }

step "n1 gets 192.0.2.21 and loses 192.0.2.11"
ip -n "$(ns n1)" addr add 192.0.2.21/24 dev eth0
ip -n "$(ns n1)" addr del 192.0.2.11/24 dev eth0
wait_until "n2 hears the master from 192.0.2.21" 3 heard_by_n2 192.0.2.21
stays_true "n1 stays the only holder" 2 only_holder n1
check_truthful n1 n2
log_has n1 "adverts now go out from 192.0.2.21 on eth0 \(was 192.0.2.11\)" ||
    fail "n1's log" "the new source address" "$(vipd_log n1 | tail -5)"
wait_until "the client reaches $VIP4" 5 ping_ok

step "n1 loses its last IPv4 address"
ip -n "$(ns n1)" addr del 192.0.2.21/24 dev eth0
wait_until "n1 is in FAULT" 3 state_is n1 FAULT
fault="$(fault_of n1)"
[[ "$fault" == *"no IPv4 address to send adverts from"* ]] || fail "n1's fault reason" "no IPv4 address" "$fault"
ok "n1 says why: $fault"
wait_until "n2 takes $VIP4" 5 only_holder n2
check_truthful n1 n2
wait_until "the client reaches $VIP4" 5 ping_ok

step "192.0.2.11 comes back"
ip -n "$(ns n1)" addr add 192.0.2.11/24 dev eth0
wait_until "n1 recovers and preempts" 5 only_holder n1
wait_until "n2 hears the master from 192.0.2.11" 3 heard_by_n2 192.0.2.11
stays_true "exactly one holder" 1 only_holder n1
check_truthful n1 n2
wait_until "the client reaches $VIP4" 5 ping_ok
