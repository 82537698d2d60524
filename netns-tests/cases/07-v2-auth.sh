#!/usr/bin/env bash
# VRRPv2 with auth_pass: a node with a different password ignores the
# other's adverts (it becomes master of its own view and stays so);
# matching passwords elect one master.
source "$(dirname "$0")/../lib.sh"

topo_up n1 n2 client
v2=(version=2 advert_interval=1s)
start_vipd n1 priority=150 "${v2[@]}" auth_pass=secret
wait_until "n1 holds $VIP4" 6 only_holder n1

step "n2 with a different password"
start_vipd n2 priority=100 "${v2[@]}" auth_pass=other
# Master_Down_Interval for n2 is 3 x 1 s + (256-100)/256 s = 3.6 s.
wait_until "n2 (wrong password) becomes master of its own view" 6 holds_vip n2
stays_true "n2 does not go backup on n1's adverts (both hold $VIP4)" 4 \
    eval '[[ "$(vip_holders)" == "n1 n2" ]]'
if grep -qi "auth" "$VT_TMP/n2/vipd.log"; then
    ok "n2's log mentions the authentication mismatch: $(grep -i -m1 auth "$VT_TMP/n2/vipd.log")"
else
    log "note: n2's log does not mention the authentication mismatch"
fi

step "n2 with the same password"
kill_vipd n2 TERM
assert_eq "n2's exit status" 0 "$VIPD_RC"
start_vipd n2 priority=100 "${v2[@]}" auth_pass=secret
wait_until "n2 has left the VIP to n1" 3 only_holder n1
stays_true "one master: n1 alone holds $VIP4 (more than a Master_Down_Interval)" 4.5 only_holder n1
