#!/usr/bin/env bash
# scripts/demo.sh: watch vipd move a virtual IP when the master dies.
#
#   sudo scripts/demo.sh
#
# Builds vipd, then, inside private network namespaces (nothing on this
# machine's own interfaces is touched), starts two nodes and a client on a
# virtual switch, pings the virtual IP from the client without pause, kills
# the master (SIGKILL and its link down) and shows the pings going on through
# the backup. Everything it creates is removed when it ends, however it ends.
#
# Environment: VIPD_BIN (use this binary instead of building),
# DEMO_ADVERT_INTERVAL (default 100ms; try 1s, keepalived's default).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"

if [[ -t 1 ]]; then bold=$'\033[1m' plain=$'\033[0m'; else bold="" plain=""; fi
heading() { printf '\n%s== %s%s\n' "$bold" "$*" "$plain"; }
say() { printf '   %s\n' "$*"; }

if [[ "$(id -u)" != 0 ]]; then
    echo "demo.sh needs root (it creates network namespaces): sudo $0" >&2
    exit 1
fi

heading "Checking tools"
need=()
command -v ip >/dev/null || need+=(iproute2)
command -v ping >/dev/null || need+=(iputils-ping)
# etcd-client compiles etcd's protocol definitions at build time.
command -v protoc >/dev/null || need+=(protobuf-compiler)
if ((${#need[@]})); then
    say "installing ${need[*]}"
    apt-get install -y -qq "${need[@]}" >/dev/null
fi
say "ip and ping are here"

if [[ -z "${VIPD_BIN:-}" ]]; then
    heading "Building vipd (cargo build)"
    command -v cargo >/dev/null || { echo "cargo not found: install Rust (https://rustup.rs) first" >&2; exit 1; }
    (cd "$repo" && cargo build --quiet --bin vipd)
    export VIPD_BIN="$repo/target/debug/vipd"
fi
say "using $VIPD_BIN"

# lib.sh: namespaces named vt<PID>-*, cleanup trap on every exit path.
VT_QUIET=1
source "$repo/netns-tests/lib.sh"
interval="${DEMO_ADVERT_INTERVAL:-100ms}"

heading "Building the network"
topo_up n1 n2 client
say "switch  : a Linux bridge in namespace $(ns sw)"
say "node n1 : 192.0.2.11  MAC $(node_mac n1)   priority 150"
say "node n2 : 192.0.2.12  MAC $(node_mac n2)   priority 100"
say "client  : 192.0.2.100 MAC $(node_mac client)"
say "virtual IP: $VIP4_CIDR, VRRPv3, adverts every $interval"

heading "Starting vipd on both nodes"
start_vipd n1 priority=150 advert_interval="$interval"
start_vipd n2 priority=100 advert_interval="$interval"
poll_until 15 0.05 only_holder n1 || fail "n1 did not take the virtual IP"
say "the VIP is on: $(vip_holders)   (n1 won the election: higher priority)"
ip -n "$(ns n1)" -br addr show dev eth0 | sed 's/^/   n1: /'
ip -n "$(ns n2)" -br addr show dev eth0 | sed 's/^/   n2: /'

heading "Client pings $VIP4 every 20 ms"
: >"$VT_TMP/demo-ping.out"
# ip netns exec execs ping: $! is ping itself, and SIGINT makes it print its summary.
ip netns exec "$(ns client)" ping -n -i 0.02 -W 1 "$VIP4" >"$VT_TMP/demo-ping.out" 2>&1 &
ping_pid=$!
record_pid "$ping_pid"
replies() { local n; n="$(grep -cs 'bytes from' "$VT_TMP/demo-ping.out")" || true; echo "${n:-0}"; }
poll_until 5 0.05 eval '(( $(replies) >= 25 ))' || fail "the client gets no replies from $VIP4"
say "replies are coming back: $(replies) so far"
say "client's ARP entry for the VIP: $(client_neigh)   (= n1's MAC)"

heading "Killing the master: SIGKILL vipd on n1 and pull its cable"
crash_node n1
t0="$(now)"
poll_until 15 0.02 only_holder n2 || fail "n2 did not take over"
say "n2 holds the VIP $(elapsed_ms "$t0") ms later"
poll_until 3 0.02 client_neigh_is "$(node_mac n2)" || true
say "client's ARP entry for the VIP: $(client_neigh)   (= n2's MAC, from n2's gratuitous ARP)"
before="$(replies)"
poll_until 10 0.05 eval '(( $(replies) >= before + 50 ))' || fail "pings did not resume through n2"
say "pings go on through n2: $(($(replies) - before)) more replies"

heading "Ping summary"
stop_pid "$ping_pid" INT 3
grep -E 'packets transmitted|rtt' "$VT_TMP/demo-ping.out" | sed 's/^/   /'
awk '/packets transmitted/ {
        sent = $1; got = $4
        printf "   sent %d, received %d, lost %d (about %d ms without answers at 20 ms per ping)\n",
            sent, got, sent - got, (sent - got) * 20
     }' "$VT_TMP/demo-ping.out"

heading "What the daemons logged"
grep -hE -- '->' "$VT_TMP/n1/vipd.log" | sed 's/^/   n1: /'
grep -hE -- '->' "$VT_TMP/n2/vipd.log" | sed 's/^/   n2: /'

heading "Cleaning up"
say "stopping vipd and removing namespaces $(ns '*')"
