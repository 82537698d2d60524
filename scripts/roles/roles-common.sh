# shellcheck shell=bash
# Shared settings and helpers for vipd's shipped role scripts. Sourced, not run.
#
# Settings come from the environment, or from the file named by
# VIPD_ROLES_CONF (default /etc/vipd/roles.conf), a shell fragment of
# VAR=value lines. Environment variables win over the file.

_roles_conf=${VIPD_ROLES_CONF:-/etc/vipd/roles.conf}
if [ -r "$_roles_conf" ] && [ "$(id -u)" -eq 0 ]; then
    # The file's commands (APP_START_CMD, ...) run as root: like vipd's
    # script_security, refuse a file that anyone but root could change.
    _conf_meta=$(stat -L -c '%u %a' "$_roles_conf")
    _conf_mode=$((8#${_conf_meta#* }))
    if [ "${_conf_meta%% *}" != 0 ] || [ $((_conf_mode & 8#022)) -ne 0 ]; then
        echo "vipd-roles[$(basename "$0")]: refusing $_roles_conf: it must be owned by root and not group- or world-writable" >&2
        exit 1
    fi
fi
if [ -r "$_roles_conf" ]; then
    # Only pick up variables the environment did not set.
    while IFS='=' read -r _key _value; do
        case "$_key" in ''|\#*) continue ;; esac
        _key=${_key//[[:space:]]/}
        [[ $_key =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] || continue
        if [ -z "${!_key+x}" ]; then
            _value=${_value#\"}; _value=${_value%\"}
            export "$_key=$_value"
        fi
    done < "$_roles_conf"
fi

: "${PG_OS_USER:=postgres}"                 # the OS user that owns the cluster
: "${PGHOST:=/var/run/postgresql}"          # socket directory or host
: "${PGPORT:=5432}"
: "${PGUSER:=postgres}"
: "${PGDATABASE:=postgres}"
: "${PG_BINDIR:=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)}"
: "${PGDATA:=}"                             # needed only for FENCE_MODE=stop
: "${PG_PROMOTE_TIMEOUT:=30}"               # seconds to wait for a promotion
: "${FENCE_MODE:=stop}"                     # stop | readonly
: "${PG_SYNC_AFTER_PROMOTE:=off}"           # off | keep: synchronous_standby_names on a promoted standby
: "${PG_MANAGED_BY:=vipd}"                   # vipd | patroni: who promotes and demotes PostgreSQL
: "${APP_START_CMD:=}"                      # e.g. "systemctl start myapp"
: "${APP_STOP_CMD:=}"                       # e.g. "systemctl stop myapp"
: "${APP_HEALTH_URL:=http://127.0.0.1:8080/health}"
: "${CHECK_TIMEOUT:=2}"
export PGHOST PGPORT PGUSER PGDATABASE

log() { echo "vipd-roles[$(basename "$0")]: $*" >&2; }

# Runs a command as the cluster's OS user (directly if we already are it).
as_pg() {
    if [ "$(id -un)" = "$PG_OS_USER" ]; then
        "$@"
    elif [ "$(id -u)" -eq 0 ]; then
        runuser -u "$PG_OS_USER" -- env PGHOST="$PGHOST" PGPORT="$PGPORT" PGUSER="$PGUSER" PGDATABASE="$PGDATABASE" "$@"
    else
        "$@"
    fi
}

# psql returning one unaligned value, with a bounded connect time.
pg_query() {
    as_pg env PGCONNECT_TIMEOUT="$CHECK_TIMEOUT" "$PG_BINDIR/psql" -X -A -t -q -v ON_ERROR_STOP=1 -c "$1"
}

pg_in_recovery() {
    [ "$(pg_query 'select pg_is_in_recovery()')" = "t" ]
}

# A primary that accepts writes: not in recovery and not fenced read-only.
pg_writable() {
    [ "$(pg_query "select not pg_is_in_recovery() and current_setting('default_transaction_read_only') = 'off'")" = "t" ] &&
        pg_query 'select txid_current()' >/dev/null
}

run_cmd() {
    [ -n "$1" ] || return 0
    log "running: $1"
    bash -c "$1"
}
