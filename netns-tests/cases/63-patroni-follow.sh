#!/usr/bin/env bash
# Issue 11, vipd following Patroni (no VRRP): real etcd 3.4 (one member on
# each of n1 n2 n3), a Patroni 3.0 pair with PostgreSQL 15 on n1 and n2 on
# etcd's v3 keyspace (Patroni's etcd3: section) in synchronous mode, and vipd
# on n1 and n2 with a follow_patroni instance: the VIP is held while the
# leader key names this member and the local Patroni answers /primary.
# A client writes through the VIP without pause.
#   1. start: the VIP is on the leader only; the client reaches the primary;
#   2. patronictl switchover n1 -> n2 and back: the VIP follows (measured:
#      leader key change -> first gratuitous ARP from the new leader's MAC,
#      and -> the address event);
#   3. PostgreSQL stopped under the leader's Patroni;
#   4. etcd's quorum lost: Patroni (no failsafe) demotes the primary and the
#      VIP leaves with it; quorum back: one holder again;
#   5. the leader node killed (Patroni, PostgreSQL, etcd and vipd SIGKILLed,
#      link down): the other node takes over.
# (4 runs before 5 so that no node has to be rebuilt.)
# Invariants over the whole case, read from outside: a poller per database
# node samples its eth0 and its PostgreSQL (through its socket) every ~20 ms;
# a sample in which the node holds the VIP and its PostgreSQL answers as a
# replica or read-only is a violation, even if the two facts were read a few
# ms apart. `ip monitor` and lib.sh's holder monitor: never two holders.
# Every commit the client saw acknowledged is on the last primary.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/../patroni.sh"
source "$(dirname "$0")/../vip-manager.sh"

SCOPE=pg
PAT_SYNC=true
topo_up n1 n2 n3 client
etcd_up n1 n2 n3
patroni_up "$SCOPE" etcd3 n1 n2
check "n1's PostgreSQL takes writes" pg_writable n1
check "n2 is n1's synchronous standby" patroni_is_sync n2
assert_eq "the leader key in etcd's v3 keyspace" n1 "$(patroni_leader)"

# --------------------------------------------------------------------------
# vipd with the follow_patroni contract
# --------------------------------------------------------------------------

# pf_start_vipd NODE: vipd on NODE following Patroni member NODE, confirmed
# by NODE's own REST API.
pf_start_vipd() {
    local node="$1"
    cat >"$VT_TMP/$node/vipd.toml" <<EOF
# written by netns-tests/cases/63-patroni-follow.sh for node $node
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
}

# pf_status NODE EXPR: EXPR evaluated on the pg instance of NODE's
# `vipd status --json` (bound to i).
pf_status() {
    status_json "$1" | python3 -c '
import json, sys
d = json.load(sys.stdin)
i = next(x for x in d["instances"] if x.get("name") == "pg" or "follow_patroni" in x)
print(eval(sys.argv[1], {}, {"i": i}))' "$2" 2>/dev/null
}
pf_state_is() { [[ "$(pf_status "$1" 'i["state"]')" == "$2" ]]; }
pf_etcd_unreachable() { [[ "$(pf_status "$1" 'i["follow_patroni"]["etcd_reachable"]')" == False ]]; }

# --------------------------------------------------------------------------
# Observations from outside
# --------------------------------------------------------------------------

# The per-node poller: a small Python program run inside the node's
# namespace (Debian's python3, which has psycopg2 for Patroni). Each sample
# reads eth0's addresses (`ip`, only when the link is up), then the
# PostgreSQL server's role through its socket (one connection, made again
# when it breaks), then Patroni's GET /primary, then eth0 again, and appends
# "START END HELD ROLE REST_CODE REST_ROLE REST_STATE ENDS" to pf-NODE.log:
#   HELD   1 when the VIP was on eth0 at the start or at the end of the
#          sample: a sample that saw the VIP and a replica counts, even if
#          the two were read a few ms apart;
#   ENDS   the VIP at the start and at the end (11: held throughout, so a
#          replica seen in between certainly had it; 10 or 01: it moved
#          during the sample);
#   ROLE   w a primary that can acknowledge a commit now; s a primary whose
#          commits wait for a synchronous standby it does not have; r in
#          recovery or read-only; d it does not answer;
#   REST_* /primary's status code (what follow_patroni goes by) and the
#          role and state in its body; 000 - - when it does not answer.
PF_POLLER="$VT_TMP/pf-poller.py"
cat >"$PF_POLLER" <<'PY'
import json, subprocess, sys, time, http.client
import psycopg2

rest_host, sock, vip, out = sys.argv[1:5]
ROLE_SQL = """select case
    when pg_is_in_recovery() then 'r'
    when current_setting('default_transaction_read_only') = 'on' then 'r'
    when current_setting('synchronous_standby_names') <> ''
         and not exists (select 1 from pg_stat_replication where sync_state in ('sync', 'quorum')) then 's'
    else 'w' end"""
conn = None

def held():
    r = subprocess.run(["ip", "-o", "addr", "show", "dev", "eth0", "up"], capture_output=True, text=True)
    return (" %s/" % vip) in r.stdout

def pg_role():
    global conn
    try:
        if conn is None:
            conn = psycopg2.connect(host=sock, user="postgres", dbname="postgres",
                                    connect_timeout=1, options="-c statement_timeout=500")
            conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(ROLE_SQL)
            return cur.fetchone()[0]
    except Exception:
        if conn is not None:
            try:
                conn.close()
            except Exception:
                pass
        conn = None
        return "d"

def rest():
    try:
        c = http.client.HTTPConnection(rest_host, 8008, timeout=0.5)
        c.request("GET", "/primary")
        resp = c.getresponse()
        body = resp.read()
        c.close()
        try:
            d = json.loads(body)
        except ValueError:
            d = {}
        return "%d %s %s" % (resp.status, d.get("role", "-"), str(d.get("state", "-")).replace(" ", "_"))
    except Exception:
        return "000 - -"

with open(out, "a") as f:
    while True:
        a = time.time()
        h1 = held()
        role = pg_role()
        r = rest()
        h2 = held()
        f.write("%.6f %.6f %d %s %s %d%d\n" % (a, time.time(), h1 or h2, role, r, h1, h2))
        f.flush()
        time.sleep(0.01)
PY

# pf_poller_start NODE: NODE's poller, into pf-NODE.log.
declare -a PF_POLLERS=()
pf_poller_start() {
    local node="$1" out="$VT_TMP/pf-$1.log" pid
    : >"$out"
    # ip netns exec execs: $! is the poller itself.
    ip netns exec "$(ns "$node")" /usr/bin/python3 "$PF_POLLER" "$(ip4_of "$node")" "$(pg_sock "$node")" "$VIP4" "$out" \
        </dev/null >>"$VT_TMP/pf-$node.err" 2>&1 &
    pid=$!
    PF_POLLERS+=("$pid")
    record_pid "$pid"
    wait_until "the poller of $node samples" 10 test -s "$out"
}
pf_pollers_stop() {
    local pid
    for pid in "${PF_POLLERS[@]}"; do stop_pid "$pid" TERM 3; done
    PF_POLLERS=()
}

# pf_violations NODE [SINCE]: samples at or after SINCE in which NODE held
# the VIP while its PostgreSQL answered as a replica or read-only.
pf_violations() { awk -v s="${2:-0}" '$1 >= s && $3 == 1 && $4 == "r"' "$VT_TMP/pf-$1.log"; }
# pf_held_as NODE ROLE [SINCE]: "SAMPLES MS": the samples in which NODE held
# the VIP with its PostgreSQL in ROLE, and the time they span (each run of
# such samples from its first start to its last end).
pf_held_as() {
    awk -v r="$2" -v s="${3:-0}" '$1 < s { next }
        $3 == 1 && $4 == r { n++; if (!in_run) { from = $1; in_run = 1 } to = $2; next }
        in_run { ms += (to - from) * 1000; in_run = 0 }
        END { if (in_run) ms += (to - from) * 1000; printf "%d %d\n", n, ms }' "$VT_TMP/pf-$1.log"
}
# pf_first NODE HELD ROLE SINCE: the start of NODE's first sample with HELD
# (0/1, or * for either) and ROLE at or after SINCE.
pf_first() {
    awk -v h="$2" -v r="$3" -v s="$4" '$1 >= s && (h == "*" || $3 == h) && $4 == r { print $1; exit }' "$VT_TMP/pf-$1.log"
}

# client_reaches_primary: through the VIP, a PostgreSQL out of recovery.
client_reaches_primary() {
    [[ "$(nsx client env PGCONNECT_TIMEOUT=2 "$PG_BINDIR/psql" -X -A -t -h "$VIP4" -U postgres -d postgres \
        -c 'select pg_is_in_recovery()' 2>/dev/null)" == f ]]
}

# Gratuitous ARP for the VIP: broadcast, ARP sender address = the VIP.
VIP4_HEX="$(printf '0x%02x%02x%02x%02x' ${VIP4//./ })"
# garp_first NODE SINCE: the time of the first gratuitous ARP for the VIP
# from NODE's MAC on the bridge at or after SINCE; nothing when none.
garp_first() {
    tcpdump -r "$VT_TMP/arp.pcap" -n -tt \
        "arp and ether src $(node_mac "$1") and ether dst ff:ff:ff:ff:ff:ff and arp[14:4] = $VIP4_HEX" 2>/dev/null |
        awk -v s="$2" '$1 >= s { print $1; exit }'
}
# longest_write_gap SINCE: the longest time between the ends of two
# successful writes, counting from the last one before SINCE, in ms.
longest_write_gap() {
    awk -v s="$1" '$4 != "ok" { next }
        $3 < s { last = $3; next }
        { if (last) { g = $3 - last; if (g > m) m = g } last = $3 }
        END { printf "%d", m * 1000 }' "$WRITES"
}
ms_between() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%d", (b - a) * 1000 }'; }
other_of() { if [[ "$1" == n1 ]]; then echo n2; else echo n1; fi; }
# The client's watch of the leader key. etcd cancels a watch when its
# member loses the quorum ("etcdserver: no leader"): a new one (WATCH) is
# started once the quorum is back.
WATCH=leader
# watch_attached: the client's etcdctl has its connection to n3's member.
watch_attached() { [[ -n "$(nsx client ss -Htn state established dst "$(ip4_of n3)":2379)" ]]; }

# vip_on_primary NODE: NODE alone holds the VIP, its PostgreSQL takes
# writes, and the client reaches it through the VIP.
vip_on_primary() { only_holder "$1" && pg_writable "$1" && client_reaches_primary; }

declare -a FOLLOW_GARP_MS=() FOLLOW_ADDR_MS=() RELEASE_MS=()
# follow_figures WHAT FROM TO SINCE: the latencies from the key naming TO
# (the client's watch) to TO's first gratuitous ARP and its address event,
# and from the key leaving FROM to FROM's VIP deleted (when FROM still has
# a link).
follow_figures() {
    local what="$1" from="$2" to="$3" t0="$4" t_key t_garp t_add t_left t_del g a rel="n/a"
    t_key="$(etcd_watch_first "$WATCH" "$to" "$t0")"
    [[ -n "$t_key" ]] || fail "$what: the client's watch saw the key name $to" "a change" "$(etcd_watch_log "$WATCH")"
    wait_until "$what: a gratuitous ARP for $VIP4 from $to on the bridge" 5 eval "[[ -n \"\$(garp_first $to $t0)\" ]]"
    t_garp="$(garp_first "$to" "$t0")"
    t_add="$(vip_event_first "$to" add "$VIP4" "$t0")"
    [[ -n "$t_add" ]] || fail "$what: an address event for $VIP4 on $to" "one" "$(tail -n 10 "$VIP_EVENTS")"
    g="$(ms_between "$t_key" "$t_garp")"
    a="$(ms_between "$t_key" "$t_add")"
    FOLLOW_GARP_MS+=("$g")
    FOLLOW_ADDR_MS+=("$a")
    if ! has_link_down "$from"; then
        t_left="$(awk -v f="$from" -v s="$t0" '$1 >= s && $2 != f { print $1; exit }' "$VT_TMP/etcd-watch-$WATCH.log")"
        t_del="$(vip_event_first "$from" del "$VIP4" "$t0")"
        if [[ -n "$t_left" && -n "$t_del" ]]; then
            rel="$(ms_between "$t_left" "$t_del")"
            RELEASE_MS+=("$rel")
        fi
    fi
    log "MEASURED $what: key named $to at +$(ms_between "$t0" "$t_key") ms; first gratuitous ARP from $to ${g} ms and address event ${a} ms after that; VIP off $from ${rel} ms after the key left it (negative: before the client's watch saw it); $to held $VIP4 with its PostgreSQL still in recovery in $(pf_held_as "$to" r "$t0" | awk '{ print $1 " samples (" $2 " ms)" }')"
}

# --------------------------------------------------------------------------
# 1. start
# --------------------------------------------------------------------------
step "1. vipd on n1 and n2 follows the Patroni leader n1"
etcd_watch_start leader "$(patroni_leader_key)" v3 n3 client
wait_until "the client's watch is attached to n3's member" 10 watch_attached
vip_events_start n1 n2
capture_start arp arp
pf_poller_start n1
pf_poller_start n2
pf_start_vipd n1
pf_start_vipd n2
wait_until "n1 (the leader) holds $VIP4" 15 only_holder n1
wait_until "n1's vipd says MASTER" 10 pf_state_is n1 MASTER
wait_until "n2's vipd says BACKUP" 10 pf_state_is n2 BACKUP
assert_eq "n2's vipd sees the leader" n1 "$(pf_status n2 'i["follow_patroni"]["leader"]')"
check "n1's log says why it is MASTER" log_has n1 "instance pg: .*-> MASTER"
monitor_start
wait_until "the client reaches the primary through $VIP4" 10 client_reaches_primary
writes_table n1
writer_start
wait_until "the client committed 20 rows through $VIP4" 30 eval '(( $(writes_ok 0) >= 20 ))'
stays_true "$VIP4 on the leader n1 only" 1 only_holder n1

# --------------------------------------------------------------------------
# 2. switchovers
# --------------------------------------------------------------------------
# rejoin_as_replica NODE: the old leader streams from the new one. Patroni
# 3.0.2 now and then stays in "manual failover: demote in progress" for good
# (seen once in about ten runs); that is Patroni's matter, not vipd's, so the
# operator's remedy is applied: its Patroni restarts on a fresh clone.
rejoin_as_replica() {
    local node="$1" leader
    leader="$(patroni_leader)" || fail "rejoin_as_replica $node: etcd does not answer"
    if poll_until 30 0.2 eval "patroni_streams $leader $node && pg_is_replica $node && patroni_is_replica $node"; then
        pat_note_postmaster "$node"
        return 0
    fi
    log "Patroni on $node did not finish demoting within 30 s: restarting it on a fresh clone"
    patroni_kill "$node"
    patroni_start "$node" fresh
    patroni_wait_streaming "$node" 60
}

switchover() {
    local from="$1" to="$2" t0
    step "2. patronictl switchover $from -> $to"
    t0="$(now)"
    patroni_switchover "$from" "$to"
    wait_until "the leader key names $to (client's watch)" 15 eval "[[ -n \"\$(etcd_watch_first leader $to $t0)\" ]]"
    wait_until "$to alone holds $VIP4 and takes writes through it" 15 vip_on_primary "$to"
    follow_figures "switchover $from -> $to" "$from" "$to" "$t0"
    rejoin_as_replica "$from"
    patroni_wait_sync "$from" 30
    wait_until "5 rows committed through $VIP4 on $to" 20 eval "(( \$(writes_ok $t0) >= 5 ))"
    check "$VIP4 is still on $to only" only_holder "$to"
}
switchover n1 n2
switchover n2 n1

# --------------------------------------------------------------------------
# 3. PostgreSQL stopped under the leader's Patroni
# --------------------------------------------------------------------------
step "3. PostgreSQL stopped on the leader n1 (its Patroni keeps running)"
t0="$(now)"
patroni_stop_pg n1
# Whatever Patroni does (restart it read-only and promote it again, or let
# n2 take over), it ends with a writable leader holding the VIP alone.
wait_until "a Patroni leader again" 45 patroni_has_leader
L="$PAT_LEADER"
wait_until "$L alone holds $VIP4 and takes writes through it" 15 vip_on_primary "$L"
patroni_wait_streaming "$(other_of "$L")" 45
patroni_wait_sync "$(other_of "$L")" 30
wait_until "5 rows committed through $VIP4 since" 20 eval "(( \$(writes_ok $t0) >= 5 ))"
log "MEASURED PostgreSQL stopped on n1: leader afterwards $L (key changes seen: $(awk -v s="$t0" '$1 >= s { printf "%s ", $2 }' "$VT_TMP/etcd-watch-leader.log")); n1 held $VIP4 with its PostgreSQL not answering in $(pf_held_as n1 d "$t0" | awk '{ print $1 " samples (" $2 " ms)" }'), in recovery or read-only in $(pf_held_as n1 r "$t0" | awk '{ print $1 " samples (" $2 " ms)" }')"

# --------------------------------------------------------------------------
# 4. etcd quorum lost and back
# --------------------------------------------------------------------------
L="$(patroni_leader)"
R="$(other_of "$L")"
step "4. etcd loses its quorum (members on n1 and n2 stopped; n3's alone); leader $L"
t0="$(now)"
etcd_stop n1
etcd_stop n2
wait_until "$L's Patroni demotes (DCS not accessible)" 30 grep -q "DCS is not accessible" "$(pat_log "$L")"
wait_until "$L's VIP is gone" 30 eval '[[ -z "$(vip_holders)" ]]'
wait_until "$R's vipd status says etcd is unreachable" 15 pf_etcd_unreachable "$R"
t_gone="$(vip_event_first "$L" del "$VIP4" "$t0")"
wait_until "$L's PostgreSQL runs again, read-only" 30 pg_is_replica "$L"
t_ro="$(pf_first "$L" '*' r "$t0")"
t_down="$(pf_first "$L" '*' d "$t0")"
log "MEASURED quorum lost: $L's VIP deleted at +$(ms_between "$t0" "${t_gone:-$t0}") ms; its PostgreSQL first seen down at +$(ms_between "$t0" "${t_down:-$t0}") ms, read-only at +$(ms_between "$t0" "${t_ro:-$t0}") ms; $L held $VIP4 with its PostgreSQL not answering in $(pf_held_as "$L" d "$t0" | awk '{ print $1 " samples (" $2 " ms)" }'), in recovery in $(pf_held_as "$L" r "$t0" | awk '{ print $1 " samples (" $2 " ms)" }')"
stays_true "nobody holds $VIP4 without quorum" 2 eval '[[ -z "$(vip_holders)" ]]'
t1="$(now)"
etcd_start n1
etcd_start n2
wait_until "etcd has quorum again" 30 etcd_has_quorum
etcd_watch_stop leader
WATCH=leader-after-quorum
etcd_watch_start "$WATCH" "$(patroni_leader_key)" v3 n3 client
wait_until "the client's new watch is attached to n3's member" 10 watch_attached
wait_until "a Patroni leader again" 45 patroni_has_leader
L="$PAT_LEADER"
R="$(other_of "$L")"
wait_until "$L alone holds $VIP4 and takes writes through it" 15 vip_on_primary "$L"
log "MEASURED quorum back: $L leads and holds $VIP4 $(elapsed_ms "$t1") ms after the members were restarted"
patroni_wait_streaming "$R" 45
patroni_wait_sync "$R" 30
wait_until "5 rows committed through $VIP4 since" 20 eval "(( \$(writes_ok $t1) >= 5 ))"
# The events cannot follow a node whose link goes down (its kernel keeps the
# address on the downed eth0): the summary is taken before scenario 5.
read -r EV_MAX EV_OVERLAP EV_GAP <<<"$(vip_events_summary "$VIP4" "$(vip_event_first n1 add "$VIP4")")"

# --------------------------------------------------------------------------
# 5. the leader node killed
# --------------------------------------------------------------------------
step "5. the leader node $L killed (Patroni, PostgreSQL, vipd, etcd; link down)"
t0="$(now)"
patroni_kill "$L"
crash_node "$L"
{ etcd_stop "$L" KILL; } 2>/dev/null  # no "Killed" job report from bash
wait_until "the leader key names $R (after its ttl)" 30 eval "[[ -n \"\$(etcd_watch_first $WATCH $R $t0)\" ]]"
wait_until "$R alone holds $VIP4 and takes writes through it" 15 vip_on_primary "$R"
follow_figures "leader node $L killed" "$L" "$R" "$t0"
wait_until "5 rows committed through $VIP4 on $R" 20 eval "(( \$(writes_ok $t0) >= 5 ))"
log "MEASURED longest write gap since the leader node was killed: $(longest_write_gap "$t0") ms ($(writes_fail "$t0") attempts failed)"

# --------------------------------------------------------------------------
# Invariants over the whole case
# --------------------------------------------------------------------------
writer_stop
capture_stop arp
pf_pollers_stop
monitor_stop
vip_events_stop
etcd_watch_stop "$WATCH"
log "leader key changes seen by the client: $(awk '{ printf "%s%s", (NR > 1 ? " -> " : ""), $2 }' "$VT_TMP/etcd-watch-leader.log") (quorum lost and back) $(awk '{ printf "%s%s", (NR > 1 ? " -> " : ""), $2 }' "$VT_TMP/etcd-watch-$WATCH.log")"
log "VIP holders (monitor): $(monitor_changes)"
log "MEASURED follow latency, key -> first gratuitous ARP: ${FOLLOW_GARP_MS[*]} ms; key -> address event: ${FOLLOW_ADDR_MS[*]} ms; key left -> VIP deleted: ${RELEASE_MS[*]} ms"
log "MEASURED address events from the first VIP add to scenario 5: at most $EV_MAX holder(s), ${EV_OVERLAP} ms with two, ${EV_GAP} ms with none"
for node in n1 n2; do
    log "MEASURED $node: $(wc -l <"$VT_TMP/pf-$node.log") samples (mean $(awk '{ s += $2 - $1 } END { printf "%.1f", s / NR * 1000 }' "$VT_TMP/pf-$node.log") ms each); VIP held as a writable primary $(pf_held_as "$node" w | awk '{ print $1 }'), as a primary waiting for a sync standby $(pf_held_as "$node" s | awk '{ print $1 " (" $2 " ms)" }'), with PostgreSQL not answering $(pf_held_as "$node" d | awk '{ print $1 " (" $2 " ms)" }'), as a replica $(pf_held_as "$node" r | awk '{ print $1 " (" $2 " ms)" }')"
done
for node in n1 n2; do
    log "MEASURED $node: $(pf_violations "$node" | wc -l) samples with the VIP on a replica or read-only PostgreSQL ($(pf_violations "$node" | awk '$8 == 11' | wc -l) with the VIP there at both ends of the sample)"
done
assert_eq "most simultaneous holders of $VIP4 (address events, scenarios 1-4)" 1 "$EV_MAX"
assert_eq "most simultaneous holders of $VIP4 (holder monitor, whole case)" 1 "$(monitor_max_holders)"
verify_no_lost_writes "$R"
for node in n1 n2; do
    v="$(pf_violations "$node" | head -n 8)"
    [[ -z "$v" ]] || fail "$node held $VIP4 while its PostgreSQL was a replica or read-only" "no such sample" "(start end held role /primary-code rest-role rest-state held-at-start-and-end) $v"
done
ok "no sample with the VIP on a replica or read-only PostgreSQL"
