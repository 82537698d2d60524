#!/usr/bin/env bash
# Issue 15 item 7: SIGTERM does not wait for a long hook. n1 becomes master
# and its notify hook starts a 40 s job (a script with a child in its process
# group). SIGTERM then: the VIP is removed, the hook's whole process group is
# killed once the stop grace runs out, notify_stop and the generic notify
# STOP still run, and vipd exits 0 while the hook's job would still be
# running: the marker the hook writes when its job ends never appears, and
# none of its processes is left.
source "$(dirname "$0")/../lib.sh"

topo_up n1 n2 client
dir="$VT_TMP/n1"
mkdir -p "$dir"
cat >"$dir/notify.sh" <<SCRIPT
#!/bin/sh
echo "\$*" >>"$dir/notify.log"
if [ "\$3" = MASTER ]; then
    echo \$\$ >"$dir/hook.pid"
    sleep 40 &
    echo \$! >"$dir/job.pid"
    wait
    touch "$dir/hook-ended"
fi
SCRIPT
cat >"$dir/stop.sh" <<SCRIPT
#!/bin/sh
echo "notify_stop ran" >"$dir/stop.log"
SCRIPT
chmod 755 "$dir/notify.sh" "$dir/stop.sh"

start_vipd n1 priority=150 notify="[\"$dir/notify.sh\"]" \
    extra="notify_stop = [\"$dir/stop.sh\"]" extra="hook_timeout = \"60s\""
start_vipd n2 priority=100
wait_until "n1 holds $VIP4" 5 only_holder n1
wait_until "n1's MASTER hook is running its 40 s job" 5 test -s "$dir/job.pid"
hook_pid="$(cat "$dir/hook.pid")"
job_pid="$(cat "$dir/job.pid")"
check "the hook (pid $hook_pid) and its job (pid $job_pid) are running" \
    eval "kill -0 $hook_pid && kill -0 $job_pid"

# gone PID: no such process, or only a zombie waiting for its reaper.
gone() { ! kill -0 "$1" 2>/dev/null || [[ "$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null)" == Z ]]; }

kill_vipd n1 TERM
assert_eq "vipd's exit status after SIGTERM" 0 "$VIPD_RC"
check "n1 holds no VIP" not_ has_addr n1
check "the hook's job had not ended when vipd exited (no end marker)" not_ test -e "$dir/hook-ended"
wait_until "the hook's process group is gone" 5 \
    eval "gone $hook_pid && gone $job_pid"
check "the hook's end marker never appeared" not_ test -e "$dir/hook-ended"
check "notify_stop ran" grep -q "notify_stop ran" "$dir/stop.log"
check "the generic notify got STOP" grep -q " STOP " "$dir/notify.log"
check "the log says the hook was cut at shutdown" log_has n1 "notify.sh INSTANCE vip MASTER 150 still running .* after shutdown began"
log "  $(log_since_start n1 | grep -m1 'after shutdown began')"
wait_until "n2 takes over" 5 only_holder n2
