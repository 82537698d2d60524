#!/usr/bin/env bash
# Issue 12, item 4: hostile clients on the control socket and the metrics
# endpoint. n1's vipd (master, metrics on 127.0.0.1:9701) gets, at once:
# 1500 control-socket clients that send half a request and hold on, 1500
# metrics clients that do the same, and clients that send garbage or a
# megabyte without a newline. Meanwhile its adverts keep going out (counted
# on the bridge); afterwards it answers `vipd status` and /metrics again, and
# its descriptors and memory are back where they were. A user outside the
# socket's group cannot use the control socket at all.
source "$(dirname "$0")/../lib.sh"

topo_up n1 n2 client
start_vipd n1 priority=150 "global=$METRICS_LISTEN"
wait_until "n1 holds $VIP4" 10 only_holder n1
capture_start adverts "$BPF_VRRP4"

pid="${VIPD_PID[n1]}"
fds() { find "/proc/$pid/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l; }
rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status"; }
answers() { status_json n1 | jfield 'd["instances"][0]["state"]' >/dev/null 2>&1 && metrics_of n1 | grep -q '^vipd_'; }

step "a user outside the control socket's group is refused"
check "the socket is mode 0660" eval '[[ "$(stat -c %a "$VT_TMP/n1/vipd.sock")" == 660 ]]'
if nsx n1 setpriv --reuid=nobody --regid=nogroup --clear-groups \
    "$VIPD_BIN" status --socket "$VT_TMP/n1/vipd.sock" >"$VT_TMP/nobody.out" 2>&1; then
    fail "nobody's vipd status" "refused" "answered: $(cat "$VT_TMP/nobody.out")"
fi
log "nobody got: $(head -c 200 "$VT_TMP/nobody.out")"

step "3000 half-sent requests held open, garbage and a megabyte without a newline"
wait_until "n1 answers status and metrics" 5 answers
base_fds="$(fds)"
base_rss="$(rss_kb)"
log "before: $base_fds descriptors, RSS $base_rss kB"
cat >"$VT_TMP/hostile.py" <<'PY'
import socket, sys, time
path, hold = sys.argv[1], float(sys.argv[2])
held = []
def unix():
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.setblocking(True)
    s.connect(path)
    return s
def tcp():
    return socket.create_connection(("127.0.0.1", 9701), timeout=2)
for make, partial in ((unix, b"sta"), (tcp, b"GET /metr")):
    for _ in range(1500):
        try:
            s = make()
            s.send(partial)
            held.append(s)
        except OSError:
            pass
for make, junk in ((unix, b"\x00\xff" * 64 + b"\n"), (unix, b"x" * (1 << 20)),
                   (tcp, b"\x16\x03\x01" + b"\xff" * 4096), (tcp, b"GET /" + b"a" * (1 << 20))):
    for _ in range(20):
        try:
            s = make()
            s.settimeout(2)
            s.sendall(junk)
            s.close()
        except OSError:
            pass
print(f"holding {len(held)} connections", flush=True)
time.sleep(hold)
for s in held:
    s.close()
print("released", flush=True)
PY
adverts_before="$(cap_count adverts "$BPF_VRRP4")"
(ulimit -n 8192 && nsx n1 python3 "$VT_TMP/hostile.py" "$VT_TMP/n1/vipd.sock" 4 >"$VT_TMP/hostile.out" 2>&1) &
hostile=$!
record_pid "$hostile"
wait_until "the hostile clients are connected" 30 grep -q holding "$VT_TMP/hostile.out"
during_fds="$(fds)"
log "$(head -n 1 "$VT_TMP/hostile.out"); vipd now has $during_fds descriptors, RSS $(rss_kb) kB"
# 32 clients at a time on each endpoint (MAX_CLIENTS), closed beyond that.
((during_fds <= base_fds + 2 * 32 + 16)) || fail "descriptors while 3000 clients hold on" "at most $((base_fds + 80))" "$during_fds"
check "vipd is alive" pid_alive "$pid"
check "n1 still holds $VIP4" only_holder n1
wait_until "the hostile clients let go" 30 grep -q released "$VT_TMP/hostile.out"
wait "$hostile" || true
adverts_during="$(($(cap_count adverts "$BPF_VRRP4") - adverts_before))"
log "adverts from n1 while the clients held on: $adverts_during"
((adverts_during > 0)) || fail "adverts during the flood" "some" "none"

step "afterwards: it answers, and its descriptors and memory are back"
wait_until "n1 answers status and metrics again" 15 answers
wait_until "n1's descriptors back to $base_fds" 15 eval '(( $(fds) <= base_fds ))'
rss="$(rss_kb)"
log "after: $(fds) descriptors, RSS $rss kB (before: $base_fds, $base_rss kB)"
# Tolerance: tokio and the allocator keep some of what a burst of tasks used.
((rss <= base_rss + 8192)) || fail "RSS after the flood" "at most $((base_rss + 8192)) kB" "$rss kB"
check "vipd logged no panic" not_ log_has n1 "panicked"
capture_stop adverts
