#!/usr/bin/env bash
# The systemd notify protocol, with this test playing systemd: a datagram
# socket as NOTIFY_SOCKET and a watchdog period in WATCHDOG_USEC. vipd must
# say READY=1 only after stale VIPs are gone, ping WATCHDOG=1 from its loop,
# and say STOPPING=1 on SIGTERM.
source "$(dirname "$0")/../lib.sh"

topo_up n1 n2
sock="$VT_TMP/notify.sock"
msgs="$VT_TMP/notify.msgs"
n1ns="$(ns n1)"
# On READY=1 the listener records whether n1 still holds the stale VIP.
python3 - "$sock" "$msgs" "$n1ns" "$VIP4" <<'PY' &
import socket, subprocess, sys, time
path, out, netns, vip = sys.argv[1:]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
with open(out, "a", buffering=1) as f:
    while True:
        msg = s.recv(4096).decode()
        line = f"{time.monotonic():.3f} {msg}"
        if "READY=1" in msg:
            addrs = subprocess.run(["ip", "-n", netns, "-o", "addr", "show", "dev", "eth0"],
                                   capture_output=True, text=True).stdout
            line += " stale_vip_present=" + ("yes" if f" {vip}/" in addrs else "no")
        f.write(line + "\n")
PY
record_pid $!
poll_until 5 0.02 test -S "$sock" || fail "notify listener" "socket $sock" "not created"

# A crashed run left the VIP behind.
ip -n "$n1ns" addr add "$VIP4_CIDR" dev eth0
VIPD_WRAP=(env NOTIFY_SOCKET="$sock" WATCHDOG_USEC=200000)
start_vipd n1 priority=150
unset VIPD_WRAP

wait_until "READY=1 received" 10 grep -q "READY=1" "$msgs"
assert_eq "stale VIP removed before READY=1" "stale_vip_present=no" "$(grep -o 'stale_vip_present=[a-z]*' "$msgs")"
watchdogs() { grep -c "WATCHDOG=1" "$msgs" || true; }
# A function, so the count is re-read on every poll.
enough_watchdogs() { (($(watchdogs) >= 5)); }
wait_until "watchdog pinged at least 5 times (period 200 ms, pinged every 100 ms)" 5 enough_watchdogs
wait_until "n1 takes the VIP as master" 5 only_holder n1

kill_vipd n1 TERM
assert_eq "exit status after SIGTERM" 0 "$VIPD_RC"
wait_until "STOPPING=1 received" 5 grep -q "STOPPING=1" "$msgs"
ready_line="$(grep -n "READY=1" "$msgs" | head -n 1 | cut -d: -f1)"
stopping_line="$(grep -n "STOPPING=1" "$msgs" | head -n 1 | cut -d: -f1)"
((ready_line < stopping_line)) || fail "READY=1 before STOPPING=1" "READY first" "$(cat "$msgs")"
ok "notify messages in order: READY=1, $(watchdogs) x WATCHDOG=1, STOPPING=1"
