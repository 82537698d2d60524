#!/usr/bin/env bash
# Reload without flapping (SIGHUP and `vipd reload`):
# - the same file again: no transition, no hook, VIP and adverts continue;
# - a lower priority that still wins: applied in place, still master, the
#   peer hears the new priority; a priority below the peer's: the peer takes
#   over (preemption), which is the change asked for, not a flap;
# - an invalid file: refused with file:line:column, the old config keeps running;
# - a second VIP on both nodes: the master adds it without a transition;
# - an instance added (starts, takes its VIP), given a new VRID (restarted),
#   removed (resigns, VIP gone), without disturbing the other instance.
source "$(dirname "$0")/../lib.sh"

topo_up n1 n2
n1_notify="$(make_notify n1)"
n2_notify="$(make_notify n2)"
start_vipd n1 priority=150 advert_interval=200ms "notify=$n1_notify"
start_vipd n2 priority=100 advert_interval=200ms "notify=$n2_notify"
wait_until "n1 holds $VIP4" 5 only_holder n1
wait_until "n2 reported BACKUP" 5 grep -q " BACKUP " "$VT_TMP/n2/notify.log"

reload() { nsx n1 "$VIPD_BIN" reload --socket "$VT_TMP/n1/vipd.sock"; }
status_field() {
    nsx "$1" "$VIPD_BIN" status --json --socket "$VT_TMP/$1/vipd.sock" |
        python3 -c 'import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1], {}, {"i": d["instances"][0]}))' "$2"
}
sent() { status_field n1 'i["counters"]["adverts_sent"]'; }
# How many log lines match: SIGHUP must add one of its own.
log_count() { log_since_start n1 | grep -cE -- "$1" || true; }
log_grew() { (($(log_count "$1") > $2)); }
transitions() { status_field "$1" 'i["counters"]["transitions"]'; }

step "the same file again"
hooks_before="$(wc -l <"$VT_TMP/n1/notify.log")"
t1="$(transitions n1)"
out="$(reload)" || fail "vipd reload of an unchanged file" "exit 0" "$out"
assert_eq "reload output" "no change" "$out"
seen="$(log_count "reload of .*: no change")"
kill -HUP "${VIPD_PID[n1]}"
wait_until "n1 logged the SIGHUP reload" 5 log_grew "reload of .*: no change" "$seen"
sent_before="$(sent)"
more_adverts() { (($(sent) >= sent_before + 5)); }
wait_until "n1 keeps advertising" 5 more_adverts
stays_true "n1 keeps the VIP" 1 only_holder n1
assert_eq "n1 transitions after two reloads" "$t1" "$(transitions n1)"
assert_eq "n1 hooks run by the reloads" "$hooks_before" "$(wc -l <"$VT_TMP/n1/notify.log")"

step "priority 150 -> 120: still above n2"
vipd_conf n1 priority=120 advert_interval=200ms "notify=$n1_notify"
out="$(reload)" || fail "vipd reload of a new priority" "exit 0" "$out"
grep -q "instance vip updated (health)" <<<"$out" || fail "reload output" "instance vip updated (health)" "$out"
assert_eq "n1 effective priority" 120 "$(status_field n1 'i["priority"]["effective"]')"
heard_120() { [[ "$(status_field n2 'i["master"]["priority"]')" == 120 ]]; }
wait_until "n2 hears priority 120 from n1" 5 heard_120
assert_eq "n1 state" "MASTER" "$(status_field n1 'i["state"]')"
assert_eq "n1 transitions (none for the new priority)" "$t1" "$(transitions n1)"
assert_eq "n1 hooks run by the reload" "$hooks_before" "$(wc -l <"$VT_TMP/n1/notify.log")"

step "an invalid file"
cp "$VT_TMP/n1/vipd.toml" "$VT_TMP/n1/vipd.good"
printf '[instances.vip]\nvrid = 300\n' >"$VT_TMP/n1/vipd.toml"
if out="$(reload 2>&1)"; then fail "vipd reload of an invalid file" "a non-zero exit" "exit 0: $out"; fi
grep -q "vipd.toml:2:8:" <<<"$out" || fail "reload error names file:line:column" "vipd.toml:2:8:" "$out"
ok "vipd reload refused it: $(grep -m1 'vipd.toml:' <<<"$out")"
seen="$(log_count "reload of .* refused: .*vipd.toml:2:8")"
kill -HUP "${VIPD_PID[n1]}"
wait_until "SIGHUP with the invalid file logged the error" 5 log_grew "reload of .* refused: .*vipd.toml:2:8" "$seen"
stays_true "n1 keeps running its old configuration as master" 1 only_holder n1
assert_eq "n1 still advertises priority 120" 120 "$(status_field n1 'i["priority"]["effective"]')"
cp "$VT_TMP/n1/vipd.good" "$VT_TMP/n1/vipd.toml"

step "a second VIP on both nodes, in place"
two='["192.0.2.50/24", "192.0.2.51/24"]'
vipd_conf n1 priority=120 advert_interval=200ms "notify=$n1_notify" "virtual_ips=$two"
vipd_conf n2 priority=100 advert_interval=200ms "notify=$n2_notify" "virtual_ips=$two"
out="$(reload)" || fail "vipd reload of n1 with a second VIP" "exit 0" "$out"
out2="$(nsx n2 "$VIPD_BIN" reload --socket "$VT_TMP/n2/vipd.sock")" || fail "vipd reload of n2" "exit 0" "$out2"
wait_until "n1 holds 192.0.2.51 too" 5 only_holder n1 192.0.2.51
# Between the two reloads n2 may drop an advert for the other address set;
# once both run the new one, none.
mismatches() { status_field n2 'i["counters"]["adverts_dropped"].get("address_mismatch", 0)'; }
dropped="$(mismatches)"
stays_true "n1 keeps both VIPs and n2 neither" 1 only_holder n1
assert_eq "n1 transitions (none for the new VIP)" "$t1" "$(transitions n1)"
assert_eq "adverts dropped by n2 for another address set since both reloaded" "$dropped" "$(mismatches)"

step "an instance added, re-identified (new VRID), then removed"
web() { printf '[instances.web]\ninterface = "eth0"\nvrid = %s\nadvert_interval = "200ms"\nvirtual_ips = ["192.0.2.53/24"]\n' "$1"; }
vipd_conf n1 priority=120 advert_interval=200ms "notify=$n1_notify" "virtual_ips=$two" "extra=$(web 53)"
out="$(reload)" || fail "vipd reload adding an instance" "exit 0" "$out"
grep -q "instance web added" <<<"$out" || fail "reload output" "instance web added" "$out"
wait_until "n1's new instance takes 192.0.2.53" 5 only_holder n1 192.0.2.53
vipd_conf n1 priority=120 advert_interval=200ms "notify=$n1_notify" "virtual_ips=$two" "extra=$(web 54)"
out="$(reload)" || fail "vipd reload with a new VRID" "exit 0" "$out"
grep -q "instance web restarted (vrid 53 -> 54)" <<<"$out" || fail "reload output" "instance web restarted (vrid 53 -> 54)" "$out"
wait_until "the restarted instance holds 192.0.2.53 again" 5 only_holder n1 192.0.2.53
advertises_54() { nsx n1 "$VIPD_BIN" status --json --socket "$VT_TMP/n1/vipd.sock" | grep -q '"vrid": 54'; }
wait_until "status shows vrid 54" 5 advertises_54
vipd_conf n1 priority=120 advert_interval=200ms "notify=$n1_notify" "virtual_ips=$two"
out="$(reload)" || fail "vipd reload removing an instance" "exit 0" "$out"
grep -q "instance web removed" <<<"$out" || fail "reload output" "instance web removed" "$out"
wait_until "192.0.2.53 is gone" 5 only_holder "" 192.0.2.53
stays_true "the other instance kept its VIPs throughout" 1 only_holder n1
assert_eq "transitions of instance vip through all this" "$t1" "$(transitions n1)"

step "priority 120 -> 90: below n2, which preempts"
vipd_conf n1 priority=90 advert_interval=200ms "notify=$n1_notify" "virtual_ips=$two"
out="$(reload)" || fail "vipd reload of a lower priority" "exit 0" "$out"
wait_until "n2 takes the VIP over" 5 only_holder n2
wait_until "n2 takes the second VIP over" 5 only_holder n2 192.0.2.51
assert_eq "n1 state" "BACKUP" "$(status_field n1 'i["state"]')"
ok "n1 went BACKUP once: $(transitions n1) transitions in all"

step "a new tracked check (+50 while healthy), its interval changed, then failing"
flag="$VT_TMP/n1/healthy"
touch "$flag"
flagcheck() {
    printf 'track_checks = ["flag"]\n\n[checks.flag]\ncommand = ["/usr/bin/test", "-e", "%s"]\ninterval = "%s"\nweight = 50\n' "$flag" "$1"
}
vipd_conf n1 priority=90 advert_interval=200ms "notify=$n1_notify" "virtual_ips=$two" "extra=$(flagcheck 200ms)"
out="$(reload)" || fail "vipd reload adding a tracked check" "exit 0" "$out"
wait_until "n1 (90 + 50) preempts n2 again" 5 only_holder n1
t2="$(transitions n1)"
vipd_conf n1 priority=90 advert_interval=200ms "notify=$n1_notify" "virtual_ips=$two" "extra=$(flagcheck 300ms)"
out="$(reload)" || fail "vipd reload changing the check's interval" "exit 0" "$out"
stays_true "the restarted check keeps n1 healthy and master" 1 only_holder n1
assert_eq "n1 transitions across the check's restart" "$t2" "$(transitions n1)"
rm -f "$flag"
wait_until "the check fails: n1 back to 90, n2 takes over" 5 only_holder n2

step "a sync group around the instance"
t3="$(transitions n1)"
group="$(printf '\n[sync_groups.pair]\ninstances = ["vip"]\n')"
vipd_conf n1 priority=90 advert_interval=200ms "notify=$n1_notify" "virtual_ips=$two" "extra=$group"
out="$(reload)" || fail "vipd reload adding a sync group" "exit 0" "$out"
grep -q "sync groups updated" <<<"$out" || fail "reload output" "sync groups updated" "$out"
in_group() { nsx n1 "$VIPD_BIN" status --json --socket "$VT_TMP/n1/vipd.sock" | grep -q '"name": "pair"'; }
wait_until "status lists sync group pair" 5 in_group
stays_true "n2 keeps the VIP" 1 only_holder n2
assert_eq "n1 transitions across the group change" "$t3" "$(transitions n1)"
