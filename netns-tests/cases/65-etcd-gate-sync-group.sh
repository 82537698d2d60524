#!/usr/bin/env bash
# Issue 11, the leadership gate on a sync group: on n1 (priority 150) and n2
# (100), instances "vip" (VRID 51, 192.0.2.50) and "app" (VRID 52,
# 192.0.2.52) form the sync group "pair", which must hold the etcd key
# /vipd/gate/pair for its members to be MASTER; etcd has one member on each
# of n1, n2 and n3. The group's hooks log each transition (the BACKUP and
# STOP ones take a second, as a fence would).
#   1. n1's group takes the key and both addresses; n2 is told who holds it.
#   2. n1 cut off from both others: both its members step down before the
#      lease runs out; n2's group takes the key and both addresses after.
#   3. n2 stopped (SIGTERM): the key goes only after both addresses are gone
#      and the group's STOP hook has finished; n1 takes over at once.
# Read from outside: `ip monitor` on both nodes (never two holders of either
# address), etcd's watch on the key, the hooks' log.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/../etcd.sh"
source "$(dirname "$0")/../vip-manager.sh"

KEY=/vipd/gate/pair
APP_VIP=192.0.2.52
topo_up n1 n2 n3 client
etcd_up n1 n2 n3

# group_hook NODE: a group notify script logging "<time> <state>" to
# $VT_TMP/NODE/group.log; BACKUP and STOP take a second before they log.
group_hook() {
    local node="$1" script="$VT_TMP/$1/group-hook.sh"
    mkdir -p "$VT_TMP/$node"
    : >"$VT_TMP/$node/group.log"
    cat >"$script" <<SCRIPT
#!/bin/sh
case "\$3" in BACKUP|STOP) sleep 1 ;; esac
echo "\$(date +%s.%N) \$3" >>"$VT_TMP/$node/group.log"
SCRIPT
    chmod 755 "$script"
    echo "[\"$script\"]"
}

group_vipd() {
    local node="$1" priority="$2" hook
    hook="$(group_hook "$node")"
    start_vipd "$node" priority="$priority" advert_interval=1s preempt=false \
        global="$(printf '\n[etcd]\nendpoints = %s\nrequest_timeout = "500ms"' "$(etcd_endpoints_toml)")" \
        extra="$(printf '%s\n' \
            '[instances.app]' 'interface = "eth0"' 'vrid = 52' "priority = $priority" \
            'advert_interval = "1s"' 'preempt = false' "virtual_ips = [\"$APP_VIP/24\"]" \
            '[sync_groups.pair]' 'instances = ["vip", "app"]' "notify = $hook" \
            "leadership = { key = \"$KEY\", ttl = \"5s\" }")"
}
holder_in_etcd() { [[ "$(etcd_get "$KEY")" == "$1" ]]; }
holds_both() { only_holder "$1" "$VIP4" && only_holder "$1" "$APP_VIP"; }
group_standing() { status_json "$1" | jfield 'd["sync_groups"][0]["leadership"]["standing"]' 2>/dev/null; }
# group_logged NODE STATE [SINCE]: the time NODE's group hook logged STATE.
group_logged() { awk -v s="${3:-0}" -v st="$2" '$1 >= s && $2 == st { print $1; exit }' "$VT_TMP/$1/group.log"; }

# one_holder_each SINCE WHAT: neither address had two holders since SINCE.
one_holder_each() {
    local addr max overlap gap
    for addr in "$VIP4" "$APP_VIP"; do
        read -r max overlap gap <<<"$(vip_events_summary "$addr" "$1")"
        log "$2: $addr had at most $max holder(s), ${overlap} ms with two, ${gap} ms with none"
        ((max <= 1)) || fail "holders of $addr after: $2" "at most 1" "$max"
    done
}

vip_events_start n1 n2
etcd_watch_start pair "$KEY" v3

step "n1's group takes the key and both addresses; n2 is refused"
group_vipd n1 150
wait_until "n1 holds $VIP4 and $APP_VIP" 15 holds_both n1
check "etcd says n1 holds $KEY" holder_in_etcd n1
assert_eq "the group's lock as vipd status shows it" held "$(group_standing n1)"
wait_until "n1's group hook ran for MASTER" 10 eval '[[ -n "$(group_logged n1 MASTER)" ]]'
group_vipd n2 100
wait_until "n2's members are BACKUP" 10 state_is n2 BACKUP
t0="$(now)"
stays_true "n1 alone holds both addresses" 3 holds_both n1

step "n1 cut off from n2 and n3: its group steps down whole before n2's takes the key"
t0="$(now)"
port_block n1
wait_until "n2 is told that n1 holds the leadership" 15 log_has n2 "leadership held by n1"
wait_until "n2 holds $VIP4 and $APP_VIP" 20 holds_both n2
check "n1's members stepped down by themselves" log_has n1 "leadership lease not renewed in time"
check "etcd says n2 holds $KEY" holder_in_etcd n2
one_holder_each "$t0" "n1 cut off"
for addr in "$VIP4" "$APP_VIP"; do
    gone="$(vip_event_first n1 del "$addr" "$t0")"
    taken="$(vip_event_first n2 add "$addr" "$t0")"
    [[ -n "$gone" && -n "$taken" ]] || fail "$addr moved from n1 to n2" "a removal and an add" "del '$gone' add '$taken'"
    log "MEASURED $addr: removed on n1 $(awk -v a="$gone" -v b="$taken" 'BEGIN { printf "%.0f", (b - a) * 1000 }') ms before n2 added it"
done
port_unblock n1
wait_until "n1 is BACKUP behind n2" 10 state_is n1 BACKUP
stays_true "n2 alone holds both addresses once n1 is back" 3 holds_both n2

step "n2 stopped: its key goes only after both addresses and the group's STOP hook"
t0="$(now)"
kill_vipd n2 TERM
wait_until "n1 holds $VIP4 and $APP_VIP" 15 holds_both n1
one_holder_each "$t0" "n2 stopped"
stop_hook="$(group_logged n2 STOP "$t0")"
released="$(etcd_watch_first pair - "$t0")"
[[ -n "$stop_hook" && -n "$released" ]] || fail "n2's STOP hook and the key's release were seen" "both" "hook '$stop_hook' release '$released'"
for addr in "$VIP4" "$APP_VIP"; do
    gone="$(vip_event_first n2 del "$addr" "$t0")"
    check "n2 removed $addr before it released $KEY" awk -v a="$gone" -v b="$released" 'BEGIN { exit !(a != "" && a <= b) }'
done
check "n2's group STOP hook finished before $KEY was released" \
    awk -v a="$stop_hook" -v b="$released" 'BEGIN { exit !(a <= b) }'
wait_until "etcd says n1 holds $KEY" 10 holder_in_etcd n1
log "MEASURED n2's STOP hook ended $(awk -v a="$stop_hook" -v b="$released" 'BEGIN { printf "%.0f", (b - a) * 1000 }') ms before the key was released"
