#!/usr/bin/env bash
# Issue 11, the gate with a database behind it: n1 runs the PostgreSQL
# primary and n2 a synchronous standby, each with vipd on the shipped
# config/etcd-gate-X.toml (the instance must hold /vipd/pair/db in etcd to
# be MASTER) and the shipped role scripts; etcd has one member on each of
# n1, n2 and n3. A client writes rows through the VIP without pause.
#   1. n1 (master) cut off from both others: it steps down and fences its
#      primary; n2 takes the lock after n1's lease ran out and promotes.
#   2. n1 rebuilt as n2's synchronous standby, cut off from the others for
#      longer than a lease (it must not promote); then the whole of n2 hangs
#      (every process in its namespace SIGSTOPped) for longer than the
#      lease: the kernel drops its VIP, n1 takes over; n2 resumes and fences.
#   3. etcd loses its quorum: the master steps down and fences; once quorum
#      is back and the operator restarts the fenced PostgreSQL, it serves
#      again.
# Read from outside: `ip monitor` on both nodes (never two VIP holders), and
# both PostgreSQL servers polled through their sockets (never two primaries
# that can acknowledge a commit). Afterwards every row the client saw
# committed is on the last primary.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/../postgres.sh"
source "$(dirname "$0")/../etcd.sh"
source "$(dirname "$0")/../vip-manager.sh"

PAIR_CONFIG=etcd-gate
topo_up n1 n2 n3 client
etcd_up n1 n2 n3
pg_pair_up
roles_install
roles_conf n1
roles_conf n2
pair_conf n1 a
pair_conf n2 b
vip_events_start n1 n2
pair_start_vipd n1
wait_until "n1 holds $VIP4" 15 only_holder n1
wait_until "n1's activate-primary hook found a writable primary" 20 \
    log_has n1 "PostgreSQL is primary and accepts writes"
pair_start_vipd n2
wait_until "n2 is BACKUP" 15 state_is n2 BACKUP

# acknowledges_commits NODE: NODE's PostgreSQL is a primary that can
# acknowledge a commit now: out of recovery, not fenced read-only, and
# either not waiting for a synchronous standby or with one attached. (An old
# primary whose synchronous standby was promoted away cannot: every commit
# on it waits.) A server that does not answer cannot either.
acknowledges_commits() {
    [[ "$(pg_sql "$1" "select not pg_is_in_recovery()
        and current_setting('default_transaction_read_only') = 'off'
        and (current_setting('synchronous_standby_names') = ''
             or exists (select 1 from pg_stat_replication where sync_state in ('sync', 'quorum')))" 2>/dev/null)" == t ]]
}
PRIMARIES="$VT_TMP/primaries.log"
primaries_watch_start() {
    : >"$PRIMARIES"
    (
        trap 'exit 0' TERM INT
        last="?"
        while true; do
            p=""
            for node in n1 n2; do
                if acknowledges_commits "$node"; then p+="$node "; fi
            done
            p="${p% }"
            p="${p:--}"
            if [[ "$p" != "$last" ]]; then
                echo "$(now) $p" >>"$PRIMARIES"
                last="$p"
            fi
            sleep 0.01
        done
    ) &
    PRIMARIES_PID=$!
    record_pid "$PRIMARIES_PID"
    poll_until 5 0.02 test -s "$PRIMARIES" || fail "primary watcher did not start"
}
# longest_write_gap SINCE: the longest time between two successful writes
# (by their end), counting from the last one before SINCE, in ms: the
# outage the client saw.
longest_write_gap() {
    awk -v s="$1" '$4 != "ok" { next }
        $3 < s { last = $3; next }
        { if (last) { g = $3 - last; if (g > m) m = g } last = $3 }
        END { printf "%d", m * 1000 }' "$WRITES"
}
WORST_WRITE_GAP=0
# report_gap SINCE WHAT
report_gap() {
    local gap
    gap="$(longest_write_gap "$1")"
    log "MEASURED longest write gap ($2): $gap ms ($(writes_ok "$1") rows committed and $(writes_fail "$1") attempts failed since)"
    ((gap > WORST_WRITE_GAP)) && WORST_WRITE_GAP="$gap"
    return 0
}
most_primaries() { awk '{ n = ($2 == "-") ? 0 : NF - 1; if (n > m) m = n } END { print m + 0 }' "$PRIMARIES"; }
primary_changes() { awk '{ printf "%s%s", (NR > 1 ? " -> " : ""), ($2 == "-" ? "-" : $2 (NF > 2 ? "+" $3 : "")) } END { print "" }' "$PRIMARIES"; }

writes_table n1
primaries_watch_start
writer_start
wait_until "the client committed 20 rows through $VIP4" 30 eval '(( $(writes_ok 0) >= 20 ))'

step "1. the master n1 cut off from n2 and n3"
t0="$(now)"
port_block n1
wait_until "n2 holds $VIP4" 30 only_holder n2
wait_until "n2's PostgreSQL is promoted" 30 pg_is_primary n2
wait_until "the client's writes succeed again" 30 eval '(( $(writes_ok "$t0") >= 1 ))'
report_gap "$t0" "master cut off"
check "n1 stepped down by itself, its lease not renewed" log_has n1 "leadership lease not renewed in time"
wait_until "n1's hook fenced its primary" 30 log_has n1 "fencing the local primary"
port_unblock n1

step "2. n1 rebuilt as n2's synchronous standby, then all of n2 hangs"
wait_until "n1's fenced PostgreSQL is down" 30 not_ pg_running n1
rm -rf "$(pg_data n1)"
pg_init_replica n1 n2
pg_sql n2 "alter system set synchronous_standby_names = '*'" >/dev/null
pg_sql n2 "select pg_reload_conf()" >/dev/null
wait_until "n1 streams from n2 as its synchronous standby" 30 pg_has_sync_standby n2
wait_until "n1's vipd is BACKUP again (its check passes)" 30 state_is n1 BACKUP

step "2a. the reverse: the backup n1 cut off from n2 and n3 for longer than a lease"
t0="$(now)"
port_block n1
# n1 hears no master and wants MASTER, but its etcd member has no quorum:
# it must neither take the address nor promote its standby.
stays_true "n2 alone holds $VIP4 while n1 is cut off" 8 only_holder n2
check "n1's PostgreSQL is still a standby" pg_is_standby n1
port_unblock n1
wait_until "n1 hears n2 again and stays BACKUP" 10 state_is n1 BACKUP
# Commits waited for the synchronous standby meanwhile: they go on now.
wait_until "n1 streams from n2 as its synchronous standby again" 30 pg_has_sync_standby n2
t_back="$(now)"
wait_until "the client's writes go on" 20 eval '(( $(writes_ok "$t_back") >= 1 ))'
report_gap "$t0" "backup cut off (commits wait for the synchronous standby)"
# Everything in n2 but our own address monitor (`ip monitor`), which must
# keep stamping events as they happen.
n2_pids=""
for pid in $(ip netns pids "$(ns n2)"); do
    [[ "$(ps -o comm= -p "$pid")" == ip ]] || n2_pids+="$pid "
done
n2_was="$(state_of n2)"
# A PID gone since the list was made (a check that finished) is no matter.
for pid in $n2_pids; do kill -STOP "$pid" 2>/dev/null || true; done
t0="$(now)"
log "stopped every process in n2's namespace: $(echo $n2_pids)"
wait_until "n2's kernel dropped $VIP4 and n1 holds it, while n2 is stopped" 30 only_holder n1
wait_until "n1's PostgreSQL is promoted" 30 pg_is_primary n1
wait_until "the client's writes succeed again" 30 eval '(( $(writes_ok "$t0") >= 1 ))'
report_gap "$t0" "master hung"
for pid in $n2_pids; do kill -CONT "$pid" 2>/dev/null || true; done
# BACKUP, or FAULT once its fenced PostgreSQL fails its check.
wait_until "n2 is no longer MASTER after resuming" 15 eval '[[ "$(state_of n2)" =~ ^(BACKUP|FAULT)$ ]]'
if [[ "$n2_was" == MASTER ]]; then
    check "n2 resigned on waking: its lease was not renewed" log_has n2 "leadership lease not renewed in time"
else
    log "n2 was $n2_was when it was stopped (its check failed under load before): no resignation to check"
fi
wait_until "n2's hook fenced its old primary" 30 log_has n2 "fencing the local primary"
stays_true "n1 alone holds $VIP4" 3 only_holder n1

step "3. etcd loses its quorum, then gets it back"
t0="$(now)"
etcd_stop n2
etcd_stop n3
wait_until "n1 gave $VIP4 up" 20 eval '[[ -z "$(vip_holders)" ]]'
wait_until "n1's hook fenced its primary again" 30 eval '(( $(grep -c "fencing the local primary" "$VT_TMP/n1/vipd.log") >= 2 ))'
stays_true "nobody holds $VIP4 without quorum" 5 eval '[[ -z "$(vip_holders)" ]]'
etcd_start n2
etcd_start n3
wait_until "etcd has quorum again" 30 etcd_has_quorum
log "the operator restarts n1's fenced PostgreSQL (the last primary)"
wait_until "n1's fenced PostgreSQL is down" 30 not_ pg_running n1
pg_start n1
wait_until "n1 holds $VIP4 again" 30 only_holder n1
t_back="$(now)"
wait_until "5 rows committed through $VIP4 since" 30 eval '(( $(writes_ok "$t_back") >= 5 ))'
report_gap "$t0" "etcd quorum lost and back, the fenced PostgreSQL restarted by hand"

writer_stop
stop_pid "$PRIMARIES_PID" TERM 2
vip_events_stop
read -r max overlap gap <<<"$(vip_events_summary "$VIP4")"
log "VIP holders: at most $max, ${overlap} ms with two; primaries that could acknowledge a commit: $(primary_changes); worst write gap ${WORST_WRITE_GAP} ms"
assert_eq "most simultaneous holders of $VIP4" 1 "$max"
assert_eq "most simultaneous primaries able to acknowledge a commit" 1 "$(most_primaries)"
verify_no_lost_writes n1
