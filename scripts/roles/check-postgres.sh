#!/usr/bin/env bash
# vipd check: is the local PostgreSQL accepting connections, and if it is a
# primary, does it accept writes? A standby that accepts connections is
# healthy: it can be elected and promoted. Exit 0 healthy, 1 not.
set -u
. "$(dirname "$(readlink -f "$0")")/roles-common.sh"

if ! recovery=$(pg_query 'select pg_is_in_recovery()' 2>&1); then
    log "PostgreSQL is not accepting connections: $recovery"
    exit 1
fi
if [ "$recovery" = "t" ]; then
    exit 0
fi
if ! pg_writable 2>/dev/null; then
    log "PostgreSQL is a primary but does not accept writes"
    exit 1
fi
exit 0
