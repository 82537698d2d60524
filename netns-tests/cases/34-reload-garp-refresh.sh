#!/usr/bin/env bash
# After a reload that changes a master's VIPs, the periodic announcement
# (garp_refresh) announces the new addresses, never the old ones.
source "$(dirname "$0")/../lib.sh"

topo_up n1 client
announce='extra=garp_refresh = "500ms"'
start_vipd n1 priority=150 garp_repeat=1 garp_delay=0s "$announce"
wait_until "n1 holds $VIP4" 5 only_holder n1

capture_start before "arp host $VIP4"
wait_until "the refresh announces $VIP4" 3 cap_at_least before 2 "arp host $VIP4"
capture_stop before

step "reload: 192.0.2.51 replaces $VIP4"
vipd_conf n1 priority=150 garp_repeat=1 garp_delay=0s "$announce" 'virtual_ips=["192.0.2.51/24"]'
out="$(nsx n1 "$VIPD_BIN" reload --socket "$VT_TMP/n1/vipd.sock")" || fail "vipd reload" "exit 0" "$out"
wait_until "n1 holds 192.0.2.51 and no longer $VIP4" 3 eval 'holds_vip n1 192.0.2.51 && ! holds_vip n1'
capture_start after "arp"
wait_until "the refresh announces 192.0.2.51" 3 cap_at_least after 2 "arp host 192.0.2.51"
capture_stop after
assert_eq "announcements of the old $VIP4 after the reload" 0 "$(cap_count after "arp host $VIP4")"
