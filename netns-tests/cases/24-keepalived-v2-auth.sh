#!/usr/bin/env bash
# vipd and keepalived, VRRPv2 with a simple password (keepalived:
# authentication { auth_type PASS }), 1 s adverts. With the same password,
# both ways round: one master, the right one, and failover. With different
# passwords each ignores the other's adverts: both become master and stay
# master, and both say why in their logs.
source "$(dirname "$0")/../peers.sh"
need_tools keepalived arping

topo_up n1 n2 client
PASS_N1=s3cret
PASS_N2=s3cret
start_n1() { start_vipd_peer n1 priority="$1" version=2 advert_interval=1s auth_pass="$PASS_N1"; }
start_n2() { start_keepalived n2 priority="$1" version=2 advert_int=1 auth_pass="$PASS_N2"; }
# Master_Down_Interval at priority 100: 3 x 1 s + 0.61 s.
IX_SETTLE=10
IX_STEADY=4

capture_start vrrp "$BPF_VRRP4"
interop_both_ways

step "different passwords: vipd '$PASS_N1', keepalived 'other'"
interop_reset n2 n1
PASS_N2=other
start_n2 100
start_n1 150
both_hold() { [[ "$(peer_holders)" == "n1 n2" ]]; }
wait_until "both nodes hold $VIP4 (each ignores the other)" "$IX_SETTLE" both_hold
stays_true "both stay master: neither accepts the other's adverts" 4 both_hold
wait_until "vipd logs the password mismatch" 5 log_has n1 "ignoring advert from 192\.0\.2\.12: auth mismatch"
ok "vipd: $(grep -m1 -i "auth mismatch" "$VT_TMP/n1/vipd.log")"
wait_until "keepalived logs the password mismatch" 5 ka_log_has n2 "invalid passwd"
ok "keepalived: $(ka_log_since_start n2 | grep -m1 -i "invalid passwd")"

# On the wire: both sent auth type 1 with their own 8-byte password.
for node in n1 n2; do
    n="$(cap_count vrrp "$BPF_VRRP4 and src $(ip4_of "$node") and ip[24] = 1")"
    ((n >= 3)) || fail "adverts with auth type 1 from $node ($(kind_of "$node"))" ">= 3" "$n"
done
ok "both sent auth type 1 (simple password) adverts"
