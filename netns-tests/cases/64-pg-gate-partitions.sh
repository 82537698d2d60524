#!/usr/bin/env bash
# case-timeout: 300
# Issue 11, the gate with a database behind it, partitioned again and again:
# the setup of case 62 (n1 a PostgreSQL primary, n2 its synchronous standby,
# vipd on both with the shipped config/etcd-gate-X.toml and role scripts,
# etcd on n1, n2 and n3, a client writing rows through the VIP without
# pause), then PG_PART_ROUNDS rounds (10 by default). Each round:
#   - waits for a renewal of the master's lease, seen from outside as the
#     refresh of its VIP's kernel lifetime (`ip monitor`), and cuts the master
#     off from both others (its bridge port disabled) at a random phase of
#     the renewal period after it (seeded: PHASE_SEED, printed, replays a run);
#   - waits until the other node holds the VIP and its PostgreSQL is promoted
#     and takes the client's writes, and the old master fenced its primary;
#   - heals, rebuilds the old primary as the new one's synchronous standby,
#     and waits until the old master's vipd is a backup with a passing check;
#     the next round cuts off the new master.
# Observers, all outside the daemons: `ip monitor` on both nodes and the
# nodes' addresses polled through netlink every 10 ms (never two VIP
# holders); both PostgreSQL servers polled through their sockets (never two
# primaries able to acknowledge a commit);
# a capture on each node's bridge port of every frame it sent claiming the
# VIP (ARP with the VIP as sender, IPv4 from the VIP), blocked or not: per
# round, the old master's last such frame comes before the new master's
# first. Afterwards every row the client saw committed is on the last
# primary, and a per-round table gives the phase, the gaps and the overlap.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/../postgres.sh"
source "$(dirname "$0")/../etcd.sh"
source "$(dirname "$0")/../vip-manager.sh"

PAIR_CONFIG=etcd-gate
ROUNDS="${PG_PART_ROUNDS:-10}"
[[ "$ROUNDS" =~ ^[1-9][0-9]*$ ]] || fail "PG_PART_ROUNDS" "a positive number of rounds" "$ROUNDS"
PHASE_SEED="${PHASE_SEED:-$RANDOM}"
# The lease's renewal period: vipd renews every ttl / 4.
LEASE_TTL_S="$(sed -n 's/^leadership = .*ttl = "\([0-9]*\)s".*/\1/p' "$VT_REPO/config/$PAIR_CONFIG-a.toml")"
[[ "$LEASE_TTL_S" =~ ^[0-9]+$ ]] || fail "the lease ttl in config/$PAIR_CONFIG-a.toml" "whole seconds" "${LEASE_TTL_S:-none}"
RENEW_MS=$((LEASE_TTL_S * 1000 / 4))
# The phases are drawn up front, so that nothing else using $RANDOM changes them.
RANDOM="$PHASE_SEED"
declare -a PHASE_TARGET_MS=()
for ((i = 1; i <= ROUNDS; i++)); do PHASE_TARGET_MS+=($((RANDOM % RENEW_MS))); done
log "PHASE_SEED=$PHASE_SEED (replay with PHASE_SEED=$PHASE_SEED): $ROUNDS rounds, phases ${PHASE_TARGET_MS[*]} ms after a renewal (period $RENEW_MS ms)"

# ms_between A B: (B - A) in ms, one decimal.
ms_between() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", (b - a) * 1000 }'; }
# vip_refreshes NODE: times of NODE's address events for the VIP (its
# addition and each lifetime refresh at a renewal).
vip_refreshes() { awk -v n="$1" -v a="$VIP4/" '$2 == n && $3 == "add" && index($4, a) == 1 { print $1 }' "$VIP_EVENTS"; }
# last_refresh NODE BEFORE: the latest of them before BEFORE.
last_refresh() { vip_refreshes "$1" | awk -v b="$2" '$1 < b { t = $1 } END { if (t) print t }'; }
refreshed_since() { [[ -n "$(vip_refreshes "$1" | awk -v s="$2" '$1 >= s { print; exit }')" ]]; }
fence_count() { grep -c "fencing the local primary" "$VT_TMP/$1/vipd.log" || true; }
# fenced_count NODE: fences that finished: the hook stopped PostgreSQL and
# says how to rebuild it.
fenced_count() { grep -c "was a primary and lost the VIP" "$VT_TMP/$1/vipd.log" || true; }
check_runs() { status_json "$1" | jfield 'd["checks"][0]["runs"]' 2>/dev/null; }
# ready_backup NODE RUNS SINCE: NODE's vipd is BACKUP with a healthy check
# that will stay so: its check ran again since it had RUNS runs at SINCE
# (PostgreSQL up again) and no run failed since; or it ran twice since (the
# latest run then started after SINCE). So no FAULT from the time PostgreSQL
# was down is still to come.
ready_backup() {
    status_json "$1" | jfield "(d['instances'][0]['state'] == 'BACKUP' and d['checks'][0]['healthy'] and
        (d['checks'][0]['runs'] >= $2 + 2 or (d['checks'][0]['runs'] >= $2 + 1 and
         (d['checks'][0]['last_failure'] or {}).get('unix_time', 0) < $3)))" 2>/dev/null | grep -qx True
}
# The captures first (lib.sh would stop them last, after postgres.sh's sweep
# of the namespaces killed them).
stop_captures() { capture_stop wire-n1; capture_stop wire-n2; }
vt_chain_cleanup stop_captures
# single_since SINCE WHAT: since SINCE, never two holders of the VIP (address
# events and polled addresses) nor two primaries able to acknowledge.
single_since() {
    local max polled prim
    read -r max _ _ <<<"$(vip_events_summary "$VIP4" "$1")"
    polled="$(monitor_max_holders "$1")"
    prim="$(primaries_max_between "$1" 9999999999)"
    ((max <= 1)) || fail "$2: holders of $VIP4 at once (ip monitor)" "at most 1" "$max: $(tail -n 4 "$VIP_EVENTS" | paste -sd';' -)"
    ((polled <= 1)) || fail "$2: holders of $VIP4 at once (addresses polled)" "at most 1" "$polled: $(monitor_changes)"
    ((prim <= 1)) || fail "$2: primaries able to acknowledge a commit at once" "at most 1" "$prim: $(primaries_changes)"
}
not_master() { local s; s="$(state_of "$1")" && [[ -n "$s" && "$s" != MASTER ]]; }

topo_up n1 n2 n3 client
etcd_up n1 n2 n3
pg_pair_up
roles_install
roles_conf n1
roles_conf n2
pair_conf n1 a
pair_conf n2 b
# Every frame a node sends that claims the VIP: an ARP whose sender address
# is the VIP (replies, gratuitous ARP, the holder's own requests), or an
# IPv4 packet from the VIP. arp[14:4] is the sender protocol address.
VIP_HEX="$(printf '0x%02x%02x%02x%02x' ${VIP4//./ })"
for node in n1 n2; do
    capture_port_start "wire-$node" "$node" "(arp and arp[14:4] = $VIP_HEX) or (ip and src host $VIP4)"
done
vip_events_start n1 n2
pair_start_vipd n1
wait_until "n1 holds $VIP4" 15 only_holder n1
wait_until "n1's activate-primary hook found a writable primary" 20 \
    log_has n1 "PostgreSQL is primary and accepts writes"
pair_start_vipd n2
wait_until "n2 is BACKUP" 15 state_is n2 BACKUP

writes_table n1
primaries_watch_start n1 n2
monitor_start_netlink 0.01
writer_start
wait_until "the client committed 20 rows through $VIP4" 30 eval '(( $(writes_ok 0) >= 20 ))'


declare -a R_LEADER=() R_MASTER=() R_OTHER=() R_CUT=() R_PHASE=() R_VIP=() R_NONE=() R_OVERLAP=() R_WRITEGAP=() R_PRIM=() R_ROUND=()
for ((i = 1; i <= ROUNDS; i++)); do
    master="$(vip_holders)"
    [[ "$master" == n1 || "$master" == n2 ]] || fail "one master before round $i" "n1 or n2" "${master:-none}"
    other=n1
    [[ "$master" == n1 ]] && other=n2
    step "round $i/$ROUNDS: $master cut off ${PHASE_TARGET_MS[i - 1]} ms after a renewal of its lease"
    t_start="$(now)"
    fences="$(fence_count "$master")"
    fenced="$(fenced_count "$master")"
    # When the cut-off node hosts etcd's leader, the others elect a new one
    # first, and a new leader extends every lease: the takeover is later.
    leader="$(etcd_leader)"
    wait_until "round $i: a renewal of $master's lease (its VIP's lifetime refreshed)" 5 refreshed_since "$master" "$t_start"
    t_ren="$(last_refresh "$master" "$(now)")"
    # A phase, not a synchronisation: the cut lands PHASE ms after the renewal.
    wait_s="$(awk -v r="$t_ren" -v p="${PHASE_TARGET_MS[i - 1]}" -v n="$(now)" 'BEGIN { d = r + p / 1000 - n; printf "%.3f", (d > 0 ? d : 0) }')"
    sleep "$wait_s"
    t_cut="$(now)"
    port_block "$master"
    # Measured, not assumed: a renewal may have come in since.
    phase_ms="$(ms_between "$(last_refresh "$master" "$t_cut")" "$t_cut")"
    wait_until "round $i: $other holds $VIP4" 30 holds_vip "$other"
    wait_until "round $i: $other's PostgreSQL is promoted" 30 pg_is_primary "$other"
    wait_until "round $i: the client's writes succeed again" 30 eval '(( $(writes_ok "$t_cut") >= 1 ))'
    # At once, before waiting for anything of the old master: a master that
    # never stepped down would still hold the VIP and its primary now.
    single_since "$t_cut" "round $i, once $other took over"
    wait_until "round $i: $master stepped down and fenced its primary" 30 \
        eval '(( $(fence_count "$master") > fences )) && not_master "$master"'
    port_unblock "$master"
    # Its hook's `pg_ctl stop -w` may still be watching the data directory
    # after the postmaster is gone: the rebuild must not remove it before.
    wait_until "round $i: $master's fence finished" 40 eval '(( $(fenced_count "$master") > fenced ))'
    pg_rebuild_standby "$master" "$other"
    t_pg="$(now)"
    runs="$(check_runs "$master")"
    wait_until "round $i: $master's vipd is BACKUP with a passing check" 30 ready_backup "$master" "${runs:-0}" "$t_pg"
    t_sync="$(now)"
    wait_until "round $i: 5 rows committed with $master as the synchronous standby" 30 \
        eval '(( $(writes_ok "$t_sync") >= 5 ))'
    t_end="$(now)"

    t_vip="$(vip_event_first "$other" add "$VIP4" "$t_cut")"
    [[ -n "$t_vip" ]] || fail "round $i: $other's address event for $VIP4" "one after the cut" "none"
    read -r max overlap none <<<"$(vip_events_summary "$VIP4" "$t_cut")"
    polled="$(monitor_max_holders "$t_cut")"
    prim="$(primaries_max_between "$t_cut" "$t_end")"
    R_LEADER+=("${leader:-?}") R_MASTER+=("$master") R_OTHER+=("$other") R_CUT+=("$t_cut") R_PHASE+=("$phase_ms")
    R_VIP+=("$(ms_between "$t_cut" "$t_vip")") R_NONE+=("$none") R_OVERLAP+=("$overlap")
    R_WRITEGAP+=("$(writes_gap_between "$t_cut" "$t_end")") R_PRIM+=("$prim")
    R_ROUND+=("$(ms_between "$t_start" "$t_end")")
    log "round $i: etcd leader ${leader:-unknown} before the cut; phase ${phase_ms} ms; $VIP4 on $other ${R_VIP[-1]} ms after the cut; ${none} ms with no holder, ${overlap} ms with two (ip monitor); polled holders at most $polled; primaries able to acknowledge at most $prim; longest write gap ${R_WRITEGAP[-1]} ms"
    single_since "$t_cut" "round $i"
done

writer_stop
primaries_watch_stop
monitor_stop
vip_events_stop
stop_captures

# The wire: "<epoch> <node> <source MAC>" for every frame claiming the VIP,
# both ports merged in time order.
WIRE="$VT_TMP/wire.txt"
for node in n1 n2; do
    tcpdump -r "$VT_TMP/wire-$node.pcap" -tt -n -e 2>/dev/null | awk -v n="$node" '{ print $1, n, $2 }'
done | sort -n -k1,1 >"$WIRE"
for node in n1 n2; do
    mac="$(node_mac "$node")"
    stray="$(awk -v n="$node" -v m="$mac" '$2 == n && $3 != m' "$WIRE" | wc -l)"
    assert_eq "frames claiming $VIP4 sent by $node from a MAC not its own" 0 "$stray"
done
check "the captures saw frames claiming $VIP4" test -s "$WIRE"
# wire_round FROM UNTIL OLD NEW: in [FROM, UNTIL), "GAP_MS OVERLAP_MS
# LATE_FRAMES OLD_FRAMES": from OLD's last frame before NEW's first to NEW's
# first; the time from NEW's first to OLD's last frame after it (0 when
# none), how many of OLD's frames came after NEW's first, and how many OLD
# sent since FROM (the cut) at all.
wire_round() {
    awk -v f="$1" -v u="$2" -v old="$3" -v new="$4" '
        $1 >= u { exit }
        $1 < f { if ($2 == old) last_old = $1; next }
        $2 == new && !first_new { first_new = $1 }
        $2 == old { n_old++; if (first_new) { late++; late_last = $1 } else last_old = $1 }
        END {
            if (!first_new) { print "none 0 0 " n_old + 0; exit }
            gap = last_old ? (first_new - last_old) * 1000 : -1
            ov = late ? (late_last - first_new) * 1000 : 0
            printf "%.1f %.1f %d %d\n", gap, ov, late + 0, n_old + 0
        }' "$WIRE"
}
before_first="$(awk -v u="${R_CUT[0]}" '$1 < u && $2 == "n2"' "$WIRE" | wc -l)"
assert_eq "frames claiming $VIP4 from n2 before the first cut (n1 the master)" 0 "$before_first"

WORST_VIP=0 WORST_NONE=0 WORST_OVERLAP=0 WORST_WIRE_GAP=0 WORST_WIRE_OVERLAP=0 WORST_WRITE_GAP=0 WORST_PRIM=0
worst_of() { printf -v "$1" '%s' "$(awk -v a="${!1}" -v b="$2" 'BEGIN { print (b + 0 > a + 0) ? b : a }')"; }
declare -a TABLE=()
TABLE+=("$(printf '%-5s %-7s %6s %9s %14s %11s %12s %13s %12s %13s %10s %9s' round cut etcd_l phase_ms vip_on_other_ms no_holder_ms wire_gap_ms write_gap_ms overlap_ms wire_overlap primaries round_s)")
wire_bad=""
for ((i = 0; i < ROUNDS; i++)); do
    until_t="${R_CUT[i + 1]:-9999999999}"
    read -r wgap wov late n_old <<<"$(wire_round "${R_CUT[i]}" "$until_t" "${R_MASTER[i]}" "${R_OTHER[i]}")"
    [[ "$wgap" != none ]] || fail "round $((i + 1)): a frame claiming $VIP4 from ${R_OTHER[i]} on the wire" "at least one" "none"
    ((late == 0)) || wire_bad+="round $((i + 1)): ${R_MASTER[i]} sent $late frame(s) claiming $VIP4 up to ${wov} ms after ${R_OTHER[i]}'s first; "
    TABLE+=("$(printf '%-5s %-7s %6s %9s %14s %11s %12s %13s %12s %13s %10s %9s' $((i + 1)) "${R_MASTER[i]}->${R_OTHER[i]}" "${R_LEADER[i]}" "${R_PHASE[i]}" \
        "${R_VIP[i]}" "${R_NONE[i]}" "$wgap" "${R_WRITEGAP[i]}" "${R_OVERLAP[i]}" "$wov" "${R_PRIM[i]}" \
        "$(awk -v m="${R_ROUND[i]}" 'BEGIN { printf "%.1f", m / 1000 }')")")
    log "round $((i + 1)) on the wire: ${R_MASTER[i]} sent $n_old frame(s) claiming $VIP4 after the cut, the last ${wgap} ms before ${R_OTHER[i]}'s first; $late after it"
    worst_of WORST_VIP "${R_VIP[i]}"
    worst_of WORST_NONE "${R_NONE[i]}"
    worst_of WORST_OVERLAP "${R_OVERLAP[i]}"
    worst_of WORST_WIRE_GAP "$wgap"
    worst_of WORST_WIRE_OVERLAP "$wov"
    worst_of WORST_WRITE_GAP "${R_WRITEGAP[i]}"
    worst_of WORST_PRIM "${R_PRIM[i]}"
done

step "per-round table (PHASE_SEED=$PHASE_SEED; times in ms from the cut unless named; lease ttl ${LEASE_TTL_S}s, renewal every ${RENEW_MS} ms)"
log "columns: cut = old master -> new; etcd_l = etcd's leader before the cut; phase_ms = from the master's last lease renewal (its VIP's lifetime refreshed, ip monitor) to the cut; vip_on_other_ms = to the VIP added on the other node (ip monitor); no_holder_ms = time with no holder (ip monitor); wire_gap_ms = from the old master's last frame claiming the VIP to the new one's first (port captures); write_gap_ms = longest time between two acknowledged client writes; overlap_ms = time with two holders (ip monitor); wire_overlap = from the new master's first frame to the old one's last after it (ms); primaries = most PostgreSQL primaries able to acknowledge at once; round_s = the round's duration, rebuild included"
for line in "${TABLE[@]}"; do log "TABLE $line"; done
log "MEASURED over $ROUNDS random-phase partitions with PostgreSQL writes (PHASE_SEED=$PHASE_SEED): worst time from the cut to $VIP4 on the other node ${WORST_VIP} ms; worst time with no holder ${WORST_NONE} ms (ip monitor), ${WORST_WIRE_GAP} ms on the wire; worst client write gap ${WORST_WRITE_GAP} ms; worst overlap ${WORST_OVERLAP} ms (ip monitor), ${WORST_WIRE_OVERLAP} ms (wire); addresses polled $(monitor_stats | awk '{ printf "%d times (at most %s ms apart)", $1, $2 }'): at most $(monitor_max_holders) holder(s); PostgreSQL polled $(primaries_stats | awk '{ printf "%d times (at most %s ms apart)", $1, $2 }'): at most ${WORST_PRIM} primary able to acknowledge; $(writes_ok 0) rows acknowledged, $(writes_fail 0) attempts failed"

[[ -z "$wire_bad" ]] || fail "frames claiming $VIP4 from two nodes in overlapping time" "none" "$wire_bad"
ok "on the wire, each round's old master fell silent for $VIP4 before the new one spoke"
read -r max overlap none <<<"$(vip_events_summary "$VIP4")"
assert_eq "most simultaneous holders of $VIP4 over the run (ip monitor)" 1 "$max"
assert_eq "most simultaneous holders of $VIP4 over the run (addresses polled)" 1 "$(monitor_max_holders)"
assert_eq "most simultaneous primaries able to acknowledge a commit over the run" 1 "$(awk '{ n = ($2 == "-") ? 0 : NF - 1; if (n > m) m = n } END { print m + 0 }' "$PRIMARIES")"
final="$(vip_holders)"
[[ "$final" == n1 || "$final" == n2 ]] || fail "one master at the end" "n1 or n2" "${final:-none}"
check "$final's PostgreSQL is the primary" pg_is_primary "$final"
verify_no_lost_writes "$final"
