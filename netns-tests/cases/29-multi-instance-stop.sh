#!/usr/bin/env bash
# When several instances of one node remove their VIPs at the same moment,
# every VIP must go:
#   1. SIGTERM with 12 instances (6 IPv4, 6 IPv6), all master;
#   2. a sync group of three instances stepping down together when a
#      higher-priority node appears.
# Found while writing the interop cases (docs/conformance.md, bug A, fixed
# in 714ca67): the VIP workers share one rtnetlink socket and each removal
# starts with an address dump; the kernel runs one dump per netlink socket
# at a time and answered a concurrent one with EBUSY, so some instances
# logged "cannot remove ...: Device or resource busy (os error 16)" and left
# their VIP on eth0 while another node held it: a duplicate address.
source "$(dirname "$0")/../peers.sh"

topo_up n1 n2 client

# vipd_instances NODE PRIORITY SPEC...: a config with one instance per SPEC
# (NAME:VRID:VIP/PREFIX), 100 ms adverts; SYNC (if set) lists a sync group.
vipd_instances() {
    local node="$1" priority="$2" spec name rest vrid vip
    shift 2
    {
        echo "[global]"
        echo "node_name = \"$node\""
        echo "control_socket = \"$VT_TMP/$node/vipd.sock\""
        for spec in "$@"; do
            name="${spec%%:*}" rest="${spec#*:}"
            vrid="${rest%%:*}" vip="${rest#*:}"
            echo
            echo "[instances.$name]"
            echo "interface = \"eth0\""
            echo "vrid = $vrid"
            echo "priority = $priority"
            echo "advert_interval = \"100ms\""
            echo "virtual_ips = [\"$vip\"]"
        done
        if [[ -n "${SYNC:-}" ]]; then
            echo
            echo "[sync_groups.g]"
            echo "instances = $SYNC"
        fi
    } >"$VT_TMP/$node/vipd.toml"
}
held_by() { local v; for v in "${@:2}"; do has_addr "$1" "$v" || return 1; done; }
none_on() { local v; for v in "${@:2}"; do if has_addr "$1" "$v"; then return 1; fi; done; }
leftovers() { local v out=(); for v in "${@:2}"; do if has_addr "$1" "$v"; then out+=("$v"); fi; done; echo "${out[*]:-}"; }
problems=()

step "1. SIGTERM with 12 instances"
specs=() vips=()
for i in 1 2 3 4 5 6; do
    specs+=("v4_$i:$((60 + i)):192.0.2.$((60 + i))/24" "v6_$i:$((60 + i)):2001:db8::$((60 + i))/64")
    vips+=("192.0.2.$((60 + i))" "2001:db8::$((60 + i))")
done
vipd_instances n1 100 "${specs[@]}"
start_vipd n1
wait_until "n1 holds all ${#vips[@]} VIPs" 10 held_by n1 "${vips[@]}"
kill_vipd n1 TERM
assert_eq "vipd's exit status" 0 "$VIPD_RC"
left="$(leftovers n1 "${vips[@]}")"
if [[ -n "$left" ]]; then
    problems+=("after SIGTERM, left on n1's eth0: $left")
    log "after SIGTERM, left on n1's eth0: $left"
    for v in "${vips[@]}"; do ip -n "$(ns n1)" addr del "$v/$([[ $v == *:* ]] && echo 64 || echo 24)" dev eth0 2>/dev/null || true; done
else
    ok "no VIP left on eth0 after SIGTERM"
fi

step "2. a sync group of three steps down together"
vips=(192.0.2.71 192.0.2.72 2001:db8::73)
group=(a:71:192.0.2.71/24 b:72:192.0.2.72/24 c:73:2001:db8::73/64)
SYNC='["a", "b", "c"]' vipd_instances n1 100 "${group[@]}"
SYNC='["a", "b", "c"]' vipd_instances n2 150 "${group[@]}"
start_vipd n1
wait_until "n1 holds the group's VIPs" 10 held_by n1 "${vips[@]}"
start_vipd n2
wait_until "n2 (priority 150) takes the group's VIPs" 10 held_by n2 "${vips[@]}"
if poll_until 3 0.05 none_on n1 "${vips[@]}"; then
    ok "n1 removed every VIP of the group"
else
    left="$(leftovers n1 "${vips[@]}")"
    problems+=("after the sync group stepped down, left on n1's eth0 (and held by n2): $left")
    log "after the sync group stepped down, left on n1's eth0 (and held by n2): $left"
fi

if ((${#problems[@]})); then
    fail "every VIP removed when several instances remove theirs at once" "none left behind" \
        "$(printf '%s; ' "${problems[@]}")n1's log: $(grep -c "cannot remove" "$VT_TMP/n1/vipd.log") x '$(grep -m1 -o "cannot remove.*" "$VT_TMP/n1/vipd.log")'"
fi
