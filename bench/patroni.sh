#!/usr/bin/env bash
# bench/patroni.sh: one Patroni benchmark scenario for one VIP agent, in its
# own network namespaces (netns-tests/lib.sh's topology): etcd 3.4 with one
# member on each of n1, n2 and n3 (n3 is the witness: no database), a
# Patroni 3.0 pair with PostgreSQL 15 on n1 and n2, the agent on n1 and n2,
# and a client. Run by bench/run, as root.
#
#   patroni.sh SCENARIO KIND REPS OUT
#       SCENARIO: switchover (patronictl switchover to the replica)
#               | kill (the leader node dies: its bridge port blackholed, then
#                 SIGKILL to its Patroni, PostgreSQL, etcd member and agent,
#                 then its link down; rebuilt afterwards from a fresh clone)
#               | pgstop (pg_ctl stop -m fast on the leader; Patroni runs on)
#               | quorum (the etcd members on n1 and n2 stopped: no quorum;
#                 started again once the leader's Patroni has demoted)
#       KIND: vipd (follow_patroni, Patroni on etcd's v3 keyspace, `etcd3:`)
#           | vip-manager (Debian's 1.0.2, default 1000 ms interval, which
#             reads only the v2 keyspace: Patroni on `etcd:`)
#
# OUT receives what bench/report.py reads: capture.pcap (the bridge: ARP and
# the ICMP echo replies from the VIP, nanosecond timestamps), events.txt
# (what we did, when), watch.log (the leader key as an etcd watch from the
# client saw it: "<epoch s> <member or ->"), vip-events.log (`ip monitor` on
# the nodes: "<epoch s> NODE add|del ADDR"), writes.log (the client's
# INSERTs through the VIP, one per connection: "N START END ok|fail"),
# samples.log (bench/pgsampler.py,
# every 10 ms: PostgreSQL's role on each node) and meta.json.
# Nothing here is a timing threshold: it waits (bounded) for facts and
# records when things happened.
set -euo pipefail

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../netns-tests/lib.sh
source "$BENCH_DIR/../netns-tests/lib.sh"
# shellcheck source=../netns-tests/patroni.sh
source "$BENCH_DIR/../netns-tests/patroni.sh"
# shellcheck source=../netns-tests/vip-manager.sh
source "$BENCH_DIR/../netns-tests/vip-manager.sh"
VT_QUIET=1
[[ "${BENCH_VERBOSE:-0}" != 1 ]] || VT_QUIET=0

PY=/usr/bin/python3
SCOPE=pg
KIND=""
OUT=""
WATCH_N=0
WATCH=""
SAMPLER_PID=""
PROBER_PID=""

EVENTS=""
# event NAME [KEY=VALUE ...]: one line of the record: the time now and facts.
event() {
    local name="$1"
    shift
    EVENTS+="$(now) $name $*"$'\n'
}

# --------------------------------------------------------------------------
# The agent on a node, either kind
# --------------------------------------------------------------------------

agent_start() {
    local node="$1"
    case "$KIND" in
        vipd)
            cat >"$VT_TMP/$node/vipd.toml" <<EOF
# written by bench/patroni.sh for node $node
[global]
node_name = "$node"
control_socket = "$VT_TMP/$node/vipd.sock"

[etcd]
endpoints = $(etcd_endpoints_toml)

[instances.pg]
interface = "eth0"
virtual_ips = ["$VIP4_CIDR"]
follow_patroni = { leader_key = "$(patroni_leader_key)", member = "$node", rest_url = "http://$(ip4_of "$node"):8008" }
EOF
            start_vipd "$node"
            ;;
        vip-manager) vip_manager_start "$node" "$VIP4_CIDR" "$SCOPE" ;;
    esac
}

# agent_kill NODE: SIGKILL to NODE's agent (a crash: the VIP stays behind).
agent_kill() {
    local node="$1" pid
    case "$KIND" in
        vipd) pid="${VIPD_PID[$node]:-}"; VIPD_PID[$node]="" ;;
        vip-manager) pid="${VIPM_PID[$node]:-}"; VIPM_PID[$node]="" ;;
    esac
    [[ -n "$pid" ]] || return 0
    { kill -KILL "$pid" && wait "$pid"; } 2>/dev/null || true
}

# --------------------------------------------------------------------------
# Observation
# --------------------------------------------------------------------------

# watch_start: a new watch of the leader key from the client, through the
# witness's member (v2 or v3, the keyspace the agent reads). etcd ends a v3
# watch when its member loses the quorum: a new one is started after.
watch_start() {
    WATCH_N=$((WATCH_N + 1))
    WATCH="leader-$WATCH_N"
    etcd_watch_start "$WATCH" "$(patroni_leader_key)" "$([[ "$PAT_DCS" == etcd ]] && echo v2 || echo v3)" n3 client
    wait_until "the client's watch is attached to n3's member" 10 watch_attached
}
watch_attached() { [[ -n "$(nsx client ss -Htn state established dst "$(ip4_of n3)":2379)" ]]; }

sampler_start() {
    : >"$VT_TMP/samples.log"
    "$PY" "$BENCH_DIR/pgsampler.py" "$VT_TMP/samples.log" \
        "n1:$(pg_sock n1)" "n2:$(pg_sock n2)" </dev/null >"$VT_TMP/sampler.err" 2>&1 &
    SAMPLER_PID=$!
    record_pid "$SAMPLER_PID"
    wait_until "the sampler samples" 10 test -s "$VT_TMP/samples.log"
}

prober_start() {
    ip netns exec "$(ns client)" "$PY" "$BENCH_DIR/prober.py" "$VIP4" 0.005 >"$VT_TMP/prober.out" 2>&1 &
    PROBER_PID=$!
    record_pid "$PROBER_PID"
}

# client_reaches_primary: through the VIP, a PostgreSQL out of recovery.
client_reaches_primary() {
    [[ "$(nsx client env PGCONNECT_TIMEOUT=2 "$PG_BINDIR/psql" -X -A -t -h "$VIP4" -U postgres -d postgres \
        -c 'select pg_is_in_recovery()' 2>/dev/null)" == f ]]
}

# vip_on_primary NODE: NODE alone holds the VIP, its PostgreSQL takes
# writes, and the client reaches it through the VIP.
vip_on_primary() { only_holder "$1" && pg_writable "$1" && client_reaches_primary; }

other_of() { if [[ "$1" == n1 ]]; then echo n2; else echo n1; fi; }

key_names() { [[ -n "$(etcd_watch_first "$WATCH" "$1" "$2")" ]]; }

# settle: one writable leader holding the VIP alone, taking the client's
# commits, the other node a streaming replica: the state every repetition
# starts from. Sets LEADER.
settle() {
    local leader t0
    t0="$(now)"
    wait_until "a Patroni leader" 60 patroni_has_leader
    leader="$PAT_LEADER"
    wait_until "$leader alone holds $VIP4 and takes writes through it" 30 vip_on_primary "$leader"
    # the client's writer commits again (its attempt in flight may have to
    # time out first): the next event must not fall into this one's outage
    wait_until "the client commits through $VIP4 again" 30 eval "(( \$(writes_ok $t0) >= 1 ))"
    rejoin_as_replica "$(other_of "$leader")"
    LEADER="$leader"
}

# rejoin_as_replica NODE: NODE streams from the leader. Patroni 3.0.2 now
# and then stays "demoting" for good after a switchover (netns case 63 saw
# it once in ten runs): its Patroni is then restarted on a fresh clone.
rejoin_as_replica() {
    local node="$1" leader
    leader="$(patroni_leader)" || fail "rejoin_as_replica $node: etcd does not answer"
    if poll_until 40 0.2 eval "patroni_streams $leader $node && pg_is_replica $node && patroni_is_replica $node"; then
        pat_note_postmaster "$node"
        return 0
    fi
    event note "what=patroni-restarted-fresh node=$node"
    patroni_kill "$node"
    patroni_start "$node" fresh
    patroni_wait_streaming "$node" 60
}

# --------------------------------------------------------------------------
# The events
# --------------------------------------------------------------------------

do_switchover() {
    local from="$1" to="$2" t0
    t0="$(now)"
    event act "rep=$rep from=$from to=$to"
    patroni_switchover "$from" "$to"
    wait_until "the leader key names $to" 20 key_names "$to" "$t0"
    wait_until "$to alone holds $VIP4 and takes writes through it" 20 vip_on_primary "$to"
    event moved "rep=$rep"
}

do_kill() {
    local node="$1" to="$2" t0
    t0="$(now)"
    event act "rep=$rep from=$node to=$to"
    port_block "$node"
    patroni_kill_quiet "$node" || fail "Patroni or PostgreSQL on $node survived SIGKILL"
    agent_kill "$node"
    { etcd_stop "$node" KILL; } 2>/dev/null
    link_down "$node"
    event cut "rep=$rep node=$node"
    wait_until "the leader key names $to (after Patroni's ttl)" 40 key_names "$to" "$t0"
    wait_until "$to alone holds $VIP4 and takes writes through it" 20 vip_on_primary "$to"
    event moved "rep=$rep"
    # the node comes back as after a reboot: no VIP, a fresh clone
    ip -n "$(ns "$node")" addr del "$VIP4_CIDR" dev eth0 2>/dev/null || true
    link_up "$node"
    port_unblock "$node"
    etcd_start "$node"
    wait_until "etcd member $node is healthy again" 30 etcd_member_healthy "$node"
    patroni_start "$node" fresh
    agent_start "$node"
}

do_pgstop() {
    local node="$1" t0
    t0="$(now)"
    event act "rep=$rep from=$node"
    patroni_stop_pg "$node"
    # Patroni either starts it again and keeps the lock, or the replica
    # takes over: either way one writable leader with the VIP at the end.
    wait_until "a Patroni leader again" 60 patroni_has_leader
    wait_until "$PAT_LEADER alone holds $VIP4 and takes writes through it" 30 vip_on_primary "$PAT_LEADER"
    event moved "rep=$rep to=$PAT_LEADER"
}

QUORUM_HOLD="${BENCH_QUORUM_HOLD:-8}"
do_quorum() {
    local node="$1"
    event act "rep=$rep from=$node"
    etcd_stop n1
    etcd_stop n2
    event cut "rep=$rep"
    # Patroni (failsafe_mode off) demotes the primary: stopped, then read-only
    wait_until "$node's Patroni demotes (DCS not accessible)" 40 grep -q "DCS is not accessible" "$(pat_log "$node")"
    wait_until "$node's PostgreSQL runs again, read-only" 40 pg_is_replica "$node"
    event demoted "rep=$rep"
    # the window without quorum after the demotion: what each agent does
    # with the VIP while nothing can be decided
    sleep "$QUORUM_HOLD"
    event restore "rep=$rep"
    etcd_start n1
    etcd_start n2
    wait_until "etcd has quorum again" 30 etcd_has_quorum
    event quorum "rep=$rep"
    etcd_watch_stop "$WATCH"
    watch_start
    wait_until "a Patroni leader again" 60 patroni_has_leader
    wait_until "$PAT_LEADER alone holds $VIP4 and takes writes through it" 30 vip_on_primary "$PAT_LEADER"
    event moved "rep=$rep to=$PAT_LEADER"
}

# --------------------------------------------------------------------------

save_results() {
    [[ -n "$OUT" && -d "$OUT" ]] || return 0
    local node f
    printf '%s' "$EVENTS" >"$OUT/events.txt"
    : >"$OUT/watch.log"
    for f in "$VT_TMP"/etcd-watch-*.log; do [[ -f "$f" ]] && cat "$f" >>"$OUT/watch.log"; done
    sort -n -o "$OUT/watch.log" "$OUT/watch.log"
    [[ -f "$VIP_EVENTS" ]] && cp "$VIP_EVENTS" "$OUT/vip-events.log"
    [[ -f "$VT_TMP/samples.log" ]] && cp "$VT_TMP/samples.log" "$OUT/samples.log"
    [[ -f "$WRITES" ]] && cp "$WRITES" "$OUT/writes.log"
    [[ -f "$VT_TMP/cap.pcap" ]] && cp "$VT_TMP/cap.pcap" "$OUT/capture.pcap"
    [[ -f "$VT_TMP/patronictl.log" ]] && cp "$VT_TMP/patronictl.log" "$OUT/patronictl.log"
    for node in n1 n2; do
        for f in vipd.log vip-manager.log patroni.log; do
            [[ -f "$VT_TMP/$node/$f" ]] && tail -n 300 "$VT_TMP/$node/$f" >"$OUT/$node-$f"
        done
    done
    return 0
}

main() {
    local scenario="$1" from to
    KIND="$2"
    local reps="$3"
    OUT="$4"
    mkdir -p "$OUT"
    case "$KIND" in
        vipd) [[ -x "$VIPD_BIN" ]] || fail "no vipd binary at $VIPD_BIN"; PAT_DCS=etcd3 ;;
        vip-manager) PAT_DCS=etcd ;;
        *) fail "unknown agent $KIND (vipd or vip-manager)" ;;
    esac
    case "$scenario" in switchover | kill | pgstop | quorum) ;; *) fail "unknown scenario $scenario" ;; esac
    command -v tcpdump >/dev/null || fail "tcpdump is not installed"
    topo_up n1 n2 n3 client
    etcd_up n1 n2 n3
    patroni_up "$SCOPE" "$PAT_DCS" n1 n2
    watch_start
    vip_events_start n1 n2
    capture_start cap --time-stamp-precision=nano "arp or (icmp and src host $VIP4)"
    sampler_start
    agent_start n1
    agent_start n2
    wait_until "n1 (the leader) holds $VIP4" 20 only_holder n1
    wait_until "the client reaches the primary through $VIP4" 20 client_reaches_primary
    prober_start
    # replies before the first event: the outage is measured from the last one
    wait_until "the client's probes are answered through $VIP4" 10 cap_at_least cap 20 icmp
    # and a client that commits one row per connection through the VIP
    writes_table n1
    writer_start
    wait_until "the client commits through $VIP4" 20 eval '(( $(writes_ok 0) >= 10 ))'
    LEADER=n1
    for ((rep = 1; rep <= reps; rep++)); do
        from="$LEADER"
        to="$(other_of "$from")"
        event ready "rep=$rep leader=$from"
        case "$scenario" in
            switchover) do_switchover "$from" "$to" ;;
            kill) do_kill "$from" "$to" ;;
            pgstop) do_pgstop "$from" ;;
            quorum) do_quorum "$from" ;;
        esac
        settle
        event done "rep=$rep leader=$LEADER"
    done
    writer_stop
    stop_pid "$PROBER_PID" TERM 2
    stop_pid "$SAMPLER_PID" TERM 2
    capture_stop cap
    vip_events_stop
    etcd_watch_stop "$WATCH"
    {
        echo "{"
        echo "  \"scenario\": \"patroni\", \"event\": \"$scenario\", \"kind\": \"$KIND\", \"reps\": \"$reps\","
        echo "  \"dcs\": \"$PAT_DCS\", \"vip\": \"$VIP4\", \"quorum_hold_s\": \"$QUORUM_HOLD\","
        echo "  \"ttl\": \"$PAT_TTL\", \"loop_wait\": \"$PAT_LOOP_WAIT\", \"retry_timeout\": \"$PAT_RETRY_TIMEOUT\","
        echo "  \"n1_mac\": \"$(node_mac n1)\", \"n2_mac\": \"$(node_mac n2)\""
        echo "}"
    } >"$OUT/meta.json"
    save_results
}

# Keep what the report needs on every exit path, failures too.
bench_patroni_save() { save_results; }
vt_chain_cleanup bench_patroni_save

main "$@"
