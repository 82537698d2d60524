#!/usr/bin/env bash
# Graceful stop (SIGTERM): the master sends a priority-0 advert, the backup
# takes over, the old master keeps no VIP and vipd exits with status 0.
source "$(dirname "$0")/../lib.sh"

topo_up n1 n2 client
notify="$(make_notify n1)"
start_vipd n1 priority=150 advert_interval=1s notify="$notify"
start_vipd n2 priority=100 advert_interval=1s
wait_until "n1 holds $VIP4" 5 only_holder n1

capture_start vrrp "$BPF_VRRP4"
t0="$(now)"
kill_vipd n1 TERM
assert_eq "vipd exit status after SIGTERM" 0 "$VIPD_RC"
check "n1 holds no VIP after stopping" not_ has_addr n1
states="$(notify_states n1)"
[[ "$states" == *"MASTER STOP" ]] || fail "n1's notify script on stop" "... MASTER STOP" "$states"
ok "n1's notify states: $states"
stop_line="$(grep " STOP " "$VT_TMP/n1/notify.log")"
[[ "$stop_line" == *"vip=no" ]] || fail "notify STOP runs after the VIP is removed" "vip=no" "$stop_line"
ok "notify STOP ran with the VIP already removed"
log "notify MASTER ran with $(grep -m1 " MASTER " "$VT_TMP/n1/notify.log" | awk '{ print $NF }') (whether the VIP was already on eth0)"

n1ip="$(ip4_of n1)"
wait_until "priority-0 advert from n1 on the wire" 2 \
    cap_at_least vrrp 1 "src $n1ip and $BPF_VRRP4_PRIO0"
cap_show vrrp "src $n1ip and $BPF_VRRP4_PRIO0" | head -n 2 | sed 's/^/      /'

# With 1 s adverts, silence alone would take Master_Down_Interval = 3.6 s;
# after a priority-0 advert the backup waits only Skew_Time (0.6 s).
wait_until "n2 holds $VIP4" 3 only_holder n2
ms="$(elapsed_ms "$t0")"
((ms < 2500)) || fail "takeover after the priority-0 advert" "within Skew_Time (~0.6 s), well under Master_Down_Interval (3.6 s)" "${ms} ms"
ok "n2 took over ${ms} ms after SIGTERM (Master_Down_Interval would be 3600 ms)"
client_ping "$VIP4" 2 || fail "client ping after takeover" "replies" "$(cat "$VT_TMP/ping.out")"
assert_eq "client's neighbour entry has n2's MAC" "$(node_mac n2)" "$(client_neigh_mac)"
