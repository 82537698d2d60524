#!/usr/bin/env bash
# `vipd watch`: on a node without vipd, it decodes the adverts it hears on
# the interface, one line each (source, TTL, version, VRID, priority,
# interval, addresses), and stops on Ctrl-C (SIGINT) with status 0.
source "$(dirname "$0")/../lib.sh"

topo_up n1 n2
start_vipd n1 priority=150
wait_until "n1 holds $VIP4" 5 holds_vip n1

# Started directly (not through the nsx function) so $! is vipd itself.
ip netns exec "$(ns n2)" "$VIPD_BIN" watch --interface eth0 >"$VT_TMP/watch.out" 2>"$VT_TMP/watch.err" &
watch_pid=$!
record_pid "$watch_pid"
line="$(ip4_of n1) > 224.0.0.18 ttl 255 VRRPv3 vrid 51 prio 150 interval 0.10s addrs [$VIP4]"
heard() { (($(grep -cF "$line" "$VT_TMP/watch.out") >= 3)); }
wait_until "vipd watch on n2 prints n1's adverts" 5 heard
kill -INT "$watch_pid"
poll_until 5 0.05 not_ pid_alive "$watch_pid" || fail "vipd watch stops on SIGINT" "it exits" "still running"
rc=0
wait "$watch_pid" || rc=$?
assert_eq "vipd watch's exit status after SIGINT" 0 "$rc"
ok "vipd watch decoded n1's adverts: $(head -1 "$VT_TMP/watch.out")"
