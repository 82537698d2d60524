#!/usr/bin/env bash
# A master whose adverts cannot be sent (a firewall drops them on output)
# does not go on claiming MASTER: after two advert intervals it goes to FAULT,
# says why, drops the VIP, and the backup takes over; status and /metrics
# show the send errors. Once adverts can go out again it recovers.
source "$(dirname "$0")/../lib.sh"

topo_up n1 n2 client
pair_with_metrics

step "n1's outgoing VRRP is dropped"
nsx n1 nft -f - <<'NFT'
table inet vt_block {
    chain out {
        type filter hook output priority 0; policy accept;
        meta l4proto 112 drop
    }
}
NFT
wait_until "n1 leaves MASTER (FAULT)" 3 state_is n1 FAULT
fault="$(fault_of n1)"
[[ "$fault" == *"cannot send adverts"* ]] || fail "n1's fault reason" "cannot send adverts" "$fault"
ok "n1 says why: $fault"
wait_until "n2 takes $VIP4" 5 only_holder n2
check_truthful n2
wait_until "the client reaches $VIP4" 5 ping_ok
errors="$(status_json n1 | jfield 'd["instances"][0]["counters"]["advert_send_errors"]')"
((errors > 0)) || fail "n1's status counts send errors" "> 0" "$errors"
metrics_of n1 | grep -qE '^vipd_advert_send_errors_total\{vrrp_instance="vip"\} [1-9]' ||
    fail "n1's metrics count send errors" "vipd_advert_send_errors_total > 0" "$(metrics_of n1 | grep send_errors)"
ok "send errors in status ($errors) and in /metrics"

step "adverts can go out again"
nsx n1 nft delete table inet vt_block
wait_until "n1 recovers and preempts" 15 only_holder n1
wait_until "n2 is BACKUP" 5 state_is n2 BACKUP
stays_true "exactly one holder" 1 only_holder n1
check_truthful n1 n2
