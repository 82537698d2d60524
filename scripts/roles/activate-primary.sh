#!/usr/bin/env bash
# vipd notify_master hook: this node now holds the VIP.
#  1. If the local PostgreSQL is a standby, promote it and wait until it
#     accepts writes. If it was fenced read-only, lift the fence.
#     With PG_SYNC_AFTER_PROMOTE=off (the default), a promoted standby stops
#     waiting for a synchronous standby: its only peer, the old primary, is
#     gone, and with synchronous_standby_names still set every commit would
#     wait for it forever. Reset it after rebuilding a standby (README).
#  2. Start the app.
# With PG_MANAGED_BY=patroni (under vipd's follow_patroni), Patroni has
# promoted PostgreSQL already: only the app is started.
# Idempotent: running it twice is harmless.
set -u
. "$(dirname "$(readlink -f "$0")")/roles-common.sh"

if [ "$PG_MANAGED_BY" = patroni ]; then
    # Patroni promoted PostgreSQL before vipd moved the address here.
    log "PostgreSQL is managed by Patroni: starting the app only"
    run_cmd "$APP_START_CMD" || { log "app start failed"; exit 1; }
    exit 0
fi
if ! pg_query 'select 1' >/dev/null 2>&1; then
    log "PostgreSQL is not running here: cannot become primary"
    exit 1
fi
if pg_in_recovery; then
    sync_names=$(pg_query "select current_setting('synchronous_standby_names')") || sync_names=
    if [ -n "$sync_names" ] && [ "$PG_SYNC_AFTER_PROMOTE" = off ]; then
        # Before the promotion, so no commit on the new primary ever waits.
        log "turning synchronous replication off (was synchronous_standby_names = '$sync_names'):" \
            "nothing would acknowledge commits until the old primary is rebuilt as a standby"
        pg_query "alter system set synchronous_standby_names = ''" >/dev/null &&
            pg_query 'select pg_reload_conf()' >/dev/null ||
            log "could not reset synchronous_standby_names; commits may wait for a standby"
    fi
    log "promoting the local standby"
    pg_query "select pg_promote(wait => true, wait_seconds => $PG_PROMOTE_TIMEOUT)" >/dev/null ||
        log "pg_promote did not confirm; waiting for writes anyway"
fi
if [ "$(pg_query "select current_setting('default_transaction_read_only')")" = "on" ]; then
    log "lifting the read-only fence"
    pg_query 'alter system reset default_transaction_read_only' >/dev/null
    pg_query 'select pg_reload_conf()' >/dev/null
fi
deadline=$((SECONDS + PG_PROMOTE_TIMEOUT))
until pg_writable 2>/dev/null; do
    if [ "$SECONDS" -ge "$deadline" ]; then
        log "PostgreSQL did not accept writes within ${PG_PROMOTE_TIMEOUT}s"
        exit 1
    fi
    sleep 0.1
done
log "PostgreSQL is primary and accepts writes"
run_cmd "$APP_START_CMD" || { log "app start failed"; exit 1; }
exit 0
