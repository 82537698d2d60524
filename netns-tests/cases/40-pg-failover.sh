#!/usr/bin/env bash
# Issue 4, node failure: n1 runs the PostgreSQL primary, n2 a synchronous
# streaming standby (pg_basebackup -R), each with an app stand-in and vipd
# running the shipped config pair and role scripts. A client writes rows
# through the VIP. n1's vipd is killed and its link cut: n2 becomes master,
# its hook promotes its PostgreSQL, the client's writes succeed again, and
# every row the client saw committed is on n2 (synchronous replication).
# Reports the measured write outage.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/../postgres.sh"

topo_up n1 n2 client
pg_pair_up
pg_pair_vipd_up
check "n1's PostgreSQL was not fenced when its vipd started as a backup" pg_is_primary n1
check "n2's PostgreSQL is still a standby" pg_is_standby n2

step "n2's standby away: n1's primary must still pass check-postgres.sh"
# With synchronous replication every commit on n1 now waits for n2; the
# check's test transaction (txid_current(), no data written) must not, or the
# primary would fail its check and nobody could hold the addresses.
pg_stop n2 fast
start_check="$(now)"
rc=0
nsx n1 env VIPD_ROLES_CONF="$VT_TMP/n1/roles.conf" timeout 10 "$ROLES_DIR/check-postgres.sh" \
    >"$VT_TMP/check-alone.out" 2>&1 || rc=$?
assert_eq "check-postgres.sh on n1 with no standby connected (exit status)" 0 "$rc"
ok "it answered in $(elapsed_ms "$start_check") ms"
pg_start n2
wait_until "n2 streams from n1 as its synchronous standby again" 30 pg_has_sync_standby n1
check "n1 still holds both addresses" holds_pair n1

writes_table n1
writer_start
wait_until "the client committed 20 rows through $VIP4" 20 eval '(( $(writes_ok 0) >= 20 ))'
check "n2 is still n1's synchronous standby" pg_has_sync_standby n1

step "n1 dies: SIGKILL its vipd and cut its link (PostgreSQL on n1 keeps running, unreachable)"
t0="$(now)"
crash_node n1
wait_until "n2 holds $VIP4 and $VIP_APP" 10 holds_pair n2
wait_until "n2's PostgreSQL is promoted (out of recovery)" 30 pg_is_primary n2
wait_until "the client's writes through $VIP4 succeed again" 30 eval '(( $(writes_ok "$t0") >= 1 ))'
report_outage "$t0" "n1 killed and cut off"
before="$(committed_before "$t0")"
wait_until "5 more rows committed through n2" 20 eval '(( $(writes_ok "$t0") >= 5 ))'
writer_stop

check "n2's hook logged the promotion" log_has n2 "promoting the local standby"
check "n2's hook turned synchronous replication off (its only standby is gone)" log_has n2 "turning synchronous replication off"
assert_eq "synchronous_standby_names on n2 after the promotion" "" "$(pg_setting n2 synchronous_standby_names)"
((before >= 20)) || fail "rows committed before the failure" ">= 20" "$before"
ok "$before rows were committed through n1 before it died"
verify_no_lost_writes n2
log "write outage: ${OUTAGE_MS} ms (n1's vipd killed + link cut -> first committed write through $VIP4 on n2)"
