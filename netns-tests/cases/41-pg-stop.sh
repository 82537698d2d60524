#!/usr/bin/env bash
# Issue 4, PostgreSQL failure: the same pair as 40-pg-failover. PostgreSQL on
# the master (n1) is stopped while both vipds keep running: n1's pg_alive
# check fails (weight 0 in the shipped pair: Fault), n1 gives both addresses
# up, n2 becomes master and promotes its standby, the client's writes succeed
# again and no row the client saw committed is lost. Reports the measured
# write outage.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/../postgres.sh"

topo_up n1 n2 client
pg_pair_up
pg_pair_vipd_up

writes_table n1
writer_start
wait_until "the client committed 20 rows through $VIP4" 20 eval '(( $(writes_ok 0) >= 20 ))'
check "n2 is n1's synchronous standby" pg_has_sync_standby n1
stays_true "n1 keeps both addresses while everything is healthy" 1 holds_pair n1
monitor_start

step "stop PostgreSQL on the master n1 (pg_ctl stop -m fast); vipd keeps running"
t0="$(now)"
pg_stop n1 fast
check "n1's PostgreSQL is stopped" not_ pg_running n1
# pg_alive: every 2 s, fall 3 -> Fault within about 6 s; n2 takes over at once
# on n1's priority-0 advert.
wait_until "n1's vipd puts db in Fault (pg_alive failing)" 15 log_has n1 "instance db: MASTER -> FAULT"
wait_until "n2 holds $VIP4 and $VIP_APP" 5 holds_pair n2
wait_until "n2's PostgreSQL is promoted (out of recovery)" 30 pg_is_primary n2
wait_until "the client's writes through $VIP4 succeed again" 30 eval '(( $(writes_ok "$t0") >= 1 ))'
report_outage "$t0" "PostgreSQL stopped on the master"
wait_until "5 more rows committed through n2" 20 eval '(( $(writes_ok "$t0") >= 5 ))'
stays_true "n2 keeps both addresses" 1.5 holds_pair n2
writer_stop
monitor_stop

check "n1's vipd is still running" pid_alive "${VIPD_PID[n1]}"
check "n1 reported why" log_has n1 "check pg_alive now failing"
check "the app address followed the database address (sync group)" log_has n1 "instance app: MASTER -> FAULT"
assert_eq "most simultaneous holders of $VIP4" 1 "$(monitor_max_holders)"
check "n1's notify_fault hook found nothing to fence" log_has n1 "PostgreSQL is not running here: nothing to fence"
check "n2's hook logged the promotion" log_has n2 "promoting the local standby"
verify_no_lost_writes n2
log "holder changes: $(monitor_changes)"
log "write outage: ${OUTAGE_MS} ms (PostgreSQL stopped on n1 -> first committed write through $VIP4 on n2)"
