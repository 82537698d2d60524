#!/usr/bin/env bash
# `vipd status` and the metrics endpoint during a failover: the backup shows
# the master it hears; after the master dies, status shows the new master
# with a transition that came after the crash, and the metrics agree. (How
# soon status shows it is logged; speed is measured in bench/, not here.)
source "$(dirname "$0")/../lib.sh"

topo_up n1 n2
start_vipd n1 priority=150 advert_interval=1s "global=$METRICS_LISTEN"
VIPD_RUN_ARGS=(--log-format json)
start_vipd n2 priority=100 advert_interval=1s "global=$METRICS_LISTEN"
unset VIPD_RUN_ARGS
wait_until "n1 holds $VIP4" 8 only_holder n1


heard_n1() { [[ "$(status_json n2 | jfield 'd["instances"][0]["master"]["address"]')" == "192.0.2.11" ]]; }
wait_until "n2's status shows the master it hears: 192.0.2.11" 5 heard_n1
assert_eq "n2's state" "BACKUP" "$(status_json n2 | jfield 'd["instances"][0]["state"]')"
assert_eq "master priority heard by n2" "150" "$(status_json n2 | jfield 'd["instances"][0]["master"]["priority"]')"
table="$(nsx n2 "$VIPD_BIN" status --socket "$VT_TMP/n2/vipd.sock")"
grep -q "BACKUP  100/100  192.0.2.11 prio 150" <<<"$table" || fail "human status table" "a BACKUP row hearing 192.0.2.11" "$table"
ok "status table: $(sed -n 3p <<<"$table")"
metrics_of n1 | grep -qx 'vipd_instance_state{vrrp_instance="vip",state="MASTER"} 1' ||
    fail "n1 metrics" "MASTER state 1" "$(metrics_of n1 | grep instance_state)"
ok "n1's metrics say MASTER"

crashed="$(date +%s.%N)"
crash_node n1
n2_master() { [[ "$(status_json n2 | jfield 'd["instances"][0]["state"]')" == "MASTER" ]]; }
poll_until 10 0.02 n2_master || fail "n2's status after the crash" "MASTER" "$(status_json n2)"
seen="$(date +%s.%N)"
json="$(status_json n2)"
went="$(jfield 'd["instances"][0]["last_transition"]["unix_time"]' <<<"$json")"
lag_ms="$(python3 -c "print(int((float('$seen') - float('$went')) * 1000))")"
log "status showed MASTER ${lag_ms} ms after the transition; reason: $(jfield 'd["instances"][0]["last_transition"]["reason"]' <<<"$json")"
python3 -c "import sys; sys.exit(0 if float('$went') >= float('$crashed') else 1)" ||
    fail "the transition status reports" "after the crash at $crashed" "$went"
ok "status shows the new master, with the transition that followed the crash"
assert_eq "n2 holds the VIPs per status" "True" "$(jfield 'd["instances"][0]["holds_vips"]' <<<"$json")"

m="$(metrics_of n2)"
for line in 'vipd_instance_state{vrrp_instance="vip",state="MASTER"} 1' \
    'vipd_instance_holds_vips{vrrp_instance="vip"} 1' \
    'vipd_transitions_total{vrrp_instance="vip",to="MASTER"} 1'; do
    grep -qxF "$line" <<<"$m" || fail "n2 metrics after failover" "$line" "$(grep -E 'instance_state|holds|transitions' <<<"$m")"
done
ok "n2's metrics show it as the new master"

# n2 logs JSON: its transition carries the facts as fields.
json_transition() {
    python3 -c '
import json, sys
for line in open(sys.argv[1]):
    try:
        e = json.loads(line)
    except ValueError:
        continue
    f = e.get("fields", {})
    if (f.get("event"), f.get("instance"), f.get("to"), f.get("from"), f.get("vrid")) == ("transition", "vip", "MASTER", "BACKUP", 51) \
            and f.get("reason", "").startswith("no advert from 192.0.2.11"):
        sys.exit(0)
sys.exit(1)' "$VT_TMP/n2/vipd.log"
}
check "n2's JSON log has the transition with instance, vrid, from, to and reason fields" json_transition
