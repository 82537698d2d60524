#!/usr/bin/env bash
# Issue 11, the reference: real etcd 3.4 (one member on each of n1 n2 n3),
# a Patroni 3.0 pair with PostgreSQL 15 on n1 and n2 (etcd's v2 keyspace,
# which is all vip-manager 1.0.2 reads), and Debian's vip-manager on n1 and
# n2 following it. The VIP is on the leader only; `patronictl switchover`
# moves it there and back; the old leader is a streaming replica afterwards.
# Reports, per switchover, the time from the leader key change (a v2 watch
# from the client) to the VIP on the new leader (`ip monitor` on the nodes),
# and any instant with two holders or none: the figures vipd is compared with.
# Nothing here is a timing threshold.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/../patroni.sh"
source "$(dirname "$0")/../vip-manager.sh"

SCOPE=pg
topo_up n1 n2 n3 client
etcd_up n1 n2 n3
check "etcd has quorum" etcd_has_quorum
patroni_up "$SCOPE" etcd n1 n2
check "n1's PostgreSQL takes writes" pg_writable n1
check "n2's PostgreSQL is a replica" pg_is_replica n2
assert_eq "the leader key in etcd's v2 keyspace" n1 "$(patroni_leader)"
assert_eq "members whose REST API answers /primary" n1 "$(patroni_rest_primaries)"

# The key as the client sees it, through the witness's member (n3 runs no
# database), and every address change on the database nodes.
etcd_watch_start leader "$(patroni_leader_key)" v2 n3 client
vip_events_start n1 n2
vip_manager_start n1 "$VIP4_CIDR" "$SCOPE"
vip_manager_start n2 "$VIP4_CIDR" "$SCOPE"
wait_until "the leader n1 holds $VIP4" 10 only_holder n1
# Two polls of each vip-manager (1 s interval): n2 must not take it.
stays_true "$VIP4 on the leader n1 only" 2.2 only_holder n1
# client_reaches_primary: through the VIP, the client gets a PostgreSQL out of recovery.
client_reaches_primary() {
    [[ "$(nsx client env PGCONNECT_TIMEOUT=2 "$PG_BINDIR/psql" -X -A -t -h "$VIP4" -U postgres -d postgres \
        -c 'select pg_is_in_recovery()' 2>/dev/null)" == f ]]
}
wait_until "the client reaches the primary through $VIP4" 10 client_reaches_primary

declare -a FOLLOW_MS=() RELEASE_MS=()
ms_between() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%d", (b - a) * 1000 }'; }
# switchover FROM TO: patronictl moves the leadership; the VIP must follow
# to TO, and FROM must come back as a streaming replica.
switchover() {
    local from="$1" to="$2" t0 t_key t_vip t_left t_del ms left_ms summary max overlap gap
    step "patronictl switchover $from -> $to"
    t0="$(now)"
    patroni_switchover "$from" "$to"
    wait_until "the leader key names $to (watch)" 10 eval "[[ -n \"\$(etcd_watch_first leader $to $t0)\" ]]"
    wait_until "$to holds $VIP4, $from does not" 10 only_holder "$to"
    patroni_wait_leader 20
    assert_eq "the leader after the switchover" "$to" "$PAT_LEADER"
    check "$to's PostgreSQL takes writes" pg_writable "$to"
    patroni_wait_streaming "$from" 30
    check "$from's Patroni reports a replica" patroni_is_replica "$from"
    check "$from's PostgreSQL is in recovery" pg_is_replica "$from"
    check "$VIP4 is still on $to only" only_holder "$to"
    check "the client reaches the primary on $to through $VIP4" client_reaches_primary
    t_key="$(etcd_watch_first leader "$to" "$t0")"
    t_vip="$(vip_event_first "$to" add "$VIP4" "$t0")"
    [[ -n "$t_vip" ]] || fail "an address event for $VIP4 on $to" "one" "$(cat "$VIP_EVENTS")"
    ms="$(ms_between "$t_key" "$t_vip")"
    FOLLOW_MS+=("$ms")
    # The key leaves FROM first (Patroni deletes it, then TO writes it).
    t_left="$(awk -v f="$from" -v s="$t0" '$1 >= s && $2 != f { print $1; exit }' "$VT_TMP/etcd-watch-leader.log")"
    t_del="$(vip_event_first "$from" del "$VIP4" "$t0")"
    [[ -n "$t_del" ]] || fail "an address event: $VIP4 deleted on $from" "one" "$(cat "$VIP_EVENTS")"
    left_ms="$(ms_between "$t_left" "$t_del")"
    RELEASE_MS+=("$left_ms")
    read -r max overlap gap <<<"$(vip_events_summary "$VIP4" "$t0")"
    summary="at most $max holder(s) at once, ${overlap} ms with two, ${gap} ms with none"
    log "MEASURED vip-manager ($from -> $to): the key left $from at +$(ms_between "$t0" "$t_left") ms and named $to at +$(ms_between "$t0" "$t_key") ms after patronictl started; VIP off $from ${left_ms} ms after the key left it; VIP on $to ${ms} ms after the key named it; $summary"
}

switchover n1 n2
switchover n2 n1

vip_events_stop
etcd_watch_stop leader
log "leader key changes seen by the client: $(awk '{ printf "%s%s", (NR > 1 ? " -> " : ""), $2 }' "$VT_TMP/etcd-watch-leader.log")"
log "address events: $(awk -v a="$VIP4/" 'index($4, a) == 1 { printf "%s%s %s", (n++ ? ", " : ""), $2, $3 }' "$VIP_EVENTS")"
log "vip-manager follow latency (leader key names the new leader -> VIP added there): ${FOLLOW_MS[*]} ms"
log "vip-manager release latency (leader key leaves the old leader -> VIP deleted there): ${RELEASE_MS[*]} ms"
vip_manager_stop n1
vip_manager_stop n2
check "SIGINT made vip-manager remove $VIP4 on exit" eval '[[ -z "$(vip_holders)" ]]'
