#!/usr/bin/env bash
# Interfaces that are not ready when vipd starts: an instance whose
# interface does not exist yet starts in FAULT (saying why) instead of
# failing the daemon, and comes up when the interface appears; an IPv6
# instance waiting for its link-local address (duplicate address detection)
# neither delays the other instances nor SIGTERM.
source "$(dirname "$0")/../lib.sh"

topo_up n1 n2 client

step "n2 starts before its eth0 exists"
ip -n "$(ns n2)" link del eth0
start_vipd n2 priority=100 "global=$METRICS_LISTEN"
wait_until "n2 answers status, in FAULT" 5 state_is n2 FAULT
check "n2's vipd is running" pid_alive "${VIPD_PID[n2]}"
fault="$(fault_of n2)"
[[ "$fault" == *"interface eth0 does not exist"* ]] || fail "n2's fault reason" "interface eth0 does not exist" "$fault"
ok "n2 says why: $fault"

step "n1 starts with an IPv6 instance whose link-local address is still tentative"
# A second link whose duplicate address detection takes 60 s.
ip -n "$(ns n1)" link add eth1 type veth peer name eth1p
nsx n1 sysctl -qw net.ipv6.conf.eth1.dad_transmits=60 net.ipv6.neigh.eth1.retrans_time_ms=1000
ip -n "$(ns n1)" link set eth1p up
ip -n "$(ns n1)" link set eth1 up
cat >"$VT_TMP/n1/vipd.toml" <<TOML
[global]
node_name = "n1"
control_socket = "$VT_TMP/n1/vipd.sock"
$METRICS_LISTEN

[instances.a6]
interface = "eth1"
vrid = 52
priority = 150
advert_interval = "100ms"
virtual_ips = ["2001:db8:1::50/64"]

[instances.vip]
interface = "eth0"
vrid = 51
priority = 150
advert_interval = "100ms"
virtual_ips = ["$VIP4_CIDR"]
TOML
start_vipd n1
wait_until "n1's IPv4 instance takes $VIP4 meanwhile" 5 only_holder n1
a6_state() { status_json n1 | jfield '[i["state"] for i in d["instances"] if i["name"] == "a6"][0]'; }
assert_eq "the IPv6 instance still waits for its address" "INIT" "$(a6_state)"

step "n2's eth0 appears"
recreate_eth0 n2
wait_until "n2 is BACKUP" 5 state_is n2 BACKUP
check_truthful n2

step "SIGTERM while the IPv6 instance still waits"
kill_vipd n1 TERM
assert_eq "n1's exit status" 0 "$VIPD_RC"
wait_until "n2 takes $VIP4" 5 only_holder n2
check_truthful n2
wait_until "the client reaches $VIP4" 5 ping_ok
