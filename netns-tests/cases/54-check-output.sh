#!/usr/bin/env bash
# Issue 15 items 5 and 11: a failing check that prints 30 MB per run. Its
# output never reaches vipd's log verbatim: the log stays small, names the
# check, says in words how the run ended ("exited with status 1"), shows
# the last lines of its output once (rate-limited), and `vipd status` shows
# them for the latest failed run.
source "$(dirname "$0")/../lib.sh"

topo_up n1 client
dir="$VT_TMP/n1"
mkdir -p "$dir"
cat >"$dir/big-check.sh" <<'SCRIPT'
#!/bin/sh
head -c 31457280 /dev/zero | tr '\0' 'x'
echo
echo "error: the service is down"
exit 1
SCRIPT
chmod 755 "$dir/big-check.sh"
start_vipd n1 priority=150 \
    extra='track_checks = [{ name = "big", weight = -60 }]' \
    extra="[checks.big]" extra="command = [\"$dir/big-check.sh\"]" \
    extra='interval = "1s"' extra='timeout = "20s"' extra='fall = 1'

# runs N: `vipd status --json` reports at least N runs of the check.
runs() {
    local n
    n="$(nsx n1 "$VIPD_BIN" status --json -c "$dir/vipd.toml" 2>/dev/null |
        awk '/"name": "big"/ { f = 1 } f && /"runs":/ { gsub(/[^0-9]/, ""); print; exit }')"
    ((${n:-0} >= $1))
}
wait_until "the check has run three times (90 MB printed)" 60 runs 3
size="$(stat -c %s "$dir/vipd.log")"
((size < 65536)) || fail "vipd's log stays small" "under 64 KiB" "$size bytes"
ok "vipd's log is $size bytes after 90 MB of check output"
check "the log says how the check's run ended, in words" log_has n1 "check big: exited with status 1"
check "the log shows the end of its output" log_has n1 "check big: \| error: the service is down"
check "the transition's log line uses words" log_has n1 "check big now failing \(exited with status 1\)"
count="$(log_since_start n1 | grep -c "check big: | error: the service is down" || true)"
assert_eq "the output is logged once (rate-limited), not per run" 1 "$count"
status="$(nsx n1 "$VIPD_BIN" status -c "$dir/vipd.toml")"
grep -q "error: the service is down" <<<"$status" ||
    fail "vipd status shows the failed run's last lines" "error: the service is down" "$status"
ok "vipd status shows: $(grep -A2 '^check big' <<<"$status" | paste -sd' ')"
