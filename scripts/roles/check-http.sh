#!/usr/bin/env bash
# vipd check: does the app's health endpoint answer 200? Exit 0 yes, 1 no.
set -u
. "$(dirname "$(readlink -f "$0")")/roles-common.sh"

url=${1:-$APP_HEALTH_URL}
code=$(curl -s -o /dev/null -m "$CHECK_TIMEOUT" -w '%{http_code}' "$url" 2>/dev/null) || code=000
if [ "$code" = "200" ]; then
    exit 0
fi
log "$url answered $code"
exit 1
