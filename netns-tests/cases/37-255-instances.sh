#!/usr/bin/env bash
# 255 instances on one interface: the whole VRID space of IPv4 on eth0.
# Two nodes, instances v1..v255 (VRID 1..255), each with one VIP (VRIDs
# 1..128: 198.51.100.VRID, 129..255: 203.0.113.(VRID - 128)), 1 s adverts;
# n1 has priority 150, n2 100. Asserted from outside the daemons:
# - every VIP ends up on n1 and none on n2 (ip addr), and stays so for longer
#   than n2's Master_Down_Interval (n2 hears all 255 masters in time);
# - `vipd status` shows 255 MASTER on n1 and 255 BACKUP on n2;
# - n1 crashes (SIGKILL, link down): all 255 move to n2, whose status shows
#   255 MASTER;
# - n2 stops gracefully (exit 0): it removes every VIP; none is held anywhere.
source "$(dirname "$0")/../lib.sh"

topo_up n1 n2 client
N=255
vip_of() { if (($1 <= 128)); then echo "198.51.100.$1"; else echo "203.0.113.$(($1 - 128))"; fi; }

# conf NODE PRIORITY: N instances on eth0.
conf() {
    local node="$1" priority="$2" vrid
    {
        echo "[global]"
        echo "node_name = \"$node\""
        echo "control_socket = \"$VT_TMP/$node/vipd.sock\""
        for vrid in $(seq 1 "$N"); do
            echo
            echo "[instances.v$vrid]"
            echo "interface = \"eth0\""
            echo "vrid = $vrid"
            echo "priority = $priority"
            echo "advert_interval = \"1s\""
            echo "virtual_ips = [\"$(vip_of "$vrid")/32\"]"
        done
    } >"$VT_TMP/$node/vipd.toml"
}

# vips_on NODE [all]: how many of the N VIPs NODE's eth0 carries while up
# (with "all": also while down).
vips_on() {
    local up=up
    [[ "${2:-}" == all ]] && up=""
    # shellcheck disable=SC2086  # $up: an optional word
    ip -n "$(ns "$1")" -4 -o addr show dev eth0 $up 2>/dev/null |
        awk '$4 ~ /^(198\.51\.100|203\.0\.113)\./ { n++ } END { print n + 0 }'
}
vips_are() { [[ "$(vips_on "$1" "${3:-}")" == "$2" ]]; }
# states NODE: "MASTER=n BACKUP=n ..." from `vipd status`, sorted.
states() {
    status_json "$1" | python3 -c '
import collections, json, sys
c = collections.Counter(i["state"] for i in json.load(sys.stdin)["instances"])
print(" ".join(f"{s}={n}" for s, n in sorted(c.items())))' 2>/dev/null
}
states_are() { [[ "$(states "$1")" == "$2" ]]; }
n1_only() { vips_are n1 "$N" && vips_are n2 0; }

conf n1 150
conf n2 100
start_vipd n1
wait_until "n1 holds all $N VIPs" 20 vips_are n1 "$N"
start_vipd n2
wait_until "n2's status shows $N BACKUP" 10 states_are n2 "BACKUP=$N"
assert_eq "n1's status" "MASTER=$N" "$(states n1)"
check "every VIP is on n1 and none on n2" n1_only
# Longer than n2's Master_Down_Interval (3 s + skew): n2 hears every master.
stays_true "all $N VIPs stay on n1 only" 5 n1_only
assert_eq "n2's status after that" "BACKUP=$N" "$(states n2)"
# The client reaches VIPs on the shared link (on-link routes to both ranges).
for net in 198.51.100.0/24 203.0.113.0/24; do ip -n "$(ns client)" route add "$net" dev eth0; done
reaches_via() { ping_ok "$2" && client_neigh_is "$(node_mac "$1")" "$2"; }
for vrid in 1 128 129 "$N"; do wait_until "the client reaches $(vip_of "$vrid") at n1's MAC" 5 reaches_via n1 "$(vip_of "$vrid")"; done

step "n1 crashes: all $N move to n2"
crash_node n1
wait_until "n2 holds all $N VIPs" 20 vips_are n2 "$N"
wait_until "n2's status shows $N MASTER" 10 states_are n2 "MASTER=$N"
assert_eq "VIPs held by n1 (link down)" 0 "$(vips_on n1)"
for vrid in 1 128 129 "$N"; do wait_until "the client reaches $(vip_of "$vrid") at n2's MAC" 5 reaches_via n2 "$(vip_of "$vrid")"; done

step "n2 stops gracefully"
kill_vipd n2 TERM
assert_eq "n2's exit status" 0 "$VIPD_RC"
assert_eq "VIPs left on n2's eth0" 0 "$(vips_on n2 all)"
assert_eq "VIPs held by n1 (link down)" 0 "$(vips_on n1)"
