# shellcheck shell=bash disable=SC2034  # sourced: variables are used by the cases
# netns-tests/postgres.sh: PostgreSQL, an application stand-in, the shipped
# role scripts (scripts/roles/) and the shipped config pair
# (config/postgres-pair-{a,b}.toml) inside lib.sh's node namespaces, for the
# PostgreSQL cases (cases/4x-*.sh). Sourced after lib.sh:
#
#   source "$(dirname "$0")/../lib.sh"
#   source "$(dirname "$0")/../postgres.sh"
#
# Everything lives under the case's $VT_TMP (removed at exit):
#
#   roles/               the shipped role scripts, root-owned, mode 0755: what
#                        /usr/lib/vipd/ is on a real node (script_security)
#   NODE/pg/data         the node's cluster (owned by postgres, mode 0700)
#   NODE/pg/run          its unix socket directory (owned by postgres)
#   NODE/pg/log          its server log (postgres.log)
#   NODE/app/            the app stand-in: `healthy` flag file, `hang` flag, app.log
#   NODE/roles.conf      the role scripts' settings (VIPD_ROLES_CONF)
#   NODE/vipd.toml       the shipped config of the pair with the test's paths
#   client/writes.log    the writer: "N START END ok|fail" per attempt
#
# Each cluster listens on every address of its node's namespace
# (listen_addresses = '*': the node's address and, when it holds it, the VIP;
# nothing outside the namespaces we created) and on its own socket directory.
# PostgreSQL runs as user postgres (runuser); the clusters are stopped, and
# every process left in our namespaces is killed, on every exit path, before
# lib.sh's own cleanup removes the namespaces.

command -v runuser >/dev/null || fail "runuser is not installed (util-linux)"
PG_BINDIR="$(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V | tail -n 1)"
[[ -n "$PG_BINDIR" && -x "$PG_BINDIR/initdb" ]] ||
    fail "PostgreSQL is not installed (apt-get install -y postgresql)"
id postgres >/dev/null 2>&1 || fail "there is no postgres user (apt-get install -y postgresql)"
PYTHON3="$(command -v python3 || true)"
[[ -n "$PYTHON3" ]] || fail "python3 is not installed (the app stand-in needs it)"
command -v curl >/dev/null || fail "curl is not installed (apt-get install -y curl)"

VIP_APP="192.0.2.51"          # the app instance's address in the shipped pair
ROLES_DIR="$VT_TMP/roles"
PG_ADVERT_INTERVAL="${PG_ADVERT_INTERVAL:-500ms}"

declare -a PG_NODES=()        # nodes whose cluster we created
declare -A PG_PID=()          # node -> postmaster PID (for the report and the sweep)
declare -A APP_PID=()         # node -> the app stand-in's PID
VT_WRITER_PID=""

pg_dir() { echo "$VT_TMP/$1/pg"; }
pg_data() { echo "$VT_TMP/$1/pg/data"; }
pg_sock() { echo "$VT_TMP/$1/pg/run"; }

# as_postgres NODE CMD...: CMD as user postgres inside NODE's namespace.
as_postgres() {
    local node="$1"
    shift
    (cd / && ip netns exec "$(ns "$node")" runuser -u postgres -- "$@")
}

# pg_sql NODE SQL: one unaligned result, through NODE's own socket.
pg_sql() {
    as_postgres "$1" env PGCONNECT_TIMEOUT=2 "$PG_BINDIR/psql" -X -A -t -q -v ON_ERROR_STOP=1 \
        -h "$(pg_sock "$1")" -U postgres -d postgres -c "$2"
}

# --------------------------------------------------------------------------
# Clusters
# --------------------------------------------------------------------------

# pg_dirs NODE: the node's data, socket and log directories, owned by postgres.
pg_dirs() {
    local d
    d="$(pg_dir "$1")"
    install -d -m 755 "$d"
    install -d -m 700 -o postgres -g postgres "$d/data"
    install -d -m 755 -o postgres -g postgres "$d/run" "$d/log"
}

# pg_settings NODE: the settings a node's cluster needs on top of the
# defaults, appended to postgresql.conf (a replica's copy of the primary's
# file ends with the primary's lines: the later ones win).
pg_settings() {
    cat <<EOF

# --- netns-tests/postgres.sh, node $1
listen_addresses = '*'
port = 5432
unix_socket_directories = '$(pg_sock "$1")'
cluster_name = '$1'
max_connections = 40
shared_buffers = 16MB
wal_level = replica
max_wal_senders = 4
wal_log_hints = on
hot_standby = on
synchronous_standby_names = '*'
synchronous_commit = on
log_line_prefix = '%m [%p] '
recovery_init_sync_method = syncfs   # a fresh replica starts without fsyncing every file
EOF
}

# pg_init_primary NODE: initdb, the settings above, trust for the test
# subnet, and start.
pg_init_primary() {
    local node="$1" data
    data="$(pg_data "$node")"
    pg_dirs "$node"
    PG_NODES+=("$node")
    as_postgres "$node" "$PG_BINDIR/initdb" -D "$data" -U postgres -A trust -N --no-locale -E UTF8 \
        >"$(pg_dir "$node")/log/initdb.log" 2>&1 ||
        fail "initdb on $node" "success" "$(tail -n 5 "$(pg_dir "$node")/log/initdb.log")"
    pg_settings "$node" >>"$data/postgresql.conf"
    # Test only: no passwords. A real pair uses scram-sha-256 (README).
    cat >"$data/pg_hba.conf" <<EOF
local all all trust
local replication all trust
host all all 127.0.0.1/32 trust
host all all 192.0.2.0/24 trust
host replication all 192.0.2.0/24 trust
EOF
    chown postgres:postgres "$data/pg_hba.conf"
    pg_start "$node"
    ok "$node: PostgreSQL primary initialised and running (pid ${PG_PID[$node]})"
}

# pg_init_replica NODE FROM: pg_basebackup -R from FROM's address, its own
# socket directory, and start: a streaming standby of FROM.
pg_init_replica() {
    local node="$1" from="$2" data
    data="$(pg_data "$node")"
    pg_dirs "$node"
    PG_NODES+=("$node")
    as_postgres "$node" "$PG_BINDIR/pg_basebackup" -h "$(ip4_of "$from")" -U postgres -D "$data" \
        -R -X stream -c fast -N >"$(pg_dir "$node")/log/basebackup.log" 2>&1 ||
        fail "pg_basebackup of $from on $node" "success" "$(tail -n 5 "$(pg_dir "$node")/log/basebackup.log")"
    [[ -f "$data/standby.signal" ]] || fail "pg_basebackup -R wrote no standby.signal on $node"
    pg_settings "$node" >>"$data/postgresql.conf"
    pg_start "$node"
    ok "$node: PostgreSQL standby of $from (pg_basebackup -R) running (pid ${PG_PID[$node]})"
}

# pg_start NODE: start NODE's cluster in its namespace and wait until it
# accepts connections (pg_ctl -w, bounded).
pg_start() {
    local node="$1" data
    data="$(pg_data "$node")"
    as_postgres "$node" "$PG_BINDIR/pg_ctl" -D "$data" -l "$(pg_dir "$node")/log/postgres.log" \
        -w -t 60 start >/dev/null 2>&1 ||
        fail "PostgreSQL start on $node" "running" "$(tail -n 10 "$(pg_dir "$node")/log/postgres.log")"
    PG_PID[$node]="$(head -n 1 "$data/postmaster.pid")"
    if [[ -n "${VT_PIDLOG:-}" ]]; then echo "${PG_PID[$node]}" >>"$VT_PIDLOG"; fi
}

# pg_stop NODE [MODE]: pg_ctl stop (fast by default), bounded. Not through
# the namespace: pg_ctl only signals the postmaster named in postmaster.pid.
pg_stop() {
    local node="$1" mode="${2:-fast}" data
    data="$(pg_data "$node")"
    [[ -f "$data/postmaster.pid" ]] || return 0
    (cd / && runuser -u postgres -- "$PG_BINDIR/pg_ctl" -D "$data" -m "$mode" -w -t 30 stop) >/dev/null 2>&1
}

# pg_running NODE: the postmaster of NODE's cluster is alive.
pg_running() {
    [[ -d "$(pg_data "$1")" ]] &&
        (cd / && runuser -u postgres -- "$PG_BINDIR/pg_ctl" -D "$(pg_data "$1")" status) >/dev/null 2>&1
}

# pg_is_primary / pg_is_standby NODE: accepts connections, out of / in recovery.
pg_is_primary() { [[ "$(pg_sql "$1" 'select pg_is_in_recovery()' 2>/dev/null)" == f ]]; }
pg_is_standby() { [[ "$(pg_sql "$1" 'select pg_is_in_recovery()' 2>/dev/null)" == t ]]; }

# pg_has_sync_standby NODE: NODE's primary has a standby streaming in sync mode.
pg_has_sync_standby() {
    [[ "$(pg_sql "$1" "select count(*) from pg_stat_replication where state = 'streaming' and sync_state = 'sync'" 2>/dev/null)" -ge 1 ]]
}

# pg_setting NODE NAME: the running value of a setting.
pg_setting() { pg_sql "$1" "select current_setting('$2')"; }

# pg_pair_up: n1 runs the primary, n2 a synchronous streaming standby of it.
pg_pair_up() {
    pg_init_primary n1
    pg_init_replica n2 n1
    wait_until "n2 streams from n1 as its synchronous standby" 30 pg_has_sync_standby n1
    check "n2 is in recovery (a standby)" pg_is_standby n2
}

# --------------------------------------------------------------------------
# The application stand-in: answers GET /health on 127.0.0.1:8080 in its
# node's namespace with 200 while NODE/app/healthy exists (503 otherwise);
# while NODE/app/hang exists it accepts the request and never answers.
# --------------------------------------------------------------------------

app_write() {
    [[ -f "$VT_TMP/app.py" ]] && return 0
    cat >"$VT_TMP/app.py" <<'PY'
import http.server, os, sys, time

state = sys.argv[1]

class Health(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path != "/health":
            self.send_error(404)
            return
        while os.path.exists(os.path.join(state, "hang")):
            time.sleep(0.05)
        healthy = os.path.exists(os.path.join(state, "healthy"))
        body = b"ok\n" if healthy else b"unhealthy\n"
        self.send_response(200 if healthy else 503)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, fmt, *args):
        with open(os.path.join(state, "app.log"), "a") as log:
            log.write("%.3f %s\n" % (time.time(), fmt % args))

http.server.ThreadingHTTPServer(("127.0.0.1", 8080), Health).serve_forever()
PY
}

app_health_code() {
    nsx "$1" curl -s -o /dev/null -m 2 -w '%{http_code}' http://127.0.0.1:8080/health 2>/dev/null || true
}
app_healthy() { [[ "$(app_health_code "$1")" == 200 ]]; }

# app_start NODE: start the stand-in in NODE's namespace (healthy).
app_start() {
    local node="$1" pid
    app_write
    mkdir -p "$VT_TMP/$node/app"
    touch "$VT_TMP/$node/app/healthy"
    ip netns exec "$(ns "$node")" "$PYTHON3" "$VT_TMP/app.py" "$VT_TMP/$node/app" \
        </dev/null >>"$VT_TMP/$node/app/app.log" 2>&1 &
    pid=$!
    record_pid "$pid"
    APP_PID[$node]="$pid"
    wait_until "$node: app stand-in answers /health with 200" 10 app_healthy "$node"
}

app_hang() { touch "$VT_TMP/$1/app/hang"; }
app_unhang() { rm -f "$VT_TMP/$1/app/hang"; }

# --------------------------------------------------------------------------
# The shipped role scripts and config pair
# --------------------------------------------------------------------------

# roles_install: scripts/roles/* into $ROLES_DIR as root would install them
# into /usr/lib/vipd/: root-owned, not writable by anyone else, in root-owned
# directories ($VT_TMP is 0755 root, /tmp is sticky).
roles_install() {
    local f
    install -d -m 755 "$ROLES_DIR"
    for f in "$VT_REPO"/scripts/roles/*.sh; do
        case "$(basename "$f")" in
            roles-common.sh) install -m 644 "$f" "$ROLES_DIR/" ;;
            *) install -m 755 "$f" "$ROLES_DIR/" ;;
        esac
    done
}

# roles_conf NODE [KEY=VALUE ...]: NODE's roles.conf (the file named by
# VIPD_ROLES_CONF) for its cluster, then any extra lines.
roles_conf() {
    local node="$1" kv
    shift
    {
        echo "# roles.conf for $node, written by netns-tests/postgres.sh"
        echo "PG_OS_USER=postgres"
        echo "PGHOST=$(pg_sock "$node")"
        echo "PGPORT=5432"
        echo "PGDATA=$(pg_data "$node")"
        echo "PG_BINDIR=$PG_BINDIR"
        echo "FENCE_MODE=stop"
        for kv in "$@"; do echo "$kv"; done
    } >"$VT_TMP/$node/roles.conf"
    chmod 644 "$VT_TMP/$node/roles.conf"
}

# pair_conf NODE a|b [TOML LINE ...]: NODE's vipd.toml: the shipped
# config/$PAIR_CONFIG-X.toml (postgres-pair by default; etcd-gate for the
# pair gated by etcd) with only what a namespace test must change:
# the scripts' directory (/usr/lib/vipd/ -> $ROLES_DIR/), a control socket of
# its own, and the advert interval ($PG_ADVERT_INTERVAL on every instance).
# Extra lines go at the end of [global]. Validated with `vipd check`.
PAIR_CONFIG="${PAIR_CONFIG:-postgres-pair}"
pair_conf() {
    local node="$1" which="$2" conf="$VT_TMP/$1/vipd.toml" extra=""
    shift 2
    local line
    for line in "$@"; do extra+="$line"$'\n'; done
    mkdir -p "$VT_TMP/$node"
    {
        echo "# netns-tests: config/$PAIR_CONFIG-$which.toml for $node with the test's paths"
        sed -e "s#/usr/lib/vipd/#$ROLES_DIR/#g" -e '/^advert_interval *=/d' \
            "$VT_REPO/config/$PAIR_CONFIG-$which.toml" |
            awk -v sock="$VT_TMP/$node/vipd.sock" -v adv="$PG_ADVERT_INTERVAL" -v extra="$extra" '
                { print }
                /^\[global\]/ { printf "control_socket = \"%s\"\n%s", sock, extra }
                /^\[instances\./ { printf "advert_interval = \"%s\"\n", adv }'
    } >"$conf"
    "$VIPD_BIN" check --config "$conf" >"$VT_TMP/$node/vipd-check.out" 2>&1 ||
        fail "vipd check of $node's config" "valid" "$(cat "$VT_TMP/$node/vipd-check.out")"
}

# pair_start_vipd NODE: start vipd on NODE with its pair config, its hooks
# reading NODE's roles.conf.
pair_start_vipd() {
    export VIPD_ROLES_CONF="$VT_TMP/$1/roles.conf"
    start_vipd "$1"
    unset VIPD_ROLES_CONF
}

# holds_pair NODE: NODE is the only holder of both of the pair's addresses.
holds_pair() { only_holder "$1" "$VIP4" && only_holder "$1" "$VIP_APP"; }

# pg_pair_vipd_up [N1-ROLES-LINE ...]: roles installed, apps running on both
# nodes, vipd on n1 (shipped pair a) until it holds both addresses and its
# activate-primary hook found a writable primary, then vipd on n2 (pair b).
# n1 starts first: with preempt = false the first node up keeps the
# addresses. The arguments go into n1's roles.conf; PAIR_N1_TOML lines into
# n1's [global].
declare -a PAIR_N1_TOML=()
pg_pair_vipd_up() {
    roles_install
    app_start n1
    app_start n2
    roles_conf n1 "$@"
    roles_conf n2
    pair_conf n1 a ${PAIR_N1_TOML[@]+"${PAIR_N1_TOML[@]}"}
    pair_conf n2 b
    pair_start_vipd n1
    wait_until "n1 holds $VIP4 and $VIP_APP" 10 holds_pair n1
    wait_until "n1's activate-primary hook found a writable primary" 20 \
        log_has n1 "PostgreSQL is primary and accepts writes"
    pair_start_vipd n2
    wait_until "n2's vipd is a backup (db and app)" 10 eval \
        'log_has n2 "instance db: .*-> BACKUP" && log_has n2 "instance app: .*-> BACKUP"'
}

# --------------------------------------------------------------------------
# The client's writer: one psql per row through the VIP, each bounded
# (connect timeout 1 s, whole attempt 3 s), logging "N START END ok|fail".
# --------------------------------------------------------------------------

WRITES="$VT_TMP/client/writes.log"

writer_start() {
    mkdir -p "$VT_TMP/client"
    : >"$WRITES"
    cat >"$VT_TMP/client/writer.sh" <<EOF
#!/usr/bin/env bash
child=""
trap '[[ -n "\$child" ]] && kill -TERM "\$child" 2>/dev/null; exit 0' TERM INT
n=0
while true; do
    n=\$((n + 1))
    start=\${EPOCHREALTIME/,/.}
    PGCONNECT_TIMEOUT=1 timeout -k 0.5 3 "$PG_BINDIR/psql" -X -q -h "$VIP4" -U postgres -d postgres \\
        -v ON_ERROR_STOP=1 -c "insert into writes (n) values (\$n)" >/dev/null 2>>"$WRITES.err" &
    child=\$!
    if wait "\$child"; then r=ok; else r=fail; fi
    child=""
    echo "\$n \$start \${EPOCHREALTIME/,/.} \$r" >>"$WRITES"
    # Pacing after a failure (the load's shape, not a synchronisation).
    [[ \$r == ok ]] || sleep 0.05
done
EOF
    ip netns exec "$(ns client)" bash "$VT_TMP/client/writer.sh" </dev/null >/dev/null 2>&1 &
    VT_WRITER_PID=$!
    record_pid "$VT_WRITER_PID"
    log "client writer started (pid $VT_WRITER_PID): one INSERT per connection to $VIP4:5432"
}

writer_stop() {
    [[ -n "$VT_WRITER_PID" ]] || return 0
    stop_pid "$VT_WRITER_PID" TERM 5
    VT_WRITER_PID=""
}

# writes_ok [SINCE]: successful writes that started at or after SINCE.
writes_ok() { awk -v s="${1:-0}" '$4 == "ok" && $2 >= s { n++ } END { print n + 0 }' "$WRITES"; }
writes_fail() { awk -v s="${1:-0}" '$4 == "fail" && $2 >= s { n++ } END { print n + 0 }' "$WRITES"; }
# first_ok_end SINCE: the end time of the first successful write started at or after SINCE.
first_ok_end() { awk -v s="$1" '$4 == "ok" && $2 >= s { print $3; exit }' "$WRITES"; }
# committed_before T: rows the client saw committed (the INSERT returned) before T.
committed_before() { awk -v t="$1" '$4 == "ok" && $3 < t { n++ } END { print n + 0 }' "$WRITES"; }

# writes_table NODE: the table the writer inserts into, on NODE's primary.
writes_table() { pg_sql "$1" 'create table writes (n bigint primary key, at timestamptz not null default now())' >/dev/null; }

# report_outage T0 WHAT: log the measured write outage from T0 (a value of
# `now`) to the end of the first successful write through the VIP started
# after it. Sets OUTAGE_MS.
OUTAGE_MS=""
report_outage() {
    local t0="$1" what="$2" t1
    t1="$(first_ok_end "$t0")"
    [[ -n "$t1" ]] || fail "a successful write after $what" "one" "none"
    OUTAGE_MS="$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%d", (b - a) * 1000 }')"
    log "MEASURED WRITE OUTAGE ($what): ${OUTAGE_MS} ms from the failure to the first successful write through $VIP4 ($(writes_fail "$t0") failed attempts meanwhile)"
}

# verify_no_lost_writes NODE: every row the client saw committed is in
# NODE's table (the writer must be stopped).
verify_no_lost_writes() {
    local node="$1" seen have missing
    seen="$VT_TMP/client/seen.txt"
    have="$VT_TMP/client/have-$node.txt"
    # comm needs both lists in its own (lexical) order, not numeric order.
    awk '$4 == "ok" { print $1 }' "$WRITES" | LC_ALL=C sort >"$seen"
    pg_sql "$node" 'select n from writes order by n' | LC_ALL=C sort >"$have" ||
        fail "reading the rows on $node"
    missing="$(LC_ALL=C comm -23 "$seen" "$have" | head -n 20 | paste -sd' ' -)"
    [[ -z "$missing" ]] || fail "rows the client saw committed are missing on $node" "none missing" "$missing"
    ok "every row the client saw committed ($(wc -l <"$seen")) is on $node ($(wc -l <"$have") rows there)"
}

# writes_gap_between SINCE UNTIL: the longest time between two successful
# writes (by their end) that ended in [SINCE, UNTIL), counting from the last
# one before SINCE, in ms: the outage the client saw in that window.
writes_gap_between() {
    awk -v s="$1" -v u="$2" '$4 != "ok" { next }
        $3 < s { last = $3; next }
        $3 >= u { exit }
        { if (last) { g = $3 - last; if (g > m) m = g } last = $3 }
        END { printf "%d", m * 1000 }' "$WRITES"
}

# --------------------------------------------------------------------------
# Primaries that could acknowledge a commit, polled through each node's
# socket (from outside vipd): "<epoch seconds> <nodes or ->" per change in
# $PRIMARIES.
# --------------------------------------------------------------------------

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
PRIMARIES_PID=""
# primaries_watch_start [NODE...]: poll the nodes (default n1 n2) every
# 10 ms from one process that keeps a connection open to each server's
# socket (a psql per node per sample takes ~100 ms on a loaded machine):
# Debian's python3 with psycopg2 (python3-psycopg2, a dependency of patroni).
# The query is acknowledges_commits' one; a server that refuses or drops the
# connection cannot acknowledge. "SAMPLES LONGEST_MS" (the longest time
# between two samples) go to $PRIMARIES.stats.
PG_WATCH_PYTHON=/usr/bin/python3
primaries_watch_start() {
    local nodes=("$@") node specs=()
    ((${#nodes[@]})) || nodes=(n1 n2)
    "$PG_WATCH_PYTHON" -c 'import psycopg2' 2>/dev/null ||
        fail "$PG_WATCH_PYTHON cannot import psycopg2 (apt-get install -y python3-psycopg2)"
    for node in "${nodes[@]}"; do specs+=("$node=$(pg_sock "$node")"); done
    : >"$PRIMARIES"
    cat >"$VT_TMP/primaries.py" <<'PY'
# netns-tests/postgres.sh's primary watcher: argv INTERVAL LOG STATS NODE=SOCKET-DIR...
import signal, sys, time
import psycopg2

QUERY = """select not pg_is_in_recovery()
    and current_setting('default_transaction_read_only') = 'off'
    and (current_setting('synchronous_standby_names') = ''
         or exists (select 1 from pg_stat_replication where sync_state in ('sync', 'quorum')))"""
interval = float(sys.argv[1])
log_path, stats_path = sys.argv[2], sys.argv[3]
nodes = [spec.split("=", 1) for spec in sys.argv[4:]]
conns = {}

def acknowledges(name, sockdir):
    conn = conns.get(name)
    try:
        if conn is None:
            conn = psycopg2.connect(host=sockdir, port=5432, user="postgres", dbname="postgres",
                                    connect_timeout=1)
            conn.autocommit = True
            conns[name] = conn
        with conn.cursor() as cur:
            cur.execute(QUERY)
            return cur.fetchone()[0] is True
    except psycopg2.Error:
        conns.pop(name, None)
        if conn is not None:
            conn.close()
        return False

running = True
def stop(*_):
    global running
    running = False
signal.signal(signal.SIGTERM, stop)
signal.signal(signal.SIGINT, stop)

def write_stats():
    with open(stats_path, "w") as stats:
        stats.write("%d %.1f\n" % (samples, longest * 1000))

samples, longest, prev, last = 0, 0.0, None, None
with open(log_path, "a", buffering=1) as log:
    while running:
        t = time.time()
        now_primary = " ".join(name for name, sockdir in nodes if acknowledges(name, sockdir)) or "-"
        if now_primary != last:
            log.write("%.6f %s\n" % (t, now_primary))
            last = now_primary
        if prev is not None:
            longest = max(longest, t - prev)
        prev = t
        samples += 1
        if samples % 100 == 0:
            write_stats()
        time.sleep(interval)
write_stats()
PY
    "$PG_WATCH_PYTHON" "$VT_TMP/primaries.py" 0.01 "$PRIMARIES" "$PRIMARIES.stats" "${specs[@]}" \
        </dev/null 2>"$PRIMARIES.err" &
    PRIMARIES_PID=$!
    record_pid "$PRIMARIES_PID"
    poll_until 5 0.02 test -s "$PRIMARIES" ||
        fail "primary watcher did not start" "a first sample" "$(cat "$PRIMARIES.err")"
}

primaries_watch_stop() {
    [[ -n "$PRIMARIES_PID" ]] || return 0
    stop_pid "$PRIMARIES_PID" TERM 2
    PRIMARIES_PID=""
}

# primaries_stats: "SAMPLES LONGEST_MS" of the watcher.
primaries_stats() { cat "$PRIMARIES.stats" 2>/dev/null; }

# primaries_max_between SINCE UNTIL: the most primaries able to acknowledge
# at once in [SINCE, UNTIL) (the set in force at SINCE included).
primaries_max_between() {
    awk -v s="$1" -v u="$2" '
        { n = ($2 == "-") ? 0 : NF - 1 }
        $1 < s { at = n; next }
        $1 >= u { exit }
        { if (n > m) m = n }
        END { if (at > m) m = at; print m + 0 }' "$PRIMARIES"
}

# primaries_changes: the sequence of sets, e.g. "n1 -> - -> n2".
primaries_changes() {
    awk '{ $1 = ""; sub(/^ /, ""); gsub(/ /, "+"); printf "%s%s", (NR > 1 ? " -> " : ""), $0 } END { print "" }' "$PRIMARIES"
}

# pg_rebuild_standby NODE FROM: NODE's old primary (fenced: stopped) is
# rebuilt as a synchronous standby of FROM with a fresh pg_basebackup, and
# FROM waits for a synchronous standby again (the role script turned that
# off when it promoted FROM; README, "rebuild a standby").
pg_rebuild_standby() {
    local node="$1" from="$2" n
    wait_until "$node's fenced PostgreSQL is down" 30 not_ pg_running "$node"
    rm -rf "$(pg_data "$node")"
    # pg_init_replica lists NODE again.
    local kept=()
    for n in "${PG_NODES[@]}"; do [[ "$n" == "$node" ]] || kept+=("$n"); done
    PG_NODES=(${kept[@]+"${kept[@]}"})
    pg_init_replica "$node" "$from"
    pg_sql "$from" "alter system set synchronous_standby_names = '*'" >/dev/null
    pg_sql "$from" "select pg_reload_conf()" >/dev/null
    wait_until "$node streams from $from as its synchronous standby" 30 pg_has_sync_standby "$from"
}

# --------------------------------------------------------------------------
# Failure report and cleanup
# --------------------------------------------------------------------------

# lib.sh's diagnostics, followed by ours.
eval "vt_lib_diagnostics() $(declare -f diagnostics | tail -n +2)"
diagnostics() {
    local node
    vt_lib_diagnostics
    for node in "${PG_NODES[@]}"; do
        echo "--- $node: PostgreSQL $(pg_running "$node" && echo running || echo stopped); tail of its log"
        tail -n 15 "$(pg_dir "$node")/log/postgres.log" 2>/dev/null | sed 's/^/    /'
    done
    if [[ -s "$WRITES" ]]; then
        echo "--- client writes: $(writes_ok 0) ok, $(writes_fail 0) failed; last attempts"
        tail -n 5 "$WRITES" | sed 's/^/    /'
        tail -n 5 "$WRITES.err" 2>/dev/null | sed 's/^/    /'
    fi
    echo "==================="
}

# ns_sweep: kill whatever is still running in the namespaces we created
# (orphaned hook or check children): all of it was started by this case.
ns_sweep() {
    local name pid
    for name in "${VT_NAMESPACES[@]}"; do
        for pid in $(ip netns pids "$name" 2>/dev/null); do
            kill -KILL "$pid" 2>/dev/null || true
        done
    done
}

pg_cleanup() {
    local rc=$? node pid
    set +e
    writer_stop
    # vipd first (SIGTERM: it runs notify_stop, the shipped fence, bounded),
    # then the clusters, then anything left in our namespaces.
    for node in "${!VIPD_PID[@]}"; do stop_pid "${VIPD_PID[$node]}" TERM 5; done
    for node in "${!APP_PID[@]}"; do stop_pid "${APP_PID[$node]}" TERM 3; done
    for node in "${PG_NODES[@]}"; do
        pg_stop "$node" immediate
        pid="${PG_PID[$node]:-}"
        # Still there (a stopped, SIGSTOPped or wedged postmaster): ours if
        # its command line names our data directory.
        if pid_alive "$pid" && grep -qas "$(pg_data "$node")" "/proc/$pid/cmdline"; then
            kill -CONT "$pid" 2>/dev/null
            kill -KILL "$pid" 2>/dev/null
        fi
    done
    ns_sweep
    (exit "$rc")
    vt_cleanup
}
trap pg_cleanup EXIT
