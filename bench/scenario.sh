#!/usr/bin/env bash
# bench/scenario.sh: one benchmark scenario for one daemon, in its own
# network namespaces (netns-tests/lib.sh's topology: a bridge, router
# namespaces n1 and n2, a client, and n3 for the flooder). Run by bench/run,
# as root; one process per scenario, so every scenario gets a fresh topology
# and lib.sh's cleanup (namespaces, processes we started) on every exit path.
#
#   scenario.sh failover KIND VERSION INTERVAL HOW REPS OUT
#       HOW: kill (SIGKILL + link down) | stop (SIGTERM) | check (failing check)
#            | checkfast (the same with vipd's opt-in fast takeover: the TOML
#              line in $BENCH_FAST_TAKEOVER is added to every vipd instance)
#   scenario.sh spacing KIND CONDITION SECONDS OUT
#       CONDITION: idle | cpu | checks | flood | reload
#   scenario.sh scale KIND INSTANCES INTERVAL WINDOW OUT
#   scenario.sh gate vipd GATE REPS OUT
#       the master killed (as in failover, VRRPv3 at 1 s) with an etcd
#       member on n1, n2 and n3; GATE: lock (the instance must hold a lease
#       lock in etcd to be master, `leadership = {key, ttl}`, issue 11) or
#       plain (the same instance and topology without it)
#
# KIND is vipd or keepalived; INTERVAL is in seconds (1, 0.1, 0.01). OUT is a
# directory that receives the capture (capture.pcap, bridge, nanosecond
# timestamps) and meta.json with the times of what we did; bench/report.py
# turns them into figures. VIPD_BIN names the vipd binary.
#
# Timing thresholds belong in the report, never here: this script only
# waits (bounded) for observable facts and records when things happened.
set -euo pipefail

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../netns-tests/peers.sh
source "$BENCH_DIR/../netns-tests/peers.sh"
# the gate's scenario runs an etcd cluster (sourced at the top level, so that
# its cleanup is chained before peers.sh's)
if [[ "${1:-}" == gate ]]; then
    # shellcheck source=../netns-tests/etcd.sh
    source "$BENCH_DIR/../netns-tests/etcd.sh"
fi
VT_QUIET=1
[[ "${BENCH_VERBOSE:-0}" != 1 ]] || VT_QUIET=0

PY=/usr/bin/python3
SCALE_VRID_BASE=1

# Copy what the report needs out of $VT_TMP before lib.sh removes it.
OUT=""
save_logs() {
    [[ -n "$OUT" && -d "$OUT" ]] || return 0
    local node
    for node in n1 n2; do
        [[ -f "$VT_TMP/$node/vipd.log" ]] && tail -n 200 "$VT_TMP/$node/vipd.log" >"$OUT/$node-vipd.log"
        [[ -f "$VT_TMP/$node/keepalived.log" ]] && tail -n 200 "$VT_TMP/$node/keepalived.log" >"$OUT/$node-keepalived.log"
    done
    return 0
}

# --------------------------------------------------------------------------
# Configuration writers (one daemon, N instances, optional checks)
# --------------------------------------------------------------------------

# ms_of SECONDS: "10ms" for 0.01.
ms_of() { awk -v s="$1" 'BEGIN { printf "%dms\n", s * 1000 + 0.5 }'; }

# scale_vip K: the VIP of instance K in the scale scenario.
scale_vip() {
    if (($1 <= 254)); then echo "198.51.100.$1"; else echo "203.0.113.$(($1 - 254))"; fi
}

# Set by the scenario before a daemon starts:
CONF_VERSION=3
CONF_INTERVAL=1
CONF_INSTANCES=1      # 1: the single instance "vip" (VRID 51, VIP 192.0.2.50/24)
CONF_CHECKS=0         # number of always-passing checks tracked by every instance
CONF_HEALTH=0         # 1: a check "health" (test -f NODE/healthy), weight -60
CONF_VIPD_EXTRA=""    # raw TOML lines for every vipd instance
CONF_VIPD_GLOBAL=""   # raw TOML lines after [global] (whole sections)

write_vipd_conf() {
    local node="$1" prio="$2" f="$VT_TMP/$1/vipd.toml" k track=()
    mkdir -p "$VT_TMP/$node"
    {
        echo "# written by bench/scenario.sh"
        echo "[global]"
        echo "node_name = \"$node\""
        echo "control_socket = \"$VT_TMP/$node/vipd.sock\""
        echo "script_user = \"root\""
        echo
        [[ -z "$CONF_VIPD_GLOBAL" ]] || printf '%s\n\n' "$CONF_VIPD_GLOBAL"
        for ((k = 1; k <= CONF_CHECKS; k++)); do
            echo "[checks.c$k]"
            echo "command = [\"/bin/true\"]"
            echo "interval = \"1s\""
            track+=("\"c$k\"")
        done
        if ((CONF_HEALTH)); then
            echo "[checks.health]"
            echo "command = [\"/usr/bin/test\", \"-f\", \"$VT_TMP/$node/healthy\"]"
            echo "interval = \"1s\""
            track+=("{ name = \"health\", weight = -60 }")
        fi
        local IFS=,
        if ((CONF_INSTANCES == 1)); then
            echo "[instances.vip]"
            echo "interface = \"eth0\""
            echo "vrid = 51"
            echo "priority = $prio"
            echo "version = $CONF_VERSION"
            echo "advert_interval = \"$(ms_of "$CONF_INTERVAL")\""
            echo "virtual_ips = [\"$VIP4_CIDR\"]"
            echo "track_checks = [${track[*]}]"
            [[ -z "$CONF_VIPD_EXTRA" ]] || echo "$CONF_VIPD_EXTRA"
        else
            for ((k = 0; k < CONF_INSTANCES; k++)); do
                echo "[instances.i$k]"
                echo "interface = \"eth0\""
                echo "vrid = $((SCALE_VRID_BASE + k))"
                echo "priority = $prio"
                echo "version = $CONF_VERSION"
                echo "advert_interval = \"$(ms_of "$CONF_INTERVAL")\""
                echo "virtual_ips = [\"$(scale_vip $((k + 1)))\"]"
                echo "track_checks = [${track[*]}]"
            done
        fi
    } >"$f"
}

# ka_conf NODE priority=P: replaces peers.sh's writer (start_keepalived calls
# it) with one for N instances and checks.
ka_conf() {
    local node="$1" prio=100 kv k f
    shift
    for kv in "$@"; do [[ "$kv" == priority=* ]] && prio="${kv#priority=}"; done
    f="$VT_TMP/$node/keepalived.conf"
    {
        echo "# written by bench/scenario.sh"
        echo "global_defs {"
        echo "    router_id ${VT_ID}-$node"
        echo "    script_user root"
        echo "    enable_script_security"
        echo "}"
        for ((k = 1; k <= CONF_CHECKS; k++)); do
            echo "vrrp_script c$k {"
            echo "    script \"/bin/true\""
            echo "    interval 1"
            echo "}"
        done
        if ((CONF_HEALTH)); then
            echo "vrrp_script health {"
            echo "    script \"/usr/bin/test -f $VT_TMP/$node/healthy\""
            echo "    interval 1"
            echo "    weight -60"
            echo "    fall 1"
            echo "    rise 1"
            echo "}"
        fi
        local count=$CONF_INSTANCES
        for ((k = 0; k < count; k++)); do
            if ((count == 1)); then echo "vrrp_instance vip {"; else echo "vrrp_instance i$k {"; fi
            echo "    state BACKUP"
            echo "    interface eth0"
            echo "    version $CONF_VERSION"
            if ((count == 1)); then echo "    virtual_router_id 51"; else echo "    virtual_router_id $((SCALE_VRID_BASE + k))"; fi
            echo "    priority $prio"
            echo "    advert_int $CONF_INTERVAL"
            echo "    virtual_ipaddress {"
            if ((count == 1)); then echo "        $VIP4_CIDR"; else echo "        $(scale_vip $((k + 1)))"; fi
            echo "    }"
            if ((CONF_CHECKS || CONF_HEALTH)); then
                echo "    track_script {"
                for ((c = 1; c <= CONF_CHECKS; c++)); do echo "        c$c"; done
                ((CONF_HEALTH)) && echo "        health"
                echo "    }"
            fi
            echo "}"
        done
    } >"$f"
}

# --------------------------------------------------------------------------
# One daemon of either kind
# --------------------------------------------------------------------------

KIND=""
start_daemon() {
    local node="$1" prio="$2"
    mkdir -p "$VT_TMP/$node"
    if ((CONF_HEALTH)); then touch "$VT_TMP/$node/healthy"; fi
    case "$KIND" in
        vipd)
            write_vipd_conf "$node" "$prio"
            start_vipd "$node"
            ;;
        keepalived) start_keepalived "$node" "priority=$prio" ;;
    esac
}

# daemon_pids NODE: every process of NODE's daemon (keepalived: parent and
# VRRP child).
daemon_pids() {
    case "$KIND" in
        vipd) pid_alive "${VIPD_PID[$1]:-}" && echo "${VIPD_PID[$1]}" ;;
        keepalived) ka_members "${KA_PID[$1]}" ;;
    esac
}

# main_pid NODE: the process that takes SIGHUP for a reload.
main_pid() {
    case "$KIND" in
        vipd) echo "${VIPD_PID[$1]}" ;;
        keepalived) echo "${KA_PID[$1]}" ;;
    esac
}

# cpu_ticks NODE: utime + stime of NODE's daemon processes in clock ticks,
# from /proc/PID/stat, which also counts threads that have exited.
cpu_ticks() {
    local pid total=0 stat f
    for pid in $(daemon_pids "$1"); do
        stat="$(cat "/proc/$pid/stat" 2>/dev/null)" || continue
        # the fields after "(comm) ": state first, so utime and stime are 11 and 12
        read -r -a f <<<"${stat##*) }"
        total=$((total + f[11] + f[12]))
    done
    echo "$total"
}

# rss_kib NODE: resident memory of NODE's daemon processes, summed.
rss_kib() {
    local pid total=0 kib
    for pid in $(daemon_pids "$1"); do
        kib="$(awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status" 2>/dev/null)" || continue
        total=$((total + ${kib:-0}))
    done
    echo "$total"
}

# --------------------------------------------------------------------------
# Recording
# --------------------------------------------------------------------------

EVENTS=""
# event NAME [KEY=VALUE ...]: one line of the record: the time now and facts.
event() {
    local name="$1"
    shift
    EVENTS+="$(now) $name $*"$'\n'
}

write_meta() {
    printf '%s' "$EVENTS" >"$OUT/events.txt"
    {
        echo "{"
        local first=1 kv
        for kv in "$@"; do
            ((first)) || echo ","
            first=0
            printf '  "%s": "%s"' "${kv%%=*}" "${kv#*=}"
        done
        echo
        echo "}"
    } >"$OUT/meta.json"
}

start_capture() {
    capture_start cap --time-stamp-precision=nano "$@"
}

finish_capture() {
    capture_stop cap
    cp "$VT_TMP/cap.pcap" "$OUT/capture.pcap"
}

PROBER_PID=""
start_prober() {
    ip netns exec "$(ns client)" "$PY" "$BENCH_DIR/prober.py" "$VIP4" 0.005 >"$VT_TMP/prober.out" 2>&1 &
    PROBER_PID=$!
    record_pid "$PROBER_PID"
}

# --------------------------------------------------------------------------
# Scenarios
# --------------------------------------------------------------------------

holder_count() { ip -n "$(ns "$1")" -4 -o addr show dev eth0 2>/dev/null | grep -cE ' (198\.51\.100|203\.0\.113)\.' || true; }
all_vips_on() { (($(holder_count "$1") >= CONF_INSTANCES)); }
n2_is_silent_backup() { ! peer_holds n2 "$VIP4"; }

# stop_both: both daemons gone (gracefully), n1 back on the link, no VIP left.
stop_both() {
    local node
    for node in n1 n2; do
        case "$KIND" in
            vipd) pid_alive "${VIPD_PID[$node]:-}" || continue ;;
            keepalived) [[ -n "${KA_PID[$node]:-}" ]] && ! ka_gone "${KA_PID[$node]}" || continue ;;
        esac
        stop_peer "$node"
    done
    if has_link_down n1; then revive_node n1; fi
    # after the link is up: the bridge refuses a port state on a port that is down
    port_unblock n1
    ip -n "$(ns n1)" addr del "$VIP4_CIDR" dev eth0 2>/dev/null || true
    ip -n "$(ns n2)" addr del "$VIP4_CIDR" dev eth0 2>/dev/null || true
    ip -n "$(ns client)" neigh flush dev eth0 2>/dev/null || true
}

# crash_master: the master dies at once, seen from the network: its bridge
# port stops forwarding (a blackhole, no carrier change the daemon could
# react to), then SIGKILL to every process of its daemon, then its link goes
# down (a dead node must not answer ARP or ping for the VIP it left behind).
# The PIDs are read before the event so both daemons die equally fast.
crash_master() {
    local pids pid
    pids="$(daemon_pids n1)"
    event act "rep=$rep"
    port_block n1
    # shellcheck disable=SC2086 # a list of PIDs, all of our daemon
    kill -KILL $pids 2>/dev/null || true
    link_down n1
    for pid in $pids; do poll_until 5 0.02 not_ pid_alive "$pid" || fail "$KIND process $pid survived SIGKILL"; done
    { wait "$(main_pid n1)"; } 2>/dev/null || true
    case "$KIND" in
        vipd) VIPD_PID[n1]="" ;;
    esac
}

# GATE_TTL: the lease TTL of the gate's lock (the goal: failover with the
# gate at most this much longer than without it).
GATE_TTL=5
scenario_gate() {
    local gate="$1" reps="$2"
    [[ "$KIND" == vipd ]] || fail "the gate is vipd's (no such thing in keepalived)"
    TOPO_NODES=(n1 n2 n3 client)
    CONF_VIPD_GLOBAL="[etcd]
endpoints = [\"http://$(ip4_of n1):2379\", \"http://$(ip4_of n2):2379\", \"http://$(ip4_of n3):2379\"]"
    case "$gate" in
        lock) CONF_VIPD_EXTRA="leadership = { key = \"/vipd/bench/vip\", ttl = \"${GATE_TTL}s\", on_etcd_loss = \"step_down\" }" ;;
        plain) ;;
        *) fail "gate: lock or plain, not $gate" ;;
    esac
    GATE_MODE="$gate"
    scenario_failover 3 1 kill "$reps" "$3"
}

TOPO_NODES=(n1 n2 client)
GATE_MODE=""
scenario_failover() {
    local version="$1" interval="$2" how="$3" reps="$4" rep before after
    OUT="$5"
    CONF_VERSION="$version"
    CONF_INTERVAL="$interval"
    case "$how" in
        check) CONF_HEALTH=1 ;;
        checkfast)
            # vipd's opt-in fast takeover (issue 10 item 4), named by bench/run
            [[ "$KIND" == vipd && -n "${BENCH_FAST_TAKEOVER:-}" ]] ||
                fail "checkfast needs vipd and BENCH_FAST_TAKEOVER (the TOML line that enables it)"
            CONF_HEALTH=1
            CONF_VIPD_EXTRA="$BENCH_FAST_TAKEOVER"
            ;;
    esac
    topo_up "${TOPO_NODES[@]}"
    if [[ -n "$GATE_MODE" ]]; then etcd_up n1 n2 n3; fi
    start_capture "ip proto 112 or arp or (icmp and src host $VIP4)"
    start_prober
    # before the event: the backup has heard a few adverts and the master's
    # spacing can be sampled; after it: the new master's GARPs and the
    # client's replies are in the capture
    before="$(awk -v i="$interval" 'BEGIN { s = 2 * i + 0.3; printf "%.3f\n", (s > 0.5 ? s : 0.5) }')"
    after="$(awk -v i="$interval" 'BEGIN { s = i + 0.3; printf "%.3f\n", (s > 0.5 ? s : 0.5) }')"
    for ((rep = 1; rep <= reps; rep++)); do
        start_daemon n1 150
        start_daemon n2 100
        wait_until "n1 ($KIND) holds $VIP4" $((10 + 5 * ${interval%.*})) only_peer_holder n1
        wait_until "the client reaches $VIP4" 10 ping_ok
        sleep "$before"
        event ready "rep=$rep"
        case "$how" in
            kill) crash_master ;;
            stop) event act "rep=$rep"; stop_peer n1 ;;
            check | checkfast) event act "rep=$rep"; rm -f "$VT_TMP/n1/healthy" ;;
        esac
        wait_until "n2 takes $VIP4 over" $((10 + 5 * ${interval%.*})) peer_holds n2 "$VIP4"
        event moved "rep=$rep"
        sleep "$after"
        event done "rep=$rep"
        stop_both
    done
    stop_pid "$PROBER_PID" TERM 2
    finish_capture
    write_meta scenario=failover kind="$KIND" version="$version" interval="$interval" how="$how" \
        reps="$reps" vip="$VIP4" n1="$(ip4_of n1)" n2="$(ip4_of n2)" \
        n1_mac="$(node_mac n1)" n2_mac="$(node_mac n2)" gate="$GATE_MODE" gate_ttl_s="$GATE_TTL"
}

COND_PIDS=()
scenario_spacing() {
    local condition="$1" seconds="$2" pid
    OUT="$3"
    CONF_VERSION=3
    CONF_INTERVAL=0.01
    [[ "$condition" == checks ]] && CONF_CHECKS=100
    topo_up n1 n2 n3 client
    start_daemon n1 150
    start_daemon n2 100
    wait_until "n1 ($KIND) holds $VIP4" 10 only_peer_holder n1
    case "$condition" in
        idle | checks) ;;
        cpu)
            # one hog per core, in the client's namespace (its network is idle)
            ip netns exec "$(ns client)" stress-ng --cpu "$(nproc)" --timeout "$((seconds + 30))s" --quiet &
            pid=$!
            record_pid "$pid"
            COND_PIDS+=("$pid")
            ;;
        flood)
            ip netns exec "$(ns n3)" "$PY" "$BENCH_DIR/flood.py" 20000 51 "$(ip4_of n3)" >"$VT_TMP/flood.out" 2>&1 &
            pid=$!
            record_pid "$pid"
            COND_PIDS+=("$pid")
            ;;
        reload)
            (
                trap 'exit 0' TERM
                target="$(main_pid n1)"
                while true; do
                    sleep 1
                    kill -HUP "$target" 2>/dev/null || exit 0
                done
            ) &
            pid=$!
            record_pid "$pid"
            COND_PIDS+=("$pid")
            ;;
    esac
    # the routers' adverts only: the flood would fill the capture (the
    # backup's are there to count when it declared the live master dead)
    start_capture "ip proto 112 and (src host $(ip4_of n1) or src host $(ip4_of n2))"
    event start
    sleep "$seconds"
    event end
    finish_capture
    for pid in "${COND_PIDS[@]}"; do stop_pid "$pid" TERM 3; done
    local flood_rate=""
    [[ -s "$VT_TMP/flood.out" ]] && flood_rate="$(awk '{ print $2 }' "$VT_TMP/flood.out")"
    local holders
    holders="$(peer_holders "$VIP4")"
    write_meta scenario=spacing kind="$KIND" condition="$condition" seconds="$seconds" interval=0.01 \
        n1="$(ip4_of n1)" n2="$(ip4_of n2)" flood_rate="$flood_rate" holders_at_end="$holders"
}

scenario_scale() {
    local instances="$1" interval="$2" window="$3" t0 t1 c1 c2 b1 b2 tick rss1 rss2
    OUT="$4"
    CONF_VERSION=3
    CONF_INTERVAL="$interval"
    CONF_INSTANCES="$instances"
    # instance 1 uses VRID 1; a single instance still goes through the
    # multi-instance writer so that the VIP is counted the same way
    if ((instances == 1)); then CONF_INSTANCES=1; fi
    topo_up n1 n2
    if ((instances == 1)); then
        # the one-instance writer uses 192.0.2.50; count that instead
        holder_count() { ip -n "$(ns "$1")" -4 -o addr show dev eth0 2>/dev/null | grep -c " $VIP4/" || true; }
    fi
    # the backup first; the clock starts with the master (keepalived's start
    # function waits for its VRRP child, vipd's does not: this keeps both fair)
    start_daemon n2 100
    t0="$(now)"
    start_daemon n1 150
    wait_until "n1 ($KIND) holds all $instances VIPs" 120 all_vips_on n1
    t1="$(now)"
    # the backups settle and the start-up work is over
    sleep 3
    tick="$(getconf CLK_TCK)"
    c1="$(cpu_ticks n1)"
    b1="$(cpu_ticks n2)"
    event window_start
    sleep "$window"
    event window_end
    c2="$(cpu_ticks n1)"
    b2="$(cpu_ticks n2)"
    rss1="$(rss_kib n1)"
    rss2="$(rss_kib n2)"
    local on_n1 on_n2
    on_n1="$(holder_count n1)"
    on_n2="$(holder_count n2)"
    write_meta scenario=scale kind="$KIND" instances="$instances" interval="$interval" window="$window" \
        start_to_all_vips_s="$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')" \
        master_cpu_s_per_min="$(awk -v d=$((c2 - c1)) -v t="$tick" -v w="$window" 'BEGIN { printf "%.4f", d / t * 60 / w }')" \
        backup_cpu_s_per_min="$(awk -v d=$((b2 - b1)) -v t="$tick" -v w="$window" 'BEGIN { printf "%.4f", d / t * 60 / w }')" \
        master_rss_kib="$rss1" backup_rss_kib="$rss2" vips_on_master="$on_n1" vips_on_backup="$on_n2"
}

main() {
    local what="$1"
    KIND="$2"
    shift 2
    case "$KIND" in
        vipd) [[ -x "$VIPD_BIN" ]] || fail "no vipd binary at $VIPD_BIN" ;;
        keepalived) need_tools keepalived ;;
        *) fail "unknown daemon kind $KIND (vipd or keepalived)" ;;
    esac
    need_tools tcpdump
    case "$what" in
        failover) mkdir -p "$5"; scenario_failover "$@" ;;
        spacing) mkdir -p "$3"; scenario_spacing "$@" ;;
        scale) mkdir -p "$4"; scenario_scale "$@" ;;
        gate) mkdir -p "$3"; scenario_gate "$@" ;;
        *) fail "unknown scenario $what" ;;
    esac
    save_logs
}

# Keep the daemons' logs with the results on every exit path, failures too.
eval "$(declare -f peers_cleanup | sed '1s/^peers_cleanup/vt_peers_cleanup/')"
peers_cleanup() {
    local rc=$?
    # errexit off first: `(exit "$rc")` below would end the handler early
    set +e
    save_logs
    (exit "$rc")
    vt_peers_cleanup
}
trap peers_cleanup EXIT

main "$@"
