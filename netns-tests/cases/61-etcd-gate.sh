#!/usr/bin/env bash
# Issue 11, the leadership gate: vipd on n1 (priority 150) and n2 (100)
# must hold the etcd key /vipd/gate/vip to be MASTER; etcd runs one member
# on each of n1, n2 and n3 (the witness). Every fault that makes plain VRRP
# elect two masters is played here:
#   - the master cut off from both others (its bridge port disabled): the
#     backup is refused the lock until the master's lease runs out, and the
#     master steps down before it can;
#   - the backup cut off: it stays BACKUP (its etcd member has no quorum);
#   - the master's vipd hung (SIGSTOP) for longer than the lease: the
#     kernel's address lifetime removes its VIP, the other node takes over,
#     and the hung one resigns on waking instead of announcing;
#   - etcd's quorum lost: the master steps down (on_etcd_loss = step_down),
#     nobody holds the VIP until quorum returns;
#   - ten partitions of the master, each at a random phase of its renewal.
# Address changes on both nodes are read from `ip monitor` (and `ip addr`
# polled): never two holders. The worst gap and overlap are reported.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/../etcd.sh"
source "$(dirname "$0")/../vip-manager.sh"

KEY=/vipd/gate/vip
topo_up n1 n2 n3 client
etcd_up n1 n2 n3

gate_vipd() {
    local node="$1" priority="$2"
    start_vipd "$node" priority="$priority" advert_interval=1s preempt=false \
        global="$(printf '\n[etcd]\nendpoints = %s\nrequest_timeout = "500ms"' "$(etcd_endpoints_toml)")" \
        extra="leadership = { key = \"$KEY\", ttl = \"5s\" }"
}
holder_in_etcd() { [[ "$(etcd_get "$KEY")" == "$1" ]]; }
nobody_holds() { [[ -z "$(vip_holders)" ]]; }
lock_standing() { status_json "$1" | jfield 'd["instances"][0]["leadership"]["standing"]' 2>/dev/null; }

vip_events_start n1 n2
gate_vipd n1 150
wait_until "n1 holds $VIP4" 15 only_holder n1
check "etcd says n1 holds $KEY" holder_in_etcd n1
assert_eq "n1's lock as vipd status shows it" held "$(lock_standing n1)"
gate_vipd n2 100
wait_until "n2 is BACKUP" 10 state_is n2 BACKUP
monitor_start
stays_true "n1 alone holds $VIP4" 3 only_holder n1

# worst_of VAR VALUE: VAR = max(VAR, VALUE) for decimals.
worst_of() { printf -v "$1" '%s' "$(awk -v a="${!1}" -v b="$2" 'BEGIN { print (b > a) ? b : a }')"; }
WORST_GAP=0
WORST_OVERLAP=0
# report_window SINCE WHAT: the gap and overlap since SINCE, from the events.
report_window() {
    local max overlap gap
    read -r max overlap gap <<<"$(vip_events_summary "$VIP4" "$1")"
    log "$2: at most $max holder(s), ${overlap} ms with two, ${gap} ms with none"
    ((max <= 1)) || fail "holders of $VIP4 after: $2" "at most 1" "$max"
    worst_of WORST_GAP "$gap"
    worst_of WORST_OVERLAP "$overlap"
}

step "the master n1 cut off from n2 and n3: n2 is refused until n1's lease runs out"
t0="$(now)"
port_block n1
wait_until "n2 is told that n1 holds the leadership" 15 log_has n2 "leadership held by n1"
wait_until "n2 holds $VIP4" 20 only_holder n2
check "n1 stepped down by itself" log_has n1 "leadership lease not renewed in time"
check "etcd says n2 holds $KEY" holder_in_etcd n2
report_window "$t0" "master cut off"
port_unblock n1
wait_until "n1 is BACKUP behind n2" 10 state_is n1 BACKUP
stays_true "n2 alone holds $VIP4 once n1 is back" 3 only_holder n2

step "the backup n1 cut off: it wants MASTER but cannot take the lock"
t0="$(now)"
port_block n1
stays_true "n2 alone holds $VIP4 for longer than a lease" 8 only_holder n2
check "n1 is still BACKUP" state_is n1 BACKUP
port_unblock n1
report_window "$t0" "backup cut off"

step "the master's vipd (n2) stopped for longer than its lease, then resumed"
t0="$(now)"
kill -STOP "${VIPD_PID[n2]}"
wait_until "the kernel removed n2's $VIP4 and n1 took over, while n2's vipd is stopped" 20 only_holder n1
check "n2's vipd is still stopped" eval '[[ "$(ps -o stat= -p "${VIPD_PID[n2]}")" == T* ]]'
kill -CONT "${VIPD_PID[n2]}"
wait_until "n2 is BACKUP again" 10 state_is n2 BACKUP
check "n2 resigned on waking: its lease was not renewed" log_has n2 "leadership lease not renewed in time"
stays_true "n1 alone holds $VIP4 after n2 woke" 3 only_holder n1
report_window "$t0" "master hung"

step "etcd loses its quorum: the master steps down, nobody holds $VIP4"
t0="$(now)"
etcd_stop n2
etcd_stop n3
wait_until "n1 gave $VIP4 up" 15 nobody_holds
stays_true "nobody holds $VIP4 while etcd has no quorum" 6 nobody_holds
etcd_start n2
etcd_start n3
wait_until "etcd has quorum again" 30 etcd_has_quorum
wait_until "one node holds $VIP4 again" 30 eval '[[ -n "$(vip_holders)" ]]'
stays_true "exactly one node holds $VIP4" 3 at_most_one_holder
report_window "$t0" "etcd quorum lost and back"

step "ten partitions of the master, each at a random phase of its lease renewal"
RANDOM=11
for i in $(seq 1 10); do
    master="$(vip_holders)"
    [[ "$master" == n1 || "$master" == n2 ]] || fail "one master before round $i" "n1 or n2" "$master"
    other=n1
    [[ "$master" == n1 ]] && other=n2
    # A phase offset, not a wait for anything: renewals go every 1.25 s.
    sleep "$(awk -v r="$RANDOM" 'BEGIN { printf "%.3f", (r % 1250) / 1000 }')"
    t0="$(now)"
    port_block "$master"
    wait_until "round $i: $other holds $VIP4" 20 only_holder "$other"
    report_window "$t0" "round $i ($master cut off)"
    port_unblock "$master"
    wait_until "round $i: $master is BACKUP" 10 state_is "$master" BACKUP
done

monitor_stop
assert_eq "most holders of $VIP4 seen by polling ip addr" 1 "$(monitor_max_holders)"
log "worst gap ${WORST_GAP} ms, worst overlap ${WORST_OVERLAP} ms over every fault above"
assert_eq "time with two holders (ms)" 0 "$(awk -v o="$WORST_OVERLAP" 'BEGIN { print o + 0 }')"

step "failover after a crash (SIGKILL and link down), with the gate, then with VRRP alone"
master="$(vip_holders)"
other=n1
[[ "$master" == n1 ]] && other=n2
priority_of() { [[ "$1" == n1 ]] && echo 150 || echo 100; }
t0="$(now)"
crash_node "$master"
wait_until "$other holds $VIP4 after $master crashed" 20 only_holder "$other"
gate_ms="$(elapsed_ms "$t0")"
report_window "$t0" "master crashed"
link_up "$master"
gate_vipd "$master" "$(priority_of "$master")"
wait_until "$master is BACKUP again" 15 state_is "$master" BACKUP
# The same pair without the lock: the master stops gracefully first (it
# releases its key), then both run plain VRRP.
kill_vipd "$other" TERM
kill_vipd "$master" TERM
start_vipd n1 priority=150 advert_interval=1s preempt=false
wait_until "n1 holds $VIP4 with VRRP alone" 15 only_holder n1
start_vipd n2 priority=100 advert_interval=1s preempt=false
wait_until "n2 is BACKUP" 15 state_is n2 BACKUP
t0="$(now)"
crash_node n1
wait_until "n2 holds $VIP4 after n1 crashed" 20 only_holder n2
plain_ms="$(elapsed_ms "$t0")"
log "MEASURED failover after a crash: ${gate_ms} ms with the gate, ${plain_ms} ms with VRRP alone (lease ttl 5000 ms)"
