# shellcheck shell=bash disable=SC2034  # sourced: variables are used by the cases
# netns-tests/vip-manager.sh: Debian's vip-manager 1.0.2 (the reference the
# issue compares vipd with) in lib.sh's node namespaces, following a Patroni
# cluster of patroni.sh through etcd's v2 keyspace; and a precise record of
# address changes on the nodes' eth0 (`ip monitor`, stamped as they come).
# Sourced after lib.sh and patroni.sh:
#
#   source "$(dirname "$0")/../vip-manager.sh"
#   vip_manager_start n1 "$VIP4_CIDR" pg
#
# vip-manager 1.0.2 facts this relies on (the shared notes have the details):
# it reads only the v2 keyspace, polling GET /v2/keys/<key>?quorum=true every
# --interval ms; it adds and deletes the VIP with `ip addr` (so `ip` must be
# on PATH and it runs as root in the namespace); only SIGINT makes it remove
# the VIP on exit; any etcd error means "not leader". Its presence check is a
# substring match on the interface's addresses, so the VIP must not be a
# prefix of a node's address (192.0.2.50 is not one of 192.0.2.1x or .100).

command -v vip-manager >/dev/null || fail "vip-manager is not installed (apt-get install -y vip-manager)"
VIPM_BIN="$(command -v vip-manager)"

declare -A VIPM_PID=()          # node -> PID of its running vip-manager ("" when stopped)
VIP_EVENTS="$VT_TMP/vip-events.log"
declare -a VIP_EVENTS_PIDS=()

# vip_manager_start NODE VIP/PREFIX SCOPE [INTERVAL_MS]: vip-manager on
# NODE's eth0 for Patroni scope SCOPE: it holds VIP while the v2 key
# /service/SCOPE/leader is NODE (the member name). Polls every INTERVAL_MS
# (its default, 1000, unless given). Log: $VT_TMP/NODE/vip-manager.log.
vip_manager_start() {
    local node="$1" cidr="$2" scope="$3" interval="${4:-1000}" pid
    [[ -z "${VIPM_PID[$node]:-}" ]] || fail "vip_manager_start $node: its vip-manager (pid ${VIPM_PID[$node]}) is already running"
    [[ "$cidr" == */* ]] || fail "vip_manager_start $node: VIP/PREFIX expected, not $cidr"
    echo "=== vip-manager start $(date +%H:%M:%S.%3N)" >>"$VT_TMP/$node/vip-manager.log"
    # env -i: every flag can also come from a VIP_* variable (viper); none
    # may leak in. ip netns exec and env exec: $! is vip-manager itself.
    (cd / && exec ip netns exec "$(ns "$node")" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
        "$VIPM_BIN" --ip "${cidr%/*}" --netmask "${cidr#*/}" --interface eth0 \
        --trigger-key "/service/$scope/leader" --trigger-value "$node" \
        --dcs-type etcd --dcs-endpoints "$(etcd_endpoints)" --interval "$interval") \
        </dev/null >>"$VT_TMP/$node/vip-manager.log" 2>&1 &
    pid=$!
    record_pid "$pid"
    VIPM_PID[$node]="$pid"
    log "started vip-manager on $node (pid $pid): $cidr while /service/$scope/leader = $node, every $interval ms"
}

# vip_manager_stop NODE: SIGINT (the one signal after which it removes the
# VIP), bounded; SIGKILL after 5 s.
vip_manager_stop() {
    local node="$1" pid="${VIPM_PID[$1]:-}"
    [[ -n "$pid" ]] || return 0
    stop_pid "$pid" INT 5
    VIPM_PID[$node]=""
    log "stopped vip-manager on $node (pid $pid, SIGINT)"
}

# --------------------------------------------------------------------------
# Address events: one `ip monitor address` per node, each line stamped when
# it is read: "<epoch seconds> NODE add|del ADDR/PREFIX" in vip-events.log.
# Finer than polling `ip addr` (lib.sh's monitor samples every ~20 ms plus
# the cost of the samples).
# --------------------------------------------------------------------------

# vip_events_stamp NODE: turns `ip -o monitor address` lines into events.
vip_events_stamp() {
    local node="$1" line kind addr
    while IFS= read -r line; do
        kind=add
        [[ "$line" == Deleted* ]] && kind=del
        addr="$(awk '{ for (i = 1; i < NF; i++) if ($i == "inet" || $i == "inet6") { print $(i + 1); exit } }' <<<"$line")"
        [[ -n "$addr" ]] && echo "$(now) $node $kind $addr"
    done
}

# vip_events_start NODE...: record address changes on the nodes' eth0.
vip_events_start() {
    local node pid
    touch "$VIP_EVENTS"
    for node in "$@"; do
        stamped_start "$VIP_EVENTS" "vip_events_stamp $node" \
            ip netns exec "$(ns "$node")" ip -o monitor address dev eth0
        VIP_EVENTS_PIDS+=("$STAMPED_PID")
    done
    # Ready once each `ip monitor` has its netlink socket (it subscribes
    # right after opening it), rather than after a sleep.
    for pid in "${VIP_EVENTS_PIDS[@]}"; do
        wait_until "address monitor $pid subscribed" 5 vip_events_ready "$pid"
    done
}

# vip_events_ready PID: the `ip` under stamped_start's subshell PID has a socket open.
vip_events_ready() {
    local child
    child="$(ps -o pid=,comm= --ppid "$1" | awk '$2 == "ip" { print $1; exit }')"
    [[ -n "$child" ]] && ls -l "/proc/$child/fd" 2>/dev/null | grep -q 'socket:'
}

vip_events_stop() {
    local pid
    for pid in "${VIP_EVENTS_PIDS[@]}"; do stop_pid "$pid" TERM 2; done
    VIP_EVENTS_PIDS=()
}

# vip_event_first NODE add|del ADDR [SINCE]: the time of NODE's first such
# event for ADDR (any prefix) at or after SINCE; nothing when there is none.
vip_event_first() {
    awk -v n="$1" -v k="$2" -v a="$3" -v s="${4:-0}" \
        '$1 >= s && $2 == n && $3 == k && index($4, a "/") == 1 { print $1; exit }' "$VIP_EVENTS" 2>/dev/null
}

# vip_events_summary ADDR [SINCE]: from the events, between SINCE (epoch
# seconds; the holders then come from the earlier events) and now: "MAX
# OVERLAP_MS GAP_MS", the largest number of simultaneous holders of ADDR, the
# time with more than one holder and the time with none.
vip_events_summary() {
    awk -v a="$1" -v s="${2:-0}" -v end="$(now)" '
        function account(t) {
            if (n > 1) overlap += t - last
            if (n == 0) gap += t - last
            last = t
        }
        function apply() {
            if ($3 == "add" && !held[$2]) { held[$2] = 1; n++ }
            if ($3 == "del" && held[$2]) { held[$2] = 0; n-- }
        }
        index($4, a "/") != 1 { next }
        $1 < s { apply(); next }
        !started { started = 1; max = n; last = s }
        { account($1); apply(); if (n > max) max = n }
        END {
            if (!started) { max = n; last = s }
            account(end)
            printf "%d %.1f %.1f\n", max, overlap * 1000, gap * 1000
        }' "$VIP_EVENTS"
}

eval "vt_vipm_prev_diagnostics() $(declare -f diagnostics | tail -n +2)"
diagnostics() {
    local node
    vt_vipm_prev_diagnostics
    for node in "${!VIPM_PID[@]}"; do
        echo "--- $node: vip-manager pid ${VIPM_PID[$node]:-none}; tail of its log"
        tail -n 10 "$VT_TMP/$node/vip-manager.log" 2>/dev/null | sed 's/^/    /'
    done
    if [[ -s "$VIP_EVENTS" ]]; then
        echo "--- address events (epoch node add|del address)"
        tail -n 20 "$VIP_EVENTS" | sed 's/^/    /'
    fi
    echo "==================="
}

vipm_cleanup() {
    local node
    vip_events_stop
    for node in "${!VIPM_PID[@]}"; do
        [[ -n "${VIPM_PID[$node]}" ]] && stop_pid "${VIPM_PID[$node]}" INT 3
    done
}
vt_chain_cleanup vipm_cleanup
