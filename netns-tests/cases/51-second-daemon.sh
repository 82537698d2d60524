#!/usr/bin/env bash
# Issue 15 item 6: a second `vipd run` with the same configuration refuses
# to start: it exits 1 naming the PID that holds the lock, before touching
# the VIP or the control socket. The first keeps the VIP, stays the only
# holder, and `vipd status` still reaches it, also after the second is gone.
source "$(dirname "$0")/../lib.sh"

topo_up n1 n2 client
start_vipd n1 priority=150
start_vipd n2 priority=100
wait_until "n1 holds $VIP4" 5 only_holder n1
first="${VIPD_PID[n1]}"
conf="$VT_TMP/n1/vipd.toml"
lock="$VT_TMP/n1/vipd.sock.lock"

# status_is_master: `vipd status` on n1 answers, from the first daemon, MASTER.
status_is_master() {
    local out
    out="$(nsx n1 "$VIPD_BIN" status --json -c "$conf" 2>&1)" || return 1
    [[ "$out" == *"\"pid\": $first,"* && "$out" == *'"state": "MASTER"'* ]]
}
check "vipd status reaches the first daemon" status_is_master

step "a second vipd run with the same configuration"
ip netns exec "$(ns n1)" "$VIPD_BIN" run --config "$conf" </dev/null >"$VT_TMP/second.log" 2>&1 &
second=$!
record_pid "$second"
wait_until "the second vipd exits" 10 not_ pid_alive "$second"
rc=0
wait "$second" || rc=$?
assert_eq "the second vipd's exit status" 1 "$rc"
grep -q "another vipd (PID $first) holds $lock" "$VT_TMP/second.log" ||
    fail "the second vipd names the lock holder" "another vipd (PID $first) holds $lock" "$(cat "$VT_TMP/second.log")"
ok "it said: $(grep -m1 'another vipd' "$VT_TMP/second.log")"
grep -qiE "removing|instance vip" "$VT_TMP/second.log" &&
    fail "the second vipd touched no instance" "no instance set-up in its log" "$(cat "$VT_TMP/second.log")"
ok "the second vipd set up no instance"

check "the first vipd is still running" pid_alive "$first"
check "n1 is still the only holder" only_holder n1
check "vipd status still reaches the first daemon" status_is_master
stays_true "n1 stays the only holder" 1 only_holder n1
client_ping "$VIP4" 2 || fail "client ping" "replies" "$(cat "$VT_TMP/ping.out")"

step "the first stops: the lock is free again"
kill_vipd n1 TERM
assert_eq "the first vipd's exit status" 0 "$VIPD_RC"
wait_until "n2 takes over" 5 only_holder n2
start_vipd n1
wait_until "a new vipd on n1 takes the VIP back" 10 only_holder n1
