# shellcheck shell=bash disable=SC2034  # sourced: variables are used by the cases
# netns-tests/patroni.sh: a real Patroni cluster (Debian's patroni 3.0 with
# PostgreSQL 15) on etcd.sh's etcd, inside lib.sh's node namespaces. Sourced
# after lib.sh; it sources postgres.sh (psql helpers, the client's writer)
# and etcd.sh itself when the case has not:
#
#   source "$(dirname "$0")/../lib.sh"
#   source "$(dirname "$0")/../patroni.sh"
#   topo_up n1 n2 n3 client
#   etcd_up n1 n2 n3
#   patroni_up pg etcd n1 n2         # n1 the leader, n2 a streaming replica
#
# The member name is the node name. Each node's files (under $VT_TMP):
#
#   NODE/patroni.yml     its Patroni configuration
#   NODE/patroni.log     Patroni's log (appended across restarts)
#   NODE/pg/data         the cluster (initdb or pg_basebackup by Patroni)
#   NODE/pg/run          its own unix socket directory, and the pgpass file
#   NODE/pg/log          PostgreSQL's log (postgres.log)
#
# Unix sockets are not isolated by network namespaces: each cluster has its
# own socket directory, and `psql -h NODE/pg/run` reaches it from anywhere.
# PostgreSQL listens on every address of its namespace (0.0.0.0:5432), so
# clients reach the primary through a VIP. The REST API is on NODE:8008.
#
# Settings, read by patroni_up (only at bootstrap, as Patroni does):
#   PAT_TTL (10), PAT_LOOP_WAIT (2), PAT_RETRY_TIMEOUT (3)   seconds
#   PAT_SYNC (false)   true: synchronous_mode (synchronous replication on)
#
# Patroni runs as postgres in a session (process group) of its own; the
# postmaster it starts is in yet another one (Patroni's starter calls
# setsid()). Both are killed by process group at exit, before postgres.sh's
# and lib.sh's own cleanup.

if ! declare -F pg_cleanup >/dev/null; then source "$(dirname "${BASH_SOURCE[0]}")/postgres.sh"; fi
if ! declare -F etcd_up >/dev/null; then source "$(dirname "${BASH_SOURCE[0]}")/etcd.sh"; fi

# Debian's /usr/bin/patroni has #!/usr/bin/python3 and needs Debian's
# modules: run the scripts themselves, never through a python3 on PATH.
PATRONI_BIN=/usr/bin/patroni
PATRONICTL_BIN=/usr/bin/patronictl
[[ -x "$PATRONI_BIN" && -x "$PATRONICTL_BIN" ]] || fail "Patroni is not installed (apt-get install -y patroni python3-etcd)"
command -v setpriv >/dev/null || fail "setpriv is not installed (util-linux)"
# Patroni reads PATRONI_* variables: everything it runs gets only these.
PAT_ENV=(env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8)

PAT_TTL="${PAT_TTL:-10}"
PAT_LOOP_WAIT="${PAT_LOOP_WAIT:-2}"
PAT_RETRY_TIMEOUT="${PAT_RETRY_TIMEOUT:-3}"
PAT_SYNC="${PAT_SYNC:-false}"

PAT_SCOPE=""                    # the cluster's scope (one cluster per case)
PAT_DCS=""                      # etcd (v2 keyspace) or etcd3
PAT_LEADER=""                   # set by patroni_wait_leader
declare -a PAT_NODES=()         # members, in patroni_up order
declare -A PAT_PID=()           # node -> PID of its running Patroni ("" when stopped)

pat_conf() { echo "$VT_TMP/$1/patroni.yml"; }
pat_log() { echo "$VT_TMP/$1/patroni.log"; }

# patroni_leader_key: Patroni's leader key (default namespace /service/).
patroni_leader_key() { echo "/service/$PAT_SCOPE/leader"; }

# patroni_conf NODE: NODE's patroni.yml for the current scope and DCS.
patroni_conf() {
    local node="$1" ip
    ip="$(ip4_of "$node")"
    cat >"$(pat_conf "$node")" <<EOF
# written by netns-tests/patroni.sh for node $node
scope: $PAT_SCOPE
namespace: /service/
name: $node

restapi:
  listen: $ip:8008
  connect_address: $ip:8008

$PAT_DCS:
  hosts: $(etcd_hostports)
  protocol: http

bootstrap:
  dcs:
    ttl: $PAT_TTL
    loop_wait: $PAT_LOOP_WAIT
    retry_timeout: $PAT_RETRY_TIMEOUT
    maximum_lag_on_failover: 1048576
    synchronous_mode: $PAT_SYNC
    postgresql:
      use_pg_rewind: false
      parameters:
        max_connections: 40
        wal_level: replica
        hot_standby: 'on'
        wal_log_hints: 'on'
        max_wal_senders: 5
        max_replication_slots: 5
  initdb:
    - encoding: UTF8
    - locale: C

postgresql:
  listen: 0.0.0.0:5432
  connect_address: $ip:5432
  data_dir: $(pg_data "$node")
  bin_dir: $PG_BINDIR
  use_unix_socket: true
  pgpass: $(pg_sock "$node")/pgpass
  authentication:
    superuser:
      username: postgres
      password: vt-superuser
    replication:
      username: replicator
      password: vt-replicator
  parameters:
    unix_socket_directories: '$(pg_sock "$node")'
    shared_buffers: 16MB
    logging_collector: 'on'
    log_directory: '$(pg_dir "$node")/log'
    log_filename: postgres.log
    log_line_prefix: '%m [%p] '
    recovery_init_sync_method: syncfs
  # Test only: no passwords checked. A real cluster uses scram-sha-256.
  pg_hba:
    - local all all trust
    - local replication all trust
    - host all all 127.0.0.1/32 trust
    - host replication all 127.0.0.1/32 trust
    - host all all 192.0.2.0/24 trust
    - host replication all 192.0.2.0/24 trust

watchdog:
  mode: 'off'
EOF
    chmod 644 "$(pat_conf "$node")"
}

# patroni_dirs NODE: the node's pg directory, socket and log directories,
# owned by postgres (Patroni moves a failed data directory aside in pg/).
patroni_dirs() {
    local d
    d="$(pg_dir "$1")"
    install -d -m 755 -o postgres -g postgres "$d" "$d/run" "$d/log"
}

# patroni_start NODE [fresh]: start Patroni on NODE (config written by
# patroni_up). `fresh` deletes the data directory first: the way back after a
# hard kill without pg_rewind (Patroni clones from the leader again).
patroni_start() {
    local node="$1" pid
    [[ -z "${PAT_PID[$node]:-}" ]] || fail "patroni_start $node: its Patroni (pid ${PAT_PID[$node]}) is already running"
    if [[ "${2:-}" == fresh ]]; then
        pg_postmaster_alive "$node" && fail "patroni_start $node fresh: its postmaster is still running"
        rm -rf "$(pg_data "$node")"
    fi
    echo "=== patroni start $(date +%H:%M:%S.%3N)" >>"$(pat_log "$node")"
    # ip netns exec, setsid (not a group leader here: no job control), setpriv
    # and env all exec: $! is Patroni itself, the leader of its own session.
    (cd / && exec ip netns exec "$(ns "$node")" setsid setpriv --reuid=postgres --regid=postgres --init-groups \
        "${PAT_ENV[@]}" "$PATRONI_BIN" "$(pat_conf "$node")") </dev/null >>"$(pat_log "$node")" 2>&1 &
    pid=$!
    record_pid "$pid"
    PAT_PID[$node]="$pid"
    log "started Patroni on $node (pid $pid, scope $PAT_SCOPE, dcs $PAT_DCS)"
}

# patroni_up SCOPE DCS NODE...: a fresh Patroni cluster SCOPE on DCS (`etcd`:
# the v2 keyspace, what vip-manager 1.0.2 reads; `etcd3`: v3) with one member
# per NODE. The first node bootstraps and leads; the others start after it
# and stream from it. Returns once every replica streams.
patroni_up() {
    local scope="$1" dcs="$2" node first
    shift 2
    [[ "$dcs" == etcd || "$dcs" == etcd3 ]] || fail "patroni_up: DCS must be etcd or etcd3, not $dcs"
    (($# > 0)) || fail "patroni_up: no nodes"
    ((${#ETCD_NODES[@]} > 0)) || fail "patroni_up: no etcd cluster (etcd_up first)"
    PAT_SCOPE="$scope"
    PAT_DCS="$dcs"
    PAT_NODES=("$@")
    for node in "$@"; do
        patroni_dirs "$node"
        patroni_conf "$node"
        PG_NODES+=("$node")
    done
    first="$1"
    shift
    patroni_start "$first"
    patroni_wait_leader 60
    [[ "$PAT_LEADER" == "$first" ]] || fail "the first Patroni member leads" "$first" "$PAT_LEADER"
    for node in "$@"; do patroni_start "$node"; done
    for node in "$@"; do patroni_wait_streaming "$node" 60; done
    if [[ "$PAT_SYNC" == true ]] && (($# > 0)); then patroni_wait_sync "$1" 30; fi
}

# --------------------------------------------------------------------------
# Observations (from outside Patroni: etcd, the REST API, PostgreSQL)
# --------------------------------------------------------------------------

# patroni_leader: the member named by the leader key (the DCS's view), empty
# when there is none; fails when etcd does not answer.
patroni_leader() {
    if [[ "$PAT_DCS" == etcd ]]; then etcd_get_v2 "$(patroni_leader_key)"; else etcd_get "$(patroni_leader_key)"; fi
}

# patroni_rest_code NODE PATH: the HTTP status of GET NODE:8008/PATH (000
# when it does not answer within 2 s), asked from NODE's own namespace.
patroni_rest_code() {
    nsx "$1" curl -s -o /dev/null -m 2 -w '%{http_code}' "http://$(ip4_of "$1"):8008/$2" 2>/dev/null || true
}

# patroni_is_primary NODE: NODE's Patroni says it runs the primary.
patroni_is_primary() { [[ "$(patroni_rest_code "$1" primary)" == 200 ]]; }
# patroni_is_replica NODE: NODE's Patroni says it runs a replica.
patroni_is_replica() { [[ "$(patroni_rest_code "$1" replica)" == 200 ]]; }

# patroni_rest_primaries: the members whose REST API answers /primary with 200.
patroni_rest_primaries() {
    local node out=()
    for node in "${PAT_NODES[@]}"; do
        if patroni_is_primary "$node"; then out+=("$node"); fi
    done
    echo "${out[*]:-}"
}

# pg_writable NODE: NODE's PostgreSQL accepts writes (out of recovery, not
# read-only), asked through its socket.
pg_writable() {
    [[ "$(pg_sql "$1" "select not pg_is_in_recovery() and current_setting('transaction_read_only') = 'off'" 2>/dev/null)" == t ]]
}
# pg_is_replica NODE: NODE's PostgreSQL answers and is in recovery.
pg_is_replica() { pg_is_standby "$1"; }

# pg_postmaster_pid NODE: line 1 of NODE's postmaster.pid (empty without).
pg_postmaster_pid() { head -n 1 "$(pg_data "$1")/postmaster.pid" 2>/dev/null || true; }

# proc_live PID: PID runs and is not a zombie. A killed postmaster is not
# our child: it stays a zombie until PID 1 reaps it (seconds, on some hosts).
proc_live() {
    local st
    st="$(ps -o stat= -p "$1" 2>/dev/null)" || return 1
    [[ -n "$st" && "$st" != Z* ]]
}

# pg_postmaster_alive NODE: the postmaster named in postmaster.pid runs, in
# NODE's data directory (its cwd), so it is ours and not a reused PID.
pg_postmaster_alive() {
    local pid
    pid="$(pg_postmaster_pid "$1")"
    pid_alive "$pid" && [[ "$(readlink "/proc/$pid/cwd" 2>/dev/null)" == "$(pg_data "$1")" ]]
}

# pat_note_postmaster NODE: remember NODE's current postmaster (postgres.sh's
# cleanup and run.sh's leftover check know it).
pat_note_postmaster() {
    local pid
    pg_postmaster_alive "$1" || return 0
    pid="$(pg_postmaster_pid "$1")"
    [[ "${PG_PID[$1]:-}" == "$pid" ]] && return 0
    PG_PID[$1]="$pid"
    if [[ -n "${VT_PIDLOG:-}" ]]; then echo "$pid" >>"$VT_PIDLOG"; fi
}

# patroni_has_leader: the leader key names a member whose Patroni says
# primary and whose PostgreSQL takes writes. Sets PAT_LEADER.
patroni_has_leader() {
    local leader
    leader="$(patroni_leader 2>/dev/null)" || return 1
    [[ -n "$leader" ]] || return 1
    patroni_is_primary "$leader" && pg_writable "$leader" || return 1
    PAT_LEADER="$leader"
}

# patroni_wait_leader [TIMEOUT_S]: wait for patroni_has_leader; PAT_LEADER
# names the leader afterwards.
patroni_wait_leader() {
    wait_until "a Patroni leader (key, REST /primary and a writable PostgreSQL agree)" "${1:-30}" patroni_has_leader
    pat_note_postmaster "$PAT_LEADER"
    log "Patroni leader of $PAT_SCOPE: $PAT_LEADER"
}

# patroni_streams NODE: the current leader's PostgreSQL has a walsender
# streaming to NODE (Patroni sets application_name to the member name).
patroni_streams() {
    local leader="$1" node="$2"
    [[ "$(pg_sql "$leader" "select count(*) from pg_stat_replication where application_name = '$node' and state = 'streaming'" 2>/dev/null)" -ge 1 ]]
}

# patroni_wait_streaming NODE [TIMEOUT_S]: NODE runs a replica that streams
# from the leader (per the leader's pg_stat_replication) and its Patroni says
# so (REST /replica: a running replica).
patroni_wait_streaming() {
    local node="$1" leader
    leader="$(patroni_leader)" || fail "patroni_wait_streaming $node: etcd does not answer"
    [[ -n "$leader" ]] || fail "patroni_wait_streaming $node: no leader"
    wait_until "$node streams from the leader $leader" "${2:-30}" \
        eval "patroni_streams $leader $node && pg_is_replica $node && patroni_is_replica $node"
    pat_note_postmaster "$node"
}

# patroni_sync_standbys: the members the /sync key names as synchronous
# standbys (space separated; empty when none or not in synchronous_mode).
patroni_sync_standbys() {
    local key="/service/$PAT_SCOPE/sync" raw
    if [[ "$PAT_DCS" == etcd ]]; then raw="$(etcd_get_v2 "$key")"; else raw="$(etcd_get "$key")"; fi || return 1
    [[ -n "$raw" ]] || return 0
    "$PYTHON3" -c 'import json, sys; print(" ".join((json.loads(sys.argv[1]).get("sync_standby") or "").split(",")))' "$raw"
}

# patroni_is_sync NODE: NODE is the synchronous standby in Patroni's view
# (the /sync key) and in the leader's (pg_stat_replication). In
# synchronous_mode only such a member may be promoted when the leader dies.
patroni_is_sync() {
    local node="$1" leader
    [[ " $(patroni_sync_standbys 2>/dev/null) " == *" $node "* ]] || return 1
    leader="$(patroni_leader 2>/dev/null)" && [[ -n "$leader" ]] || return 1
    [[ "$(pg_sql "$leader" "select count(*) from pg_stat_replication where application_name = '$node' and state = 'streaming' and sync_state = 'sync'" 2>/dev/null)" -ge 1 ]]
}

# patroni_wait_sync NODE [TIMEOUT_S]: wait for patroni_is_sync NODE (after a
# restart or a switchover Patroni names the sync standby one loop later).
patroni_wait_sync() {
    wait_until "$1 is the synchronous standby (the /sync key and pg_stat_replication)" "${2:-30}" patroni_is_sync "$1"
}

# --------------------------------------------------------------------------
# Actions
# --------------------------------------------------------------------------

# patronictl_in NODE ARGS...: patronictl with NODE's config, in NODE's
# namespace, bounded; output appended to $VT_TMP/patronictl.log.
patronictl_in() {
    local node="$1"
    shift
    echo "=== $(date +%H:%M:%S.%3N) patronictl $*" >>"$VT_TMP/patronictl.log"
    (cd / && ip netns exec "$(ns "$node")" timeout -k 2 30 "${PAT_ENV[@]}" \
        "$PATRONICTL_BIN" -c "$(pat_conf "$node")" "$@") >>"$VT_TMP/patronictl.log" 2>&1
}

# patroni_switchover FROM TO: a planned switchover (patronictl, run on FROM)
# from the leader FROM to TO; returns when patronictl does.
patroni_switchover() {
    local from="$1" to="$2" rc=0
    patronictl_in "$from" switchover --leader "$from" --candidate "$to" --force || rc=$?
    ((rc == 0)) || fail "patronictl switchover $from -> $to" "exit status 0" "$rc: $(tail -n 5 "$VT_TMP/patronictl.log")"
    log "patronictl switchover $from -> $to returned"
}

# patroni_kill NODE: SIGKILL NODE's Patroni (its process group) and its
# PostgreSQL (the postmaster's own process group, walsenders included): a
# hard crash of the database node's software. The data directory stays.
patroni_kill() {
    local node="$1" pid="${PAT_PID[$1]:-}" pm
    pm="$(pg_postmaster_pid "$node")"
    patroni_kill_quiet "$node" || fail "Patroni or PostgreSQL on $node survived SIGKILL"
    log "killed Patroni (pid ${pid:-none}) and PostgreSQL (postmaster ${pm:-none}) on $node"
}

# patroni_kill_quiet NODE: patroni_kill without logging or failing (for the
# cleanup); 1 when something survived.
patroni_kill_quiet() {
    local node="$1" pid="${PAT_PID[$1]:-}" pm pgid
    if [[ -n "$pid" ]]; then
        # Patroni leads its own process group (setsid). disown: no "Killed"
        # job report from bash; its exit status is of no interest.
        disown "$pid" 2>/dev/null || true
        kill -KILL -- "-$pid" 2>/dev/null || true
        poll_until 5 0.02 not_ pid_alive "$pid" || return 1
        PAT_PID[$node]=""
    fi
    if pg_postmaster_alive "$node"; then
        pm="$(pg_postmaster_pid "$node")"
        pgid="$(ps -o pgid= -p "$pm" | tr -d ' ')"
        [[ -n "$pgid" ]] && kill -KILL -- "-$pgid" 2>/dev/null
        poll_until 5 0.02 not_ proc_live "$pm" || return 1
    fi
    return 0
}

# patroni_stop NODE: a clean stop of NODE's Patroni (SIGTERM: it stops its
# PostgreSQL too), bounded; then patroni_kill for anything left.
patroni_stop() {
    local node="$1" pid="${PAT_PID[$1]:-}"
    [[ -n "$pid" ]] || return 0
    stop_pid "$pid" TERM 20
    PAT_PID[$node]=""
    patroni_kill "$node"
}

# patroni_stop_pg NODE [MODE]: stop NODE's PostgreSQL under Patroni
# (pg_ctl stop -m MODE, fast by default); Patroni keeps running and reacts.
patroni_stop_pg() {
    pg_stop "$1" "${2:-fast}" || fail "pg_ctl stop on $1"
    log "stopped PostgreSQL on $1 (pg_ctl -m ${2:-fast}); its Patroni still runs"
}

# --------------------------------------------------------------------------
# Failure report and cleanup
# --------------------------------------------------------------------------

eval "vt_pg_diagnostics() $(declare -f diagnostics | tail -n +2)"
diagnostics() {
    local node
    vt_pg_diagnostics
    if [[ -n "$PAT_SCOPE" ]]; then
        echo "--- Patroni $PAT_SCOPE ($PAT_DCS): leader key = '$(patroni_leader 2>/dev/null || echo "etcd does not answer")'"
        for node in "${PAT_NODES[@]}"; do
            echo "--- $node: Patroni pid ${PAT_PID[$node]:-none}; tail of its log"
            tail -n 15 "$(pat_log "$node")" 2>/dev/null | sed 's/^/    /'
        done
        if [[ -s "$VT_TMP/patronictl.log" ]]; then
            echo "--- patronictl"
            tail -n 15 "$VT_TMP/patronictl.log" | sed 's/^/    /'
        fi
    fi
    echo "==================="
}

# patroni_cleanup: every Patroni and its postmaster, hard (the data is
# thrown away), before postgres.sh stops what is left of the clusters.
patroni_cleanup() {
    local node
    for node in "${PAT_NODES[@]}"; do patroni_kill_quiet "$node"; done
}
vt_chain_cleanup patroni_cleanup
