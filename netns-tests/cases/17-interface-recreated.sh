#!/usr/bin/env bash
# An interface deleted and created again (a new ifindex) is followed by name,
# on the backup and on the master: while it is missing the instance is in
# FAULT and says why; once it is back vipd reopens its socket, rejoins the
# group, and serves again: after each recovery exactly one node holds the
# VIP, the client reaches it, and status and /metrics agree with ip addr.
source "$(dirname "$0")/../lib.sh"

topo_up n1 n2 client
pair_with_metrics

step "the backup's eth0 is deleted"
ip -n "$(ns n2)" link del eth0
wait_until "n2 is in FAULT" 3 state_is n2 FAULT
fault="$(fault_of n2)"
[[ "$fault" == *"eth0 does not exist"* ]] || fail "n2's fault reason" "interface eth0 does not exist" "$fault"
ok "n2 says why: $fault"
check_truthful n1 n2

step "the backup's eth0 is created again (new ifindex)"
recreate_eth0 n2
wait_until "n2 is BACKUP again" 5 state_is n2 BACKUP
check_truthful n1 n2
stays_true "n1 stays the only holder" 1 only_holder n1
log_has n2 "interface eth0 (appeared|was replaced)" || fail "n2's log" "the interface came back" "$(vipd_log n2 | tail -5)"

step "the master dies: the recovered backup takes over"
crash_node n1
wait_until "n2 takes $VIP4" 5 only_holder n2
check_truthful n2
wait_until "the client reaches $VIP4" 5 ping_ok
sent_before="$(status_json n2 | jfield 'd["instances"][0]["counters"]["adverts_sent"]')"
wait_until "n2 keeps sending adverts" 3 eval '(( $(status_json n2 | jfield "d[\"instances\"][0][\"counters\"][\"adverts_sent\"]") > sent_before ))'

step "n1 comes back and preempts"
link_up n1
start_vipd n1
wait_until "n1 holds $VIP4 again" 5 only_holder n1
wait_until "n2 is BACKUP" 5 state_is n2 BACKUP
check_truthful n1 n2

step "the master's eth0 is deleted"
ip -n "$(ns n1)" link del eth0
wait_until "n1 is in FAULT" 3 state_is n1 FAULT
wait_until "n2 takes $VIP4" 5 only_holder n2
check_truthful n1 n2
wait_until "the client reaches $VIP4" 5 ping_ok

step "the master's eth0 is created again"
recreate_eth0 n1
wait_until "n1 is back and preempts" 5 only_holder n1
wait_until "n2 is BACKUP" 5 state_is n2 BACKUP
stays_true "exactly one holder" 1 only_holder n1
check_truthful n1 n2
wait_until "the client reaches $VIP4" 5 ping_ok
cap_note="$(status_json n1 | jfield 'd["instances"][0]["counters"]["advert_send_errors"]')"
ok "n1's advert send errors meanwhile: $cap_note"
