#!/usr/bin/env bash
# The master's link flaps: it goes to Fault (drops the VIP, notify FAULT)
# and the backup takes over; when the link is back it recovers (BACKUP, then
# MASTER by preemption); once the link has been up for Master_Down_Interval
# there are never two holders.
source "$(dirname "$0")/../lib.sh"

topo_up n1 n2 client
notify="$(make_notify n1)"
start_vipd n1 priority=150 notify="$notify"
start_vipd n2 priority=100
wait_until "n1 holds $VIP4" 5 only_holder n1
monitor_start
# Master_Down_Interval for the lower priority (100) at 100 ms adverts:
# 3 x 100 ms + (256 - 100) x 100 ms / 256 = 361 ms.
mdi=0.361

step "n1's link goes down"
link_down n1
wait_until "n2 takes $VIP4" 3 only_holder n2
wait_until "n1 removes $VIP4 from its downed eth0 (Fault)" 2 not_ has_addr n1
wait_until "n1's notify script reports FAULT" 2 eval '(( $(notify_count n1 FAULT) >= 1 ))'

step "n1's link comes back"
link_up n1
t_up="$(now)"
wait_until "n1 recovers and takes $VIP4 back (preempt)" 3 only_holder n1
states="$(notify_states n1)"
[[ "$states" == *"FAULT BACKUP MASTER" ]] || fail "notify states of n1" "... FAULT BACKUP MASTER" "$states"
ok "n1's notify states: $states"
stays_true "at most one holder after recovery" 1.5 at_most_one_holder
since="$(awk -v t="$t_up" -v m="$mdi" 'BEGIN { printf "%.6f", t + m }')"
assert_eq "most simultaneous holders from link-up + Master_Down_Interval on" 1 "$(monitor_max_holders "$since")"

step "fast flaps: 3 x (down 200 ms, up 200 ms)"
# The 200 ms are the stimulus (a flapping link), not a synchronisation.
for _ in 1 2 3; do
    link_down n1
    sleep 0.2
    link_up n1
    sleep 0.2
done
t_up="$(now)"
wait_until "n1 ends up holding $VIP4" 3 only_holder n1
stays_true "at most one holder after the flaps" 2 at_most_one_holder
monitor_stop
since="$(awk -v t="$t_up" -v m="$mdi" 'BEGIN { printf "%.6f", t + m }')"
assert_eq "most simultaneous holders from the last link-up + Master_Down_Interval on" 1 "$(monitor_max_holders "$since")"
ok "n1's notify states: $(notify_states n1)"
log "holder changes: $(monitor_changes)"
