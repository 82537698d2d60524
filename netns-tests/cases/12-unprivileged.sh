#!/usr/bin/env bash
# vipd as an unprivileged user (nobody) holding only CAP_NET_RAW and
# CAP_NET_ADMIN wins an election, moves the VIP to itself, and on SIGTERM
# gives it back on SIGINT (exit 0, no VIP left).
source "$(dirname "$0")/../lib.sh"

topo_up n1 n2 client
# nobody must reach the binary, the config, the log and the socket's
# directory: a copy of the binary in our temp dir, n1's dir owned by nobody.
mkdir -p "$VT_TMP/bin"
install -m 755 "$VIPD_BIN" "$VT_TMP/bin/vipd"
start_vipd n2 priority=100
wait_until "n2 (root) holds $VIP4" 5 only_holder n2

vipd_conf n1 priority=150
: >"$VT_TMP/n1/vipd.log"
chown -R nobody:nogroup "$VT_TMP/n1"
VIPD_BIN="$VT_TMP/bin/vipd"
# shellcheck disable=SC2054  # the commas belong to setpriv options
VIPD_WRAP=(setpriv --reuid=nobody --regid=nogroup --clear-groups
    --inh-caps=+net_raw,+net_admin --ambient-caps=+net_raw,+net_admin)
start_vipd n1
# shellcheck disable=SC2034  # read by start_vipd in lib.sh
VIPD_WRAP=()
pid="${VIPD_PID[n1]}"
is_vipd() { [[ "$(cat "/proc/$pid/comm" 2>/dev/null)" == vipd ]]; }
wait_until "n1's vipd is running (exec'd through setpriv)" 2 is_vipd
uid="$(awk '/^Uid:/ { print $3 }' "/proc/$pid/status")"
capeff="$(awk '/^CapEff:/ { print $2 }' "/proc/$pid/status")"
assert_eq "n1's vipd runs as nobody (effective uid)" "$(id -u nobody)" "$uid"
# CAP_NET_ADMIN is bit 12, CAP_NET_RAW bit 13: 0x3000.
assert_eq "n1's effective capabilities: only CAP_NET_ADMIN and CAP_NET_RAW" 0000000000003000 "$capeff"

wait_until "unprivileged n1 (150) takes $VIP4 from n2" 3 only_holder n1
client_ping "$VIP4" 2 || fail "client ping" "replies" "$(cat "$VT_TMP/ping.out")"
assert_eq "client's neighbour entry has n1's MAC" "$(node_mac n1)" "$(client_neigh_mac)"

step "SIGINT the unprivileged vipd (the same as SIGTERM)"
kill_vipd n1 INT
assert_eq "exit status" 0 "$VIPD_RC"
check "n1 removed $VIP4" not_ has_addr n1
wait_until "n2 takes $VIP4 back" 2 only_holder n2
