#!/usr/bin/env bash
# Issue 15 item 4: logging must never kill the daemon. vipd runs with stderr
# on a pipe whose reader then dies (every later write fails with EPIPE), and
# then with stderr on /dev/full (every write fails with ENOSPC, as on a full
# file system). Made to log (a hand-deleted VIP, a reload), it keeps running:
# the VIP comes back, the peer keeps hearing its adverts, and SIGTERM still
# sends a priority-0 advert, removes the VIP and exits 0.
source "$(dirname "$0")/../lib.sh"

topo_up n1 n2 client
n1ip="$(ip4_of n1)"
vipd_conf n1 priority=150
start_vipd n2 priority=100

# start_n1_with_stderr TARGET: vipd on n1 with stderr (and stdout) on TARGET.
start_n1_with_stderr() {
    local pid
    ip netns exec "$(ns n1)" "$VIPD_BIN" run --config "$VT_TMP/n1/vipd.toml" \
        </dev/null >"$1" 2>"$1" &
    pid=$!
    record_pid "$pid"
    VIPD_PID[n1]="$pid"
    log "started vipd on n1 (pid $pid) with stderr on $1"
}

# still_serving WHAT: after something made n1's vipd log, it is alive, holds
# the VIP, and n2 keeps hearing its adverts (and stays backup).
still_serving() {
    local what="$1" before
    wait_until "n1 holds $VIP4 again ($what)" 5 holds_vip n1
    before="$(cap_count vrrp "src $n1ip and $BPF_VRRP4")"
    wait_until "n2 hears new adverts from n1 ($what)" 5 \
        cap_at_least vrrp $((before + 10)) "src $n1ip and $BPF_VRRP4"
    check "vipd on n1 is still running ($what)" pid_alive "${VIPD_PID[n1]}"
    check "n1 is the only holder ($what)" only_holder n1
}

# stop_cleanly WHAT: SIGTERM: exit 0, VIP removed, priority-0 advert sent.
stop_cleanly() {
    local what="$1"
    kill_vipd n1 TERM
    assert_eq "vipd's exit status after SIGTERM ($what)" 0 "$VIPD_RC"
    check "n1 holds no VIP after stopping ($what)" not_ has_addr n1
    wait_until "priority-0 advert from n1 ($what)" 3 \
        cap_at_least vrrp 1 "src $n1ip and $BPF_VRRP4_PRIO0"
    wait_until "n2 takes over ($what)" 5 only_holder n2
}

capture_start vrrp "$BPF_VRRP4"

step "stderr on a pipe whose reader dies"
mkfifo "$VT_TMP/n1/stderr.fifo"
cat "$VT_TMP/n1/stderr.fifo" >>"$VT_TMP/n1/vipd.log" &
reader=$!
record_pid "$reader"
start_n1_with_stderr "$VT_TMP/n1/stderr.fifo"
wait_until "n1 becomes master" 5 only_holder n1
wait_until "n1's log reached the reader" 5 log_has n1 "BACKUP -> MASTER"
stop_pid "$reader" TERM 2
ok "the pipe's reader (pid $reader) is gone: vipd's writes to stderr now fail with EPIPE"
ip -n "$(ns n1)" addr del "$VIP4_CIDR" dev eth0
still_serving "after a hand-deleted VIP was logged"
kill -HUP "${VIPD_PID[n1]}"
still_serving "after a reload was logged"
stop_cleanly "EPIPE"

step "stderr on /dev/full"
capture_stop vrrp
capture_start vrrp "$BPF_VRRP4"
start_n1_with_stderr /dev/full
wait_until "n1 preempts n2" 10 only_holder n1
ip -n "$(ns n1)" addr del "$VIP4_CIDR" dev eth0
still_serving "after a hand-deleted VIP was logged to /dev/full"
stop_cleanly "ENOSPC"
