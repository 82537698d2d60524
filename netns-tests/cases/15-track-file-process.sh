#!/usr/bin/env bash
# Tracked files and processes: n1 (priority 150) tracks a file (weight 1) and
# a process (weight -100); n2 has priority 100. Writing -100 into the file
# lowers n1 to 50 and the VIP moves to n2; removing the file (a missing file
# counts as 0) brings it back by preemption. Killing the tracked process
# does the same, and starting it again brings the VIP back.
source "$(dirname "$0")/../lib.sh"

topo_up n1 n2 client

# A process nothing else on the host runs: a copy of sleep under a name of
# our own (comm is the executable's file name; at most 15 bytes). Namespaces
# share /proc, so the name, not the namespace, keeps it ours.
fake="fdb$$"
cp "$(command -v sleep)" "$VT_TMP/$fake"
FAKE_PID=""
start_fake() {
    # Not through nsx: $! must be the process itself (ip netns exec execs).
    ip netns exec "$(ns n1)" "$VT_TMP/$fake" 1000 </dev/null >/dev/null 2>&1 &
    FAKE_PID=$!
    record_pid "$FAKE_PID"
    wait_until "$fake (pid $FAKE_PID) runs" 2 grep -qx "$fake" "/proc/$FAKE_PID/comm"
}
stop_fake() {
    kill -TERM "$FAKE_PID"
    { wait "$FAKE_PID"; } 2>/dev/null || true
    log "killed $fake (pid $FAKE_PID)"
}

maint="$VT_TMP/n1/maint"
start_fake
start_vipd n1 priority=150 \
    extra='track_files = ["maint"]' \
    extra='track_processes = [{ name = "db", weight = -100 }]' \
    extra='[track_files.maint]' \
    extra="path = \"$maint\"" \
    extra='[track_processes.db]' \
    extra="process = \"$fake\"" \
    extra='weight = -50'
start_vipd n2 priority=100
wait_until "n1 (priority 150, file missing = 0, $fake running) holds $VIP4" 5 only_holder n1

status_json() { nsx "$1" "$VIPD_BIN" status --json --socket "$VT_TMP/$1/vipd.sock"; }
field() { python3 -c 'import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1], {}, {"d": d}))' "$1"; }
n1_priority_is() { [[ "$(status_json n1 | field 'd["instances"][0]["priority"]["effective"]')" == "$1" ]]; }
check "n1's effective priority is 150" n1_priority_is 150
assert_eq "n1's tracked file per status" "0 missing" \
    "$(status_json n1 | field '"%s %s" % (d["tracked_files"][0]["value"], d["tracked_files"][0]["problem"])')"

step "write -100 into the tracked file"
echo -100 >"$maint"
wait_until "n2 takes $VIP4" 5 only_holder n2
check "n1's effective priority is 50" n1_priority_is 50
json="$(status_json n1)"
assert_eq "n1 is a backup, not in fault" "BACKUP" "$(field 'd["instances"][0]["state"]' <<<"$json")"
assert_eq "n1's adjustments" "['file maint -100']" "$(field 'd["instances"][0]["priority"]["adjustments"]' <<<"$json")"
stays_true "n2 stays the only holder" 1 only_holder n2

step "remove the tracked file (counts as 0)"
rm -f "$maint"
wait_until "n1 takes $VIP4 back (preempt)" 5 only_holder n1
check "n1's effective priority is 150 again" n1_priority_is 150

step "kill the tracked process $fake"
stop_fake
wait_until "n2 takes $VIP4" 5 only_holder n2
check "n1's effective priority is 50 (the instance's weight -100 overrides -50)" n1_priority_is 50
json="$(status_json n1)"
assert_eq "n1's tracked process per status" "False 0" \
    "$(field '"%s %s" % (d["tracked_processes"][0]["up"], d["tracked_processes"][0]["running"])' <<<"$json")"
assert_eq "n1's adjustments" "['process db -100']" "$(field 'd["instances"][0]["priority"]["adjustments"]' <<<"$json")"
stays_true "n2 stays the only holder" 1 only_holder n2

step "start $fake again"
start_fake
wait_until "n1 takes $VIP4 back (preempt)" 5 only_holder n1
check "n1's effective priority is 150 again" n1_priority_is 150
log_has n1 "tracked process db: 0 running, down" || fail "n1's log" "tracked process db: 0 running, down" "$(log_since_start n1 | grep -i tracked)"
ok "n1's log: $(log_since_start n1 | grep -ci tracked) tracked file/process lines"
stop_fake
