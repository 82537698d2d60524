#!/usr/bin/env bash
# Issue 15 item 11: a control socket in a read-only directory. vipd still
# runs the VIP (status is for operators, failover is the job) and says what
# is wrong in words: the directory is read-only. It does not blame an "old"
# socket that never existed, and the daemon lock's file being impossible to
# make is a warning, not a refusal. The read-only directory is a tmpfs
# mounted read-only in a mount namespace of vipd's own.
source "$(dirname "$0")/../lib.sh"

topo_up n1 n2 client
ro="$VT_TMP/n1/ro"
mkdir -p "$ro"
vipd_conf n1 priority=150
sed -i "s#^control_socket = .*#control_socket = \"$ro/vipd.sock\"#" "$VT_TMP/n1/vipd.toml"
start_vipd n2 priority=100

echo "=== vipd start $(date +%H:%M:%S.%3N)" >>"$VT_TMP/n1/vipd.log"
# unshare (without --fork) and sh both exec: $! is vipd itself.
ip netns exec "$(ns n1)" unshare --mount --propagation private \
    sh -c 'mount -t tmpfs -o ro tmpfs "$1" && exec "$2" run --config "$3"' \
    sh "$ro" "$VIPD_BIN" "$VT_TMP/n1/vipd.toml" </dev/null >>"$VT_TMP/n1/vipd.log" 2>&1 &
VIPD_PID[n1]=$!
record_pid "${VIPD_PID[n1]}"

wait_until "n1 becomes the only holder" 10 only_holder n1
wait_until "the log says the control socket's directory is read-only" 5 \
    log_has n1 "control socket $ro/vipd.sock: Read-only file system"
log "  $(log_since_start n1 | grep -m1 'control socket')"
check "it does not blame an old socket that never existed" not_ log_has n1 "cannot remove"
check "the lock file is a warning only" log_has n1 "WARN lock file $ro/vipd.sock.lock: Read-only file system"
check "vipd on n1 is running" pid_alive "${VIPD_PID[n1]}"
kill_vipd n1 TERM
assert_eq "vipd's exit status after SIGTERM" 0 "$VIPD_RC"
wait_until "n2 takes over" 5 only_holder n2
