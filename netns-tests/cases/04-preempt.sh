#!/usr/bin/env bash
# Preemption: a returning higher-priority node takes the VIP back; with
# preempt off it does not; preempt_delay holds the takeover back for that
# long after start-up.
source "$(dirname "$0")/../lib.sh"

topo_up n1 n2 client
start_vipd n1 priority=150
start_vipd n2 priority=100
wait_until "n1 holds $VIP4" 5 only_holder n1

step "preempt = true: n1 dies and comes back"
crash_node n1
wait_until "n2 holds $VIP4" 3 only_holder n2
link_up n1
start_vipd n1 priority=150 preempt=true
wait_until "returning n1 takes $VIP4 back from n2" 3 only_holder n1

step "preempt = false: n1 comes back as backup and stays backup"
kill_vipd n1 TERM
wait_until "n2 holds $VIP4" 3 only_holder n2
start_vipd n1 priority=150 preempt=false
# n1 must be running and hearing n2 (so it is in Backup, not still starting).
wait_until "n1 logs its start as backup" 5 log_has n1 "-> BACKUP"
# 2 s is more than six Master_Down_Intervals (0.3 s + skew).
stays_true "n2 keeps $VIP4, n1 does not preempt" 2 only_holder n2

step "preempt_delay = 1.5s: n1 takes over, but not before 1.5 s after start"
kill_vipd n1 TERM
check "n2 still the only holder" only_holder n2
t0="$(now)"
start_vipd n1 priority=150 preempt=true preempt_delay=1.5s
stays_true "n1 does not take $VIP4 during preempt_delay" 1.4 only_holder n2
wait_until "n1 takes $VIP4 once preempt_delay has passed" 3 only_holder n1
ms="$(elapsed_ms "$t0")"
((ms >= 1500)) || fail "takeover after preempt_delay" ">= 1500 ms after start" "$ms ms"
ok "n1 took over $ms ms after it was started (delay 1500 ms + Master_Down_Interval)"
