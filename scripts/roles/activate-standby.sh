#!/usr/bin/env bash
# vipd notify_backup / notify_fault / notify_stop hook: this node does not
# hold the VIP.
#  1. Stop the app.
#  2. If this node just gave up the VIP (VIPD_PREV_STATE=MASTER) and the local
#     PostgreSQL is a primary, fence it so it cannot take writes that the new
#     primary would never see: FENCE_MODE=stop stops it, FENCE_MODE=readonly
#     makes it refuse writes and ends open sessions.
#  3. Log how to bring it back as a standby of the new primary.
# A standby is left running: it is what we want on a backup node. A primary
# is not fenced when this node did not hold the VIP (vipd starting up enters
# BACKUP first: fencing then would stop the primary it is about to serve).
# Run without VIPD_PREV_STATE (not by vipd), it fences as if it had held it.
# With PG_MANAGED_BY=patroni, Patroni demotes PostgreSQL: only the app stops.
# Idempotent: running it twice is harmless.
set -u
. "$(dirname "$(readlink -f "$0")")/roles-common.sh"

run_cmd "$APP_STOP_CMD" || log "app stop failed (continuing to fence)"

if [ "$PG_MANAGED_BY" = patroni ]; then
    log "PostgreSQL is managed by Patroni: it demotes PostgreSQL itself; nothing to fence"
    exit 0
fi

if ! recovery=$(pg_query 'select pg_is_in_recovery()' 2>/dev/null); then
    log "PostgreSQL is not running here: nothing to fence"
    exit 0
fi
if [ "$recovery" = "t" ]; then
    log "PostgreSQL is a standby: nothing to fence"
    exit 0
fi
case "${VIPD_PREV_STATE-MASTER}" in
    MASTER) ;;
    *)
        log "PostgreSQL is a primary, but this node did not hold the VIP (${VIPD_PREV_STATE} -> ${VIPD_STATE:-?}): not fencing"
        exit 0
        ;;
esac

case "$FENCE_MODE" in
    readonly)
        log "fencing the local primary: read-only, ending client sessions"
        pg_query 'alter system set default_transaction_read_only = on' >/dev/null
        pg_query 'select pg_reload_conf()' >/dev/null
        pg_query "select count(pg_terminate_backend(pid)) from pg_stat_activity
                  where backend_type = 'client backend' and pid <> pg_backend_pid()" >/dev/null
        ;;
    *)
        if [ -z "$PGDATA" ]; then
            log "FENCE_MODE=stop needs PGDATA; falling back to a fast shutdown through SQL is not possible"
            exit 1
        fi
        log "fencing the local primary: stopping PostgreSQL ($PGDATA)"
        as_pg "$PG_BINDIR/pg_ctl" stop -D "$PGDATA" -m fast -w -t 30 >/dev/null || {
            log "pg_ctl stop failed"
            exit 1
        }
        ;;
esac
log "this node's PostgreSQL was a primary and lost the VIP. To rebuild it as a standby of the"
log "new primary: stop it, run pg_rewind --target-pgdata=\$PGDATA --source-server='host=NEW_PRIMARY user=...'"
log "(or a fresh pg_basebackup), create standby.signal, set primary_conninfo, and start it."
exit 0
