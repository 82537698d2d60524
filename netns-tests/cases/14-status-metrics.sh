#!/usr/bin/env bash
# `vipd status` and the metrics endpoint during a failover: the backup shows
# the master it hears; after the master dies, status shows the new master
# within one advert interval of its transition, and the metrics agree.
source "$(dirname "$0")/../lib.sh"

topo_up n1 n2
metrics='metrics_listen = "127.0.0.1:9701"'
start_vipd n1 priority=150 advert_interval=1s "global=$metrics"
start_vipd n2 priority=100 advert_interval=1s "global=$metrics"
wait_until "n1 holds $VIP4" 8 only_holder n1

status_json() { nsx "$1" "$VIPD_BIN" status --json --socket "$VT_TMP/$1/vipd.sock"; }
field() { python3 -c 'import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1], {}, {"d": d}))' "$1"; }
metrics_of() { nsx "$1" curl -s --max-time 2 http://127.0.0.1:9701/metrics; }

heard_n1() { [[ "$(status_json n2 | field 'd["instances"][0]["master"]["address"]')" == "192.0.2.11" ]]; }
wait_until "n2's status shows the master it hears: 192.0.2.11" 5 heard_n1
assert_eq "n2's state" "BACKUP" "$(status_json n2 | field 'd["instances"][0]["state"]')"
assert_eq "master priority heard by n2" "150" "$(status_json n2 | field 'd["instances"][0]["master"]["priority"]')"
table="$(nsx n2 "$VIPD_BIN" status --socket "$VT_TMP/n2/vipd.sock")"
grep -q "BACKUP  100/100  192.0.2.11 prio 150" <<<"$table" || fail "human status table" "a BACKUP row hearing 192.0.2.11" "$table"
ok "status table: $(sed -n 3p <<<"$table")"
metrics_of n1 | grep -qx 'vipd_instance_state{vrrp_instance="vip",state="MASTER"} 1' ||
    fail "n1 metrics" "MASTER state 1" "$(metrics_of n1 | grep instance_state)"
ok "n1's metrics say MASTER"

crash_node n1
n2_master() { [[ "$(status_json n2 | field 'd["instances"][0]["state"]')" == "MASTER" ]]; }
poll_until 10 0.02 n2_master || fail "n2's status after the crash" "MASTER" "$(status_json n2)"
seen="$(date +%s.%N)"
json="$(status_json n2)"
went="$(field 'd["instances"][0]["last_transition"]["unix_time"]' <<<"$json")"
lag_ms="$(python3 -c "print(int((float('$seen') - float('$went')) * 1000))")"
log "status showed MASTER ${lag_ms} ms after the transition; reason: $(field 'd["instances"][0]["last_transition"]["reason"]' <<<"$json")"
((lag_ms < 1000)) || fail "status shows the new master within one advert interval (1 s)" "< 1000 ms" "${lag_ms} ms"
ok "status shows the new master within one advert interval (${lag_ms} ms)"
assert_eq "n2 holds the VIPs per status" "True" "$(field 'd["instances"][0]["holds_vips"]' <<<"$json")"

m="$(metrics_of n2)"
for line in 'vipd_instance_state{vrrp_instance="vip",state="MASTER"} 1' \
    'vipd_instance_holds_vips{vrrp_instance="vip"} 1' \
    'vipd_transitions_total{vrrp_instance="vip",to="MASTER"} 1'; do
    grep -qxF "$line" <<<"$m" || fail "n2 metrics after failover" "$line" "$(grep -E 'instance_state|holds|transitions' <<<"$m")"
done
ok "n2's metrics show it as the new master"
