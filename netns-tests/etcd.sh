# shellcheck shell=bash disable=SC2034  # sourced: variables are used by the cases
# netns-tests/etcd.sh: a real etcd cluster (Debian's etcd-server 3.4), one
# member per node namespace of lib.sh's topology. Sourced after lib.sh (and
# after postgres.sh when a case uses both; patroni.sh does this for you):
#
#   source "$(dirname "$0")/../lib.sh"
#   source "$(dirname "$0")/../etcd.sh"
#   topo_up n1 n2 n3 client
#   etcd_up n1 n2 n3
#
# Each member is named after its node and listens on the node's 192.0.2.x
# only (client port 2379, peer port 2380), with the v2 API on as well
# (vip-manager 1.0.2 reads v2 only). Everything lives under $VT_TMP:
#
#   NODE/etcd/           the member's data directory
#   NODE/etcd.log        its log (appended across restarts)
#   etcd-watch-NAME.log  a key watcher's "<epoch seconds> <value>" lines
#
# Every etcd we start is recorded by PID (record_pid) and killed at exit,
# before lib.sh removes the namespaces; the data directories go with it.
# Facts used here are in the shared notes on etcd and Patroni in namespaces.

command -v etcd >/dev/null || fail "etcd is not installed (apt-get install -y etcd-server)"
command -v etcdctl >/dev/null || fail "etcdctl is not installed (apt-get install -y etcd-client)"

ETCD_TOKEN="${VT_ID}-etcd"
ETCD_BIN="$(command -v etcd)"
ETCDCTL_BIN="$(command -v etcdctl)"
# A stray ETCD_* / ETCDCTL_* variable would change a member's or a client's
# configuration: every etcd and etcdctl runs with only these.
ETCD_ENV=(env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8)

# Pre-vote (the default from etcd 3.5; off in 3.4): a member returning from
# a partition does not force an election, which leaves the cluster without
# a leader for one or two seconds. Set ETCD_PRE_VOTE= for 3.4's default.
ETCD_PRE_VOTE="${ETCD_PRE_VOTE-1}"

declare -a ETCD_NODES=()        # the members of the cluster, in etcd_up order
declare -A ETCD_PID=()          # node -> PID of its running etcd ("" when stopped)
declare -A ETCD_WATCH_PID=()    # watcher name -> PID

etcd_client_url() { echo "http://$(ip4_of "$1"):2379"; }
etcd_peer_url() { echo "http://$(ip4_of "$1"):2380"; }
etcd_data() { echo "$VT_TMP/$1/etcd"; }

# etcd_endpoints: the members' client URLs, comma separated (vip-manager's
# --dcs-endpoints, etcdctl's --endpoints).
etcd_endpoints() {
    local node out=()
    for node in "${ETCD_NODES[@]}"; do out+=("$(etcd_client_url "$node")"); done
    local IFS=,
    echo "${out[*]}"
}

# etcd_endpoints_toml: the same as a TOML array of strings (vipd's
# [etcd] endpoints).
etcd_endpoints_toml() {
    local node out="" sep=""
    for node in "${ETCD_NODES[@]}"; do
        out+="$sep\"$(etcd_client_url "$node")\""
        sep=", "
    done
    echo "[$out]"
}

# etcd_hostports: "ip:2379,ip:2379,..." (Patroni's etcd/etcd3 `hosts`).
etcd_hostports() {
    local node out=()
    for node in "${ETCD_NODES[@]}"; do out+=("$(ip4_of "$node"):2379"); done
    local IFS=,
    echo "${out[*]}"
}

# etcd_initial_cluster: name=peer-url,... for every member.
etcd_initial_cluster() {
    local node out=()
    for node in "${ETCD_NODES[@]}"; do out+=("$node=$(etcd_peer_url "$node")"); done
    local IFS=,
    echo "${out[*]}"
}

# etcd_start NODE: start NODE's member in its namespace. On a fresh data
# directory it joins the cluster being formed by etcd_up; on an existing one
# etcd ignores the --initial-* flags and rejoins with what it has.
etcd_start() {
    local node="$1" ip pid
    ip="$(ip4_of "$node")"
    [[ -z "${ETCD_PID[$node]:-}" ]] || fail "etcd_start $node: its etcd (pid ${ETCD_PID[$node]}) is already running"
    install -d -m 700 "$(etcd_data "$node")"
    echo "=== etcd start $(date +%H:%M:%S.%3N)" >>"$VT_TMP/$node/etcd.log"
    # `ip netns exec` and env both exec: $! is etcd itself.
    ip netns exec "$(ns "$node")" "${ETCD_ENV[@]}" "$ETCD_BIN" \
        --name "$node" --data-dir "$(etcd_data "$node")" \
        --listen-client-urls "$(etcd_client_url "$node")" \
        --advertise-client-urls "$(etcd_client_url "$node")" \
        --listen-peer-urls "$(etcd_peer_url "$node")" \
        --initial-advertise-peer-urls "$(etcd_peer_url "$node")" \
        --initial-cluster "$(etcd_initial_cluster)" \
        --initial-cluster-token "$ETCD_TOKEN" --initial-cluster-state new \
        --enable-v2=true \
        ${ETCD_PRE_VOTE:+--pre-vote=true} \
        </dev/null >>"$VT_TMP/$node/etcd.log" 2>&1 &
    pid=$!
    record_pid "$pid"
    ETCD_PID[$node]="$pid"
    log "started etcd member $node on $ip:2379 (pid $pid)"
}

# etcd_stop NODE [SIGNAL]: stop NODE's member (SIGTERM by default; KILL for
# a crash) and wait for it to exit (bounded). Its data directory stays.
etcd_stop() {
    local node="$1" sig="${2:-TERM}" pid="${ETCD_PID[$1]:-}"
    [[ -n "$pid" ]] || return 0
    stop_pid "$pid" "$sig" 5
    ETCD_PID[$node]=""
    log "stopped etcd member $node (pid $pid, SIG$sig)"
}

# etcd_up NODE...: a fresh cluster with one member per NODE; returns once
# every member reports healthy (a linearizable read through it succeeds).
etcd_up() {
    local node
    (($# > 0)) || set -- n1 n2 n3
    ((${#ETCD_NODES[@]} == 0)) || fail "etcd_up: a cluster (${ETCD_NODES[*]}) is already up"
    ETCD_NODES=("$@")
    for node in "$@"; do etcd_start "$node"; done
    for node in "$@"; do
        wait_until "etcd member $node is healthy" 20 etcd_member_healthy "$node"
    done
}

# etcdctl_in NODE ARGS...: etcdctl (API v3) in NODE's namespace against
# NODE's own member only, with short timeouts (a member without quorum or
# a cut-off node fails within about 2 s instead of hanging).
etcdctl_in() {
    local node="$1"
    shift
    ip netns exec "$(ns "$node")" "${ETCD_ENV[@]}" ETCDCTL_API=3 "$ETCDCTL_BIN" \
        --endpoints "$(etcd_client_url "$node")" --dial-timeout=1s --command-timeout=2s "$@"
}

# etcdctl2_in NODE ARGS...: the v2 etcdctl, pinned to NODE's member
# (--no-sync: without it, it may move to another member's URL).
etcdctl2_in() {
    local node="$1"
    shift
    ip netns exec "$(ns "$node")" "${ETCD_ENV[@]}" ETCDCTL_API=2 "$ETCDCTL_BIN" \
        --no-sync --endpoints "$(etcd_client_url "$node")" --timeout=1s --total-timeout=2s "$@"
}

# etcd_member_healthy NODE: NODE's member serves a linearizable read (it is
# up and part of a quorum).
etcd_member_healthy() { etcdctl_in "$1" endpoint health >/dev/null 2>&1; }

# etcd_running_members: the members whose etcd we have running.
etcd_running_members() {
    local node
    for node in "${ETCD_NODES[@]}"; do
        if pid_alive "${ETCD_PID[$node]:-}"; then echo "$node"; fi
    done
}

# etcd_has_quorum [NODE]: NODE's member (default: any running member)
# answers a linearizable read, which needs a quorum behind it.
etcd_has_quorum() {
    local node
    if (($# > 0)); then etcd_member_healthy "$1"; return; fi
    for node in $(etcd_running_members); do
        if etcd_member_healthy "$node"; then return 0; fi
    done
    return 1
}

# etcd_get KEY [NODE]: KEY's value in the v3 keyspace (linearizable read)
# through NODE's member, or the first running member that answers. Prints
# nothing for a missing key; fails when no member answered.
etcd_get() {
    local key="$1" node nodes
    nodes="${2:-$(etcd_running_members)}"
    for node in $nodes; do
        if etcdctl_in "$node" get --print-value-only "$key" 2>/dev/null; then return 0; fi
    done
    return 1
}

# etcd_get_v2 KEY [NODE]: the same in the v2 keyspace (a quorum read, as
# vip-manager does). Prints nothing for a missing key.
etcd_get_v2() {
    local key="$1" node nodes out rc
    nodes="${2:-$(etcd_running_members)}"
    for node in $nodes; do
        rc=0
        out="$(etcdctl2_in "$node" get --quorum "$key" 2>&1)" || rc=$?
        if ((rc == 0)); then printf '%s\n' "$out"; return 0; fi
        # "Error:  100: Key not found (/service/pg) [12]": an answer, not a failure.
        if [[ "$out" == *"Key not found"* ]]; then return 0; fi
    done
    return 1
}

# etcd_watch_start NAME KEY v2|v3 [NODE [WATCHER]]: watch KEY through NODE's
# member (default the last member) from WATCHER's namespace (default the
# client), logging "<epoch seconds> <value>" per change to
# $VT_TMP/etcd-watch-NAME.log; "<epoch seconds> -" when the key goes away.
# Times are taken when the event reaches the watcher (sub-millisecond here).
etcd_watch_start() {
    local name="$1" key="$2" api="$3" node="${4:-${ETCD_NODES[-1]}}" watcher="${5:-client}"
    local out="$VT_TMP/etcd-watch-$name.log"
    : >"$out"
    if [[ "$api" == v2 ]]; then
        # One line per event: the new value; an empty line on delete or expiry.
        stamped_start "$out" "etcd_watch_stamp v2" \
            ip netns exec "$(ns "$watcher")" "${ETCD_ENV[@]}" ETCDCTL_API=2 "$ETCDCTL_BIN" \
            --no-sync --endpoints "$(etcd_client_url "$node")" watch --forever "$key"
    else
        # Three lines per event: PUT|DELETE, the key, the value (none for DELETE).
        stamped_start "$out" "etcd_watch_stamp v3" \
            ip netns exec "$(ns "$watcher")" "${ETCD_ENV[@]}" ETCDCTL_API=3 "$ETCDCTL_BIN" \
            --endpoints "$(etcd_client_url "$node")" --dial-timeout=1s watch "$key"
    fi
    ETCD_WATCH_PID[$name]="$STAMPED_PID"
    log "watching $api key $key through $node's member from $watcher (pid $STAMPED_PID)"
}

# etcd_watch_stamp v2|v3: turns etcdctl watch output into stamped lines.
etcd_watch_stamp() {
    local api="$1" line state=op
    while IFS= read -r line; do
        if [[ "$api" == v2 ]]; then
            echo "$(now) ${line:--}"
            continue
        fi
        case "$state:$line" in
            op:PUT) state=key ;;
            op:DELETE) state=delkey ;;
            key:*) state=val ;;
            delkey:*) echo "$(now) -"; state=op ;;
            val:*) echo "$(now) ${line:--}"; state=op ;;
        esac
    done
}

etcd_watch_stop() {
    local name="$1"
    [[ -n "${ETCD_WATCH_PID[$name]:-}" ]] || return 0
    stop_pid "${ETCD_WATCH_PID[$name]}" TERM 2
    unset "ETCD_WATCH_PID[$name]"
}

# etcd_watch_log NAME: the stamped changes seen so far.
etcd_watch_log() { cat "$VT_TMP/etcd-watch-$1.log" 2>/dev/null; }

# etcd_watch_first NAME VALUE [SINCE]: the time of the first change to VALUE
# at or after SINCE (epoch seconds); nothing when there is none yet.
etcd_watch_first() {
    awk -v v="$2" -v s="${3:-0}" '$1 >= s && $2 == v { print $1; exit }' "$VT_TMP/etcd-watch-$1.log" 2>/dev/null
}

# etcd_leader [NODE]: the name of the member that leads the cluster, as
# NODE's member (default the last one) reports it; nothing when it knows none.
etcd_leader() {
    local node="${1:-${ETCD_NODES[-1]}}"
    etcdctl_in "$node" endpoint status --cluster -w json 2>/dev/null | python3 -c '
import json, sys
ips = dict(arg.split("=") for arg in sys.argv[1:])
for member in json.load(sys.stdin):
    status = member["Status"]
    if status["header"]["member_id"] == status["leader"]:
        host = member["Endpoint"].split("//")[-1].rsplit(":", 1)[0]
        print(ips.get(host, host))
        break
' $(for n in "${ETCD_NODES[@]}"; do echo "$(ip4_of "$n")=$n"; done) 2>/dev/null || true
}

# lib.sh's diagnostics (and whatever wraps it already), followed by etcd's.
eval "vt_etcd_prev_diagnostics() $(declare -f diagnostics | tail -n +2)"
diagnostics() {
    local node
    vt_etcd_prev_diagnostics
    if ((${#ETCD_NODES[@]})); then
        echo "--- etcd: members running: $(etcd_running_members | paste -sd' ' -); quorum: $(etcd_has_quorum && echo yes || echo no)"
        for node in "${ETCD_NODES[@]}"; do
            echo "--- $node: etcd pid ${ETCD_PID[$node]:-none}; tail of its log"
            tail -n 5 "$VT_TMP/$node/etcd.log" 2>/dev/null | sed 's/^/    /'
        done
        echo "==================="
    fi
}

# --------------------------------------------------------------------------
# Generic helpers lib.sh does not have (kept here so lib.sh stays as it is)
# --------------------------------------------------------------------------

# stamped_start OUT STAMPER CMD...: run CMD in the background with its
# standard output read line by line by STAMPER (a function name and its
# arguments, as one word list) appending to OUT, so that each line gets the
# time it was read. CMD must exec into the process it names (like `ip netns
# exec`). Sets STAMPED_PID to the supervising subshell: SIGTERM to it stops
# CMD, and STAMPER ends on end of file.
STAMPED_PID=""
stamped_start() {
    local out="$1" stamper="$2"
    shift 2
    (
        # shellcheck disable=SC2086  # STAMPER is a function and its words
        "$@" > >($stamper >>"$out") 2>>"$out.err" &
        child=$!
        record_pid "$child"
        trap 'kill -TERM "$child" 2>/dev/null; wait "$child"; exit 0' TERM INT
        wait "$child"
    ) &
    STAMPED_PID=$!
    record_pid "$STAMPED_PID"
}

# --------------------------------------------------------------------------
# Cleanup
# --------------------------------------------------------------------------

etcd_cleanup() {
    local name node
    for name in "${!ETCD_WATCH_PID[@]}"; do stop_pid "${ETCD_WATCH_PID[$name]}" TERM 2; done
    for node in "${!ETCD_PID[@]}"; do
        [[ -n "${ETCD_PID[$node]}" ]] && stop_pid "${ETCD_PID[$node]}" TERM 3
        rm -rf "$(etcd_data "$node")"
    done
}

# vt_chain_cleanup FUNC: make the EXIT trap's handler (lib.sh's vt_cleanup,
# or postgres.sh's pg_cleanup, which ends with vt_cleanup) run FUNC first,
# keeping the exit status it reports. The last file sourced cleans up first.
# A generic helper lib.sh lacks; a file that sets its own EXIT trap later
# (postgres.sh) must be sourced before the ones that chain here.
vt_chain_cleanup() {
    local fn="$1" handler n
    handler="$(trap -p EXIT)"
    handler="${handler#trap -- \'}"
    handler="${handler%\' EXIT}"
    [[ "$handler" =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] && declare -F "$handler" >/dev/null || handler=vt_cleanup
    n="${VT_CHAIN_N:-0}"
    VT_CHAIN_N=$((n + 1))
    eval "${handler}_before_$n() $(declare -f "$handler" | tail -n +2)"
    eval "$handler() { local rc=\$?; set +e; $fn; (exit \"\$rc\"); ${handler}_before_$n; }"
}
vt_chain_cleanup etcd_cleanup
