#!/usr/bin/env bash
# capture-fixtures.sh: regenerate the VRRP wire fixtures in core/tests/fixtures/.
#
# What it does:
#   * creates private network namespaces (all named vfx-*): a "switch"
#     namespace holding a Linux bridge, and node namespaces joined to it by
#     veth pairs (no interface is ever created in the root namespace);
#   * runs real peers in the nodes: keepalived (several VRRP instances,
#     VRRPv2 and VRRPv3, IPv4 and IPv6, multicast and unicast) and FRR
#     (zebra + vrrpd, VRRPv2/v3 IPv4 and VRRPv3 IPv6);
#   * captures every frame entering the bridge with tcpdump into a temp dir;
#   * stops keepalived with SIGTERM so that it sends its priority-0 adverts;
#   * picks one frame per case, checks it with tshark's dissectors against the
#     values configured here, and writes each frame as lowercase hex
#     (core/tests/fixtures/*.hex) plus a manifest (core/tests/fixtures/captures.toml);
#   * cleans up on every exit path: kills only the PIDs it started and deletes
#     only the namespaces it created.
#
# Addresses used: 192.0.2.0/24, 2001:db8::/32 and IPv6 link-local only.
# Needs root (namespaces, raw sockets, packet capture):
#     sudo netns-tests/capture-fixtures.sh
# Needs the Debian packages keepalived, frr, tcpdump, tshark, iproute2.
# Set VFX_OUT_DIR to write the fixtures somewhere else.

set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(cd "$SCRIPT_DIR/.." && pwd)
OUT_DIR=${VFX_OUT_DIR:-$REPO_DIR/core/tests/fixtures}

FRR_BIN=/usr/lib/frr

NS_SW=vfx-sw
NS_KA=vfx-ka
NS_PEER=vfx-peer
NS_FRR=vfx-frr
ALL_NS=("$NS_SW" "$NS_KA" "$NS_PEER" "$NS_FRR")

# Node addressing (deterministic MACs give deterministic link-local addresses).
KA_MAC=02:00:00:00:00:11
KA_IP4=192.0.2.11
KA_IP6=2001:db8::11
KA_LL=fe80::ff:fe00:11          # EUI-64 of KA_MAC
PEER_MAC=02:00:00:00:00:12
PEER_IP4=192.0.2.12
PEER_IP6=2001:db8::12
FRR_MAC=02:00:00:00:00:21
FRR_IP4=192.0.2.21
FRR_IP6=2001:db8::21
FRR_V6_LL=fe80::5e:2:3e          # link-local we give FRR's IPv6 macvlan (vrid 62)

# Bounded waits (seconds).
T_SETUP=15
T_FRAMES=60
T_STOP=15

WORK=""
CREATED_NS=()
STARTED_PIDS=()     # processes started directly (tcpdump, zebra, vrrpd)
STARTED_PGIDS=()    # process groups started with setsid (keepalived)

log() { printf '[capture-fixtures] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# True while PID exists and is not a zombie.
alive() {
    local st
    st=$(ps -o stat= -p "$1" 2>/dev/null) || return 1
    [[ -n $st && $st != Z* ]]
}

gone() { ! alive "$1"; }

# started PID COMM: PID (started via "ip netns exec", which execs) now runs COMM.
is_comm() { [[ $(ps -o comm= -p "$1" 2>/dev/null) == "$2" ]]; }
started() { wait_until "pid $1 to run $2" 5 is_comm "$1" "$2"; }

# PIDs in process group $1 that are still running (not zombies).
pgroup_members() {
    ps -e -o pid=,pgid=,stat= | awk -v g="$1" '$2 == g && $3 !~ /^Z/ { print $1 }'
}

# wait_until DESCRIPTION TIMEOUT_SECONDS COMMAND...: poll COMMAND until it
# succeeds, or fail after the deadline.
wait_until() {
    local desc=$1 timeout=$2
    shift 2
    local deadline=$((SECONDS + timeout))
    until "$@"; do
        if ((SECONDS >= deadline)); then
            log "timed out after ${timeout}s waiting for: $desc"
            return 1
        fi
        sleep 0.2
    done
}

# stop_pid PID SIGNAL: signal one of our processes and wait (bounded) for it.
stop_pid() {
    local pid=$1 sig=$2
    alive "$pid" || { wait "$pid" 2>/dev/null || true; return 0; }
    kill "-$sig" "$pid" 2>/dev/null || true
    if ! wait_until "pid $pid to exit" "$T_STOP" gone "$pid"; then
        kill -KILL "$pid" 2>/dev/null || true
        sleep 0.2
    fi
    alive "$pid" || wait "$pid" 2>/dev/null || true
}

pgroup_empty() { [[ -z $(pgroup_members "$1") ]]; }

# stop_pgroup PGID SIGNAL: signal the leader (keepalived parent) and wait for
# the whole group; SIGKILL the group if it does not go away in time.
stop_pgroup() {
    local pg=$1 sig=$2
    if ! pgroup_empty "$pg"; then
        kill "-$sig" "$pg" 2>/dev/null || true
        if ! wait_until "process group $pg to exit" "$T_STOP" pgroup_empty "$pg"; then
            kill -KILL -- "-$pg" 2>/dev/null || true
        fi
    fi
    alive "$pg" || wait "$pg" 2>/dev/null || true
}

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    set +e
    local pg pid ns
    for pg in "${STARTED_PGIDS[@]}"; do
        pgroup_empty "$pg" || kill -TERM -- "-$pg" 2>/dev/null
    done
    for pid in "${STARTED_PIDS[@]}"; do
        alive "$pid" && kill -TERM "$pid" 2>/dev/null
    done
    local deadline=$((SECONDS + T_STOP))
    while ((SECONDS < deadline)); do
        local busy=0
        for pg in "${STARTED_PGIDS[@]}"; do pgroup_empty "$pg" || busy=1; done
        for pid in "${STARTED_PIDS[@]}"; do alive "$pid" && busy=1; done
        ((busy)) || break
        sleep 0.2
    done
    for pg in "${STARTED_PGIDS[@]}"; do
        pgroup_empty "$pg" || kill -KILL -- "-$pg" 2>/dev/null
    done
    for pid in "${STARTED_PIDS[@]}"; do
        alive "$pid" && kill -KILL "$pid" 2>/dev/null
    done
    # reap (never blocks: only processes that are already gone)
    for pid in "${STARTED_PIDS[@]}" "${STARTED_PGIDS[@]}"; do
        alive "$pid" || wait "$pid" 2>/dev/null
    done
    for ns in "${CREATED_NS[@]}"; do
        ip netns del "$ns" 2>/dev/null
    done
    if ((rc != 0)) && [[ -n $WORK && -d $WORK ]]; then
        log "failed (exit $rc); peer logs follow"
        for f in "$WORK"/*.log "$WORK"/frr/*.log; do
            [[ -f $f ]] || continue
            log "---- $f (last 30 lines)"
            tail -n 30 "$f" >&2
        done
    fi
    [[ -n $WORK && -d $WORK ]] && rm -rf "$WORK"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------- preflight
((EUID == 0)) || die "must run as root"
for tool in ip tcpdump tshark editcap keepalived od setsid; do
    command -v "$tool" >/dev/null || die "missing tool: $tool"
done
for tool in zebra vrrpd; do
    [[ -x $FRR_BIN/$tool ]] || die "missing $FRR_BIN/$tool (install frr)"
done

KA_VERSION=$(keepalived --version 2>&1 | sed -n 's/^Keepalived v\([^ ]*\).*/\1/p' | awk 'NR == 1')
FRR_VERSION=$("$FRR_BIN/vrrpd" --version 2>&1 | sed -n 's/^vrrpd version \([^ ]*\).*/\1/p' | awk 'NR == 1')
[[ -n $KA_VERSION && -n $FRR_VERSION ]] || die "cannot read keepalived/vrrpd versions"
KA_SOURCE="keepalived $KA_VERSION"
FRR_SOURCE="FRR vrrpd $FRR_VERSION"
log "using $KA_SOURCE and $FRR_SOURCE"

# Leftovers of an interrupted earlier run of this script: stop whatever runs
# inside our own vfx-* namespaces (by PID) and delete them.
for ns in "${ALL_NS[@]}"; do
    if ip netns list | awk '{print $1}' | grep -qx "$ns"; then
        log "removing stale namespace $ns"
        for pid in $(ip netns pids "$ns" 2>/dev/null); do
            kill -KILL "$pid" 2>/dev/null || true
        done
        ip netns del "$ns"
    fi
done

WORK=$(mktemp -d /tmp/vfx-capture.XXXXXX)
chmod 755 "$WORK"
mkdir -p "$WORK/frr" "$WORK/out"
chown frr:frr "$WORK/frr"

# ---------------------------------------------------------------- topology
# (only for short foreground commands: a background job must be started with
# "ip netns exec" directly so that $! is the PID of the real program)
nsx() { local ns=$1; shift; ip netns exec "$ns" "$@"; }

for ns in "${ALL_NS[@]}"; do
    ip netns add "$ns"
    CREATED_NS+=("$ns")
    ip -n "$ns" link set lo up
done

# The switch namespace: bridge without IPv6, STP or multicast snooping, so it
# floods every frame and emits nothing of its own.
nsx "$NS_SW" sysctl -qw net.ipv6.conf.all.disable_ipv6=1
nsx "$NS_SW" sysctl -qw net.ipv6.conf.default.disable_ipv6=1
ip -n "$NS_SW" link add br0 type bridge stp_state 0 mcast_snooping 0
ip -n "$NS_SW" link set br0 up

# add_node NS PORT MAC IP4 IP6: veth created inside the switch namespace with
# its peer end created directly inside the node namespace (as eth0).
add_node() {
    local ns=$1 port=$2 mac=$3 ip4=$4 ip6=$5
    nsx "$ns" sysctl -qw net.ipv6.conf.all.accept_dad=0
    nsx "$ns" sysctl -qw net.ipv6.conf.default.accept_dad=0
    ip -n "$NS_SW" link add "$port" type veth peer name eth0 netns "$ns"
    ip -n "$NS_SW" link set "$port" master br0 up
    ip -n "$ns" link set eth0 address "$mac"
    ip -n "$ns" addr add "$ip4/24" dev eth0
    ip -n "$ns" addr add "$ip6/64" dev eth0
    ip -n "$ns" link set eth0 up
}
add_node "$NS_KA" ka "$KA_MAC" "$KA_IP4" "$KA_IP6"
add_node "$NS_PEER" peer "$PEER_MAC" "$PEER_IP4" "$PEER_IP6"
add_node "$NS_FRR" frr "$FRR_MAC" "$FRR_IP4" "$FRR_IP6"

ll_ready() { ip -n "$1" -6 addr show dev eth0 scope link | grep -q 'inet6 fe80' &&
    ! ip -n "$1" -6 addr show dev eth0 | grep -q tentative; }
for ns in "$NS_KA" "$NS_PEER" "$NS_FRR"; do
    wait_until "link-local address in $ns" "$T_SETUP" ll_ready "$ns"
done
ip -n "$NS_KA" -6 addr show dev eth0 scope link | grep -q "inet6 $KA_LL/" ||
    die "keepalived node link-local is not $KA_LL"

# FRR node: one macvlan per virtual router, carrying the virtual MAC and VIP.
nsx "$NS_FRR" sysctl -qw net.ipv4.conf.all.arp_ignore=1
nsx "$NS_FRR" sysctl -qw net.ipv4.conf.all.arp_announce=2
add_macvlan() {   # NAME MAC ADDR/PREFIX [LINKLOCAL]
    local name=$1 mac=$2 addr=$3 ll=${4:-}
    ip -n "$NS_FRR" link add "$name" link eth0 type macvlan mode bridge
    ip -n "$NS_FRR" link set "$name" address "$mac"
    if [[ -n $ll ]]; then
        ip -n "$NS_FRR" link set "$name" addrgenmode none
        ip -n "$NS_FRR" addr add "$ll/64" dev "$name"
    else
        ip -n "$NS_FRR" link set "$name" addrgenmode random
    fi
    ip -n "$NS_FRR" addr add "$addr" dev "$name"
    ip -n "$NS_FRR" link set "$name" up
}
add_macvlan vrrp4-61 00:00:5e:00:01:3d 192.0.2.61/24
add_macvlan vrrp6-62 00:00:5e:00:02:3e 2001:db8::62/64 "$FRR_V6_LL"
add_macvlan vrrp4-63 00:00:5e:00:01:3f 192.0.2.63/24

# ---------------------------------------------------------------- capture
# One tcpdump per bridge port, inbound only: every frame a node sends.
start_capture() {   # PORT
    local port=$1
    ip netns exec "$NS_SW" tcpdump -i "$port" -Q in -U -s 0 -n -Z root -w "$WORK/$port.pcap" \
        >"$WORK/tcpdump-$port.log" 2>&1 &
    STARTED_PIDS+=($!)
    started $! tcpdump
    wait_until "tcpdump on $port" "$T_SETUP" grep -q 'listening on' "$WORK/tcpdump-$port.log"
}
start_capture ka
start_capture frr

# ---------------------------------------------------------------- keepalived
cat >"$WORK/keepalived.conf" <<EOF
global_defs {
    router_id vfx-ka
}

vrrp_instance V2_AUTH {
    version 2
    state BACKUP
    interface eth0
    virtual_router_id 51
    priority 150
    advert_int 1
    authentication {
        auth_type PASS
        auth_pass secret1
    }
    virtual_ipaddress {
        192.0.2.51
    }
}

vrrp_instance V2_PLAIN {
    version 2
    state BACKUP
    interface eth0
    virtual_router_id 52
    priority 120
    advert_int 1
    virtual_ipaddress {
        192.0.2.52
    }
}

vrrp_instance V3_TWO_VIPS {
    version 3
    state BACKUP
    interface eth0
    virtual_router_id 53
    priority 130
    advert_int 0.5
    virtual_ipaddress {
        192.0.2.53
        192.0.2.153
    }
}

vrrp_instance V3_IPV6 {
    version 3
    state BACKUP
    interface eth0
    virtual_router_id 54
    priority 140
    advert_int 1
    virtual_ipaddress {
        2001:db8::54/64
    }
}

vrrp_instance V3_PRIO0 {
    version 3
    state BACKUP
    interface eth0
    virtual_router_id 55
    priority 110
    advert_int 1
    virtual_ipaddress {
        192.0.2.55
    }
}

vrrp_instance V3_UNICAST {
    version 3
    state BACKUP
    interface eth0
    virtual_router_id 56
    priority 160
    advert_int 1
    unicast_src_ip $KA_IP4
    unicast_peer {
        $PEER_IP4
    }
    virtual_ipaddress {
        192.0.2.56
    }
}
EOF

# setsid makes keepalived the leader of its own process group (PID == PGID),
# so its VRRP child can be found and stopped with it.
ip netns exec "$NS_KA" setsid keepalived -n -P -l -D -G -f "$WORK/keepalived.conf" \
    -p "$WORK/keepalived.pid" -r "$WORK/keepalived-vrrp.pid" \
    >"$WORK/keepalived.log" 2>&1 </dev/null &
KA_PID=$!
STARTED_PGIDS+=("$KA_PID")
started "$KA_PID" keepalived
[[ $(ps -o pgid= -p "$KA_PID" | tr -d ' ') == "$KA_PID" ]] ||
    die "keepalived is not a process group leader"

# ---------------------------------------------------------------- FRR
cat >"$WORK/frr/zebra.conf" <<EOF
hostname vfx-frr-zebra
EOF
cat >"$WORK/frr/vrrpd.conf" <<EOF
hostname vfx-frr-vrrpd
interface eth0
 vrrp 61 version 3
 vrrp 61 priority 170
 vrrp 61 advertisement-interval 700
 vrrp 61 ip 192.0.2.61
 vrrp 62 version 3
 vrrp 62 priority 180
 vrrp 62 advertisement-interval 1000
 vrrp 62 ipv6 2001:db8::62
 vrrp 63 version 2
 vrrp 63 priority 190
 vrrp 63 advertisement-interval 1000
 vrrp 63 ip 192.0.2.63
EOF
chown frr:frr "$WORK/frr"/*.conf

F=$WORK/frr
ip netns exec "$NS_FRR" "$FRR_BIN/zebra" -z "$F/zserv.api" --vty_socket "$F" -i "$F/zebra.pid" \
    -P 0 -f "$F/zebra.conf" --log "file:$F/zebra.log" -u frr -g frr \
    >"$WORK/zebra.log" 2>&1 </dev/null &
STARTED_PIDS+=($!)
started $! zebra
wait_until "zebra socket" "$T_SETUP" test -S "$F/zserv.api"
ip netns exec "$NS_FRR" "$FRR_BIN/vrrpd" -z "$F/zserv.api" --vty_socket "$F" -i "$F/vrrpd.pid" \
    -P 0 -f "$F/vrrpd.conf" --log "file:$F/vrrpd.log" -u frr -g frr \
    >"$WORK/vrrpd.log" 2>&1 </dev/null &
STARTED_PIDS+=($!)
started $! vrrpd

# ---------------------------------------------------------------- wait for frames
# has_frame PCAP FILTER [COUNT]: at least COUNT frames (default 1) match.
has_frame() {
    local n
    n=$(tshark -n -r "$1" -Y "$2" -T fields -e frame.number 2>/dev/null | grep -c . || true)
    ((n >= ${3:-1}))
}

# Cases: NAME|PCAP|DISPLAY FILTER
CASES=(
    "keepalived-v2-ipv4-auth|ka|vrrp.virt_rtr_id == 51 && vrrp.prio == 150"
    "keepalived-v2-ipv4|ka|vrrp.virt_rtr_id == 52 && vrrp.prio == 120"
    "keepalived-v3-ipv4-two-vips|ka|vrrp.virt_rtr_id == 53 && vrrp.prio == 130"
    "keepalived-v3-ipv6|ka|vrrp.virt_rtr_id == 54 && vrrp.prio == 140 && ipv6"
    "keepalived-v3-ipv4-unicast|ka|vrrp.virt_rtr_id == 56 && vrrp.prio == 160 && ip.dst == $PEER_IP4"
    "keepalived-garp|ka|arp && arp.src.proto_ipv4 == 192.0.2.52 && arp.dst.proto_ipv4 == 192.0.2.52"
    "keepalived-na|ka|icmpv6.type == 136 && icmpv6.nd.na.target_address == 2001:db8::54"
    "frr-v3-ipv4|frr|vrrp.virt_rtr_id == 61 && vrrp.prio == 170"
    "frr-v3-ipv6|frr|vrrp.virt_rtr_id == 62 && vrrp.prio == 180 && ipv6"
    "frr-v2-ipv4|frr|vrrp.virt_rtr_id == 63 && vrrp.prio == 190"
)
PRIO0_CASES=(
    "keepalived-v3-ipv4-prio0|ka|vrrp.virt_rtr_id == 55 && vrrp.prio == 0"
    "keepalived-v2-ipv4-prio0|ka|vrrp.virt_rtr_id == 52 && vrrp.prio == 0"
)

wait_cases() {
    local c name port filter
    for c in "$@"; do
        IFS='|' read -r name port filter <<<"$c"
        # two matching adverts: the peer is in steady state as master
        local count=2
        [[ $name == *garp || $name == *na || $name == *prio0 ]] && count=1
        wait_until "$name ($filter)" "$T_FRAMES" has_frame "$WORK/$port.pcap" "$filter" "$count"
        log "seen: $name"
    done
}
wait_cases "${CASES[@]}"

# Priority 0: a graceful stop of the keepalived master.
log "sending SIGTERM to keepalived (pid $KA_PID)"
stop_pgroup "$KA_PID" TERM
wait_cases "${PRIO0_CASES[@]}"

# Stop everything else; tcpdump flushes its file on exit.
for pid in "${STARTED_PIDS[@]}"; do
    stop_pid "$pid" TERM
done

# ---------------------------------------------------------------- extract
# extract NAME PCAP FILTER: the first matching frame -> $WORK/out/NAME.{pcap,hex}
extract() {
    local name=$1 port=$2 filter=$3 num
    num=$(tshark -n -r "$WORK/$port.pcap" -Y "$filter" -T fields -e frame.number 2>>"$WORK/tshark.err" | awk 'NR == 1')
    [[ -n $num ]] || die "no frame for $name"
    editcap -F pcap -r "$WORK/$port.pcap" "$WORK/out/$name.pcap" "$num" 2>>"$WORK/tshark.err"
    local lens
    lens=$(tshark -n -r "$WORK/out/$name.pcap" -T fields -E separator=' ' -e frame.len -e frame.cap_len 2>>"$WORK/tshark.err")
    [[ $lens =~ ^([0-9]+)\ ([0-9]+)$ && ${BASH_REMATCH[1]} == "${BASH_REMATCH[2]}" ]] ||
        die "$name: truncated capture ($lens)"
    # classic pcap: 24-byte file header + 16-byte record header, then the frame
    tail -c +41 "$WORK/out/$name.pcap" | od -An -v -tx1 | sed 's/^ //; s/ *$//' >"$WORK/out/$name.hex"
    local bytes
    bytes=$(tr -cd '0-9a-f' <"$WORK/out/$name.hex" | wc -c)
    ((bytes == 2 * ${BASH_REMATCH[1]})) || die "$name: hex length mismatch"
}

for c in "${CASES[@]}" "${PRIO0_CASES[@]}"; do
    IFS='|' read -r name port filter <<<"$c"
    extract "$name" "$port" "$filter"
done

# ---------------------------------------------------------------- verify + manifest
# Fields read from each single-frame pcap: one tshark run per frame, cached.
FIELDS=(
    eth.src eth.dst ip.src ip.dst ip.ttl ipv6.src ipv6.dst ipv6.hlim
    vrrp.version vrrp.type vrrp.virt_rtr_id vrrp.prio vrrp.addr_count vrrp.checksum
    vrrp.checksum.status vrrp.auth_type vrrp.adver_int vrrp.short_adver_int
    vrrp.auth_string vrrp.ip_addr vrrp.ipv6_addr
    arp.opcode arp.src.hw_mac arp.src.proto_ipv4 arp.dst.hw_mac arp.dst.proto_ipv4
    icmpv6.type icmpv6.nd.na.target_address icmpv6.nd.na.flag.r icmpv6.nd.na.flag.s
    icmpv6.nd.na.flag.o icmpv6.opt.linkaddr icmpv6.checksum.status
)
declare -A FV=()
FV_NAME=""
load_fields() {   # NAME
    local args=() f i vals=()
    for f in "${FIELDS[@]}"; do args+=(-e "$f"); done
    IFS='|' read -r -a vals < <(tshark -n -r "$WORK/out/$1.pcap" -T fields -E separator='|' \
        -E occurrence=a -E aggregator=, "${args[@]}" 2>>"$WORK/tshark.err")
    FV=()
    for i in "${!FIELDS[@]}"; do FV[${FIELDS[$i]}]=${vals[$i]:-}; done
    FV_NAME=$1
}
# field NAME FIELD: one decoded field of frame NAME (occurrences joined by ',')
field() {
    [[ $FV_NAME == "$1" ]] || load_fields "$1"
    [[ -v "FV[$2]" ]] || die "field $2 not in FIELDS"
    printf '%s' "${FV[$2]}"
}
# v2style_checksum NAME: VRRP checksum status with tshark computing the
# VRRPv3 checksum without the pseudo-header
v2style_checksum() {
    tshark -n -o vrrp.v3_checksum_as_in_v2:TRUE -r "$WORK/out/$1.pcap" -T fields \
        -e vrrp.checksum.status 2>>"$WORK/tshark.err"
}

expect() {   # NAME WHAT EXPECTED ACTUAL
    [[ $3 == "$4" ]] || die "$1: $2 is '$4', expected '$3'"
}

checksum_word() {
    case $1 in
    0) echo incorrect ;;
    1) echo correct ;;
    2) echo unverified ;;
    3) echo not-present ;;
    *) echo "unknown($1)" ;;
    esac
}

bool_word() {
    case $1 in
    1 | True | true) echo true ;;
    0 | False | false) echo false ;;
    *) die "not a boolean: $1" ;;
    esac
}

toml_list() {   # comma-separated -> ["a", "b"]
    local IFS=, out="" a
    for a in $1; do out+="${out:+, }\"$a\""; done
    printf '[%s]' "$out"
}

MANIFEST=$WORK/out/captures.toml
{
    echo "# Real frames captured by netns-tests/capture-fixtures.sh; one [[frame]] per .hex file."
    echo "# Values are the ones configured on the peer, cross-checked with tshark's dissectors."
    echo "# tshark_checksum: tshark's verdict on the VRRP (or ICMPv6) checksum with default settings"
    echo "# (for VRRPv3 that means the RFC 9568 pseudo-header is included);"
    echo "# tshark_checksum_v2_style: verdict with vrrp.v3_checksum_as_in_v2:TRUE (no pseudo-header;"
    echo "# tshark applies that preference to IPv4 only)."
} >"$MANIFEST"

# vrrp_frame NAME SOURCE VERSION VRID PRIO CENTIS AUTH ADDRS IP_SRC IP_DST TTL DESCRIPTION
vrrp_frame() {
    local name=$1 source=$2 ver=$3 vrid=$4 prio=$5 centis=$6 auth=$7 addrs=$8
    local src=$9 dst=${10} ttl=${11} desc=${12}
    load_fields "$name"
    local fam=ip hop=ip.ttl addr_field=vrrp.ip_addr
    if [[ $src == *:* ]]; then fam=ipv6 hop=ipv6.hlim addr_field=vrrp.ipv6_addr; fi

    expect "$name" version "$ver" "$(field "$name" vrrp.version)"
    expect "$name" type 1 "$(field "$name" vrrp.type)"
    expect "$name" vrid "$vrid" "$(field "$name" vrrp.virt_rtr_id)"
    expect "$name" priority "$prio" "$(field "$name" vrrp.prio)"
    expect "$name" addresses "$addrs" "$(field "$name" "$addr_field")"
    expect "$name" "address count" "$(tr ',' '\n' <<<"$addrs" | grep -c .)" "$(field "$name" vrrp.addr_count)"
    expect "$name" "ip source" "$src" "$(field "$name" "$fam.src")"
    expect "$name" "ip destination" "$dst" "$(field "$name" "$fam.dst")"
    expect "$name" "ttl/hop limit" "$ttl" "$(field "$name" "$hop")"
    local auth_type=""
    if ((ver == 2)); then
        expect "$name" "interval (s)" "$((centis / 100))" "$(field "$name" vrrp.adver_int)"
        auth_type=$(field "$name" vrrp.auth_type)
        if [[ -n $auth ]]; then
            expect "$name" "auth type" 1 "$auth_type"
            expect "$name" "auth string" "$auth" "$(field "$name" vrrp.auth_string)"
        else
            expect "$name" "auth type" 0 "$auth_type"
        fi
    else
        expect "$name" "interval (cs)" "$centis" "$(field "$name" vrrp.short_adver_int)"
    fi
    local ck ck2=""
    ck=$(checksum_word "$(field "$name" vrrp.checksum.status)")
    if ((ver == 3)); then
        ck2=$(checksum_word "$(v2style_checksum "$name")")
    fi
    {
        echo
        echo "[[frame]]"
        echo "file = \"$name.hex\""
        echo "kind = \"vrrp\""
        echo "source = \"$source\""
        echo "description = \"$desc\""
        echo "version = $ver"
        echo "vrid = $vrid"
        echo "priority = $prio"
        echo "interval_centis = $centis"
        if ((ver == 2)); then echo "auth_type = $auth_type"; fi
        if [[ -n $auth ]]; then echo "auth = \"$auth\""; fi
        echo "addresses = $(toml_list "$addrs")"
        echo "eth_src = \"$(field "$name" eth.src)\""
        echo "eth_dst = \"$(field "$name" eth.dst)\""
        echo "ip_src = \"$src\""
        echo "ip_dst = \"$dst\""
        echo "ttl = $ttl"
        echo "checksum = \"0x$(printf '%04x' "$(field "$name" vrrp.checksum)")\""
        echo "tshark_checksum = \"$ck\""
        if [[ -n $ck2 ]]; then echo "tshark_checksum_v2_style = \"$ck2\""; fi
    } >>"$MANIFEST"
    log "ok: $name (checksum: $ck${ck2:+, v2-style: $ck2})"
}

vrrp_frame keepalived-v2-ipv4-auth "$KA_SOURCE" 2 51 150 100 secret1 192.0.2.51 \
    "$KA_IP4" 224.0.0.18 255 "VRRPv2 multicast advert, simple password auth"
vrrp_frame keepalived-v2-ipv4 "$KA_SOURCE" 2 52 120 100 "" 192.0.2.52 \
    "$KA_IP4" 224.0.0.18 255 "VRRPv2 multicast advert, no auth"
vrrp_frame keepalived-v3-ipv4-two-vips "$KA_SOURCE" 3 53 130 50 "" 192.0.2.53,192.0.2.153 \
    "$KA_IP4" 224.0.0.18 255 "VRRPv3 IPv4 multicast advert, advert_int 0.5, two VIPs"
vrrp_frame keepalived-v3-ipv6 "$KA_SOURCE" 3 54 140 100 "" 2001:db8::54 \
    "$KA_LL" ff02::12 255 "VRRPv3 IPv6 multicast advert from the link-local address"
vrrp_frame keepalived-v3-ipv4-unicast "$KA_SOURCE" 3 56 160 100 "" 192.0.2.56 \
    "$KA_IP4" "$PEER_IP4" 255 "VRRPv3 IPv4 unicast advert (unicast_peer)"
vrrp_frame keepalived-v3-ipv4-prio0 "$KA_SOURCE" 3 55 0 100 "" 192.0.2.55 \
    "$KA_IP4" 224.0.0.18 255 "VRRPv3 IPv4 priority-0 advert sent on SIGTERM (configured priority 110)"
vrrp_frame keepalived-v2-ipv4-prio0 "$KA_SOURCE" 2 52 0 100 "" 192.0.2.52 \
    "$KA_IP4" 224.0.0.18 255 "VRRPv2 priority-0 advert sent on SIGTERM (configured priority 120)"
vrrp_frame frr-v3-ipv4 "$FRR_SOURCE" 3 61 170 70 "" 192.0.2.61 \
    "$FRR_IP4" 224.0.0.18 255 "VRRPv3 IPv4 multicast advert, advertisement-interval 700 ms"
vrrp_frame frr-v3-ipv6 "$FRR_SOURCE" 3 62 180 100 "" 2001:db8::62 \
    "$FRR_V6_LL" ff02::12 255 "VRRPv3 IPv6 multicast advert (source: link-local of the macvlan)"
vrrp_frame frr-v2-ipv4 "$FRR_SOURCE" 2 63 190 100 "" 192.0.2.63 \
    "$FRR_IP4" 224.0.0.18 255 "VRRPv2 multicast advert (vrrp 63 version 2)"

# Gratuitous ARP for 192.0.2.52 (vrid 52) from the keepalived master.
name=keepalived-garp
load_fields "$name"
expect "$name" "sender ip" 192.0.2.52 "$(field "$name" arp.src.proto_ipv4)"
expect "$name" "target ip" 192.0.2.52 "$(field "$name" arp.dst.proto_ipv4)"
expect "$name" "sender mac" "$KA_MAC" "$(field "$name" arp.src.hw_mac)"
opcode=$(field "$name" arp.opcode)
case $opcode in 1) opword=request ;; 2) opword=reply ;; *) opword=$opcode ;; esac
{
    echo
    echo "[[frame]]"
    echo "file = \"$name.hex\""
    echo "kind = \"garp\""
    echo "source = \"$KA_SOURCE\""
    echo "description = \"gratuitous ARP for VIP 192.0.2.52 (vrid 52) on becoming master\""
    echo "sender_mac = \"$KA_MAC\""
    echo "ip = \"192.0.2.52\""
    echo "opcode = \"$opword\""
    echo "target_mac = \"$(field "$name" arp.dst.hw_mac)\""
    echo "eth_src = \"$(field "$name" eth.src)\""
    echo "eth_dst = \"$(field "$name" eth.dst)\""
} >>"$MANIFEST"
log "ok: $name"

# Unsolicited neighbour advertisement for 2001:db8::54 (vrid 54).
name=keepalived-na
load_fields "$name"
# keepalived sends its unsolicited NA from the VIP itself, not the link-local
expect "$name" "ip source" 2001:db8::54 "$(field "$name" ipv6.src)"
expect "$name" "target" 2001:db8::54 "$(field "$name" icmpv6.nd.na.target_address)"
expect "$name" "hop limit" 255 "$(field "$name" ipv6.hlim)"
na_r=$(bool_word "$(field "$name" icmpv6.nd.na.flag.r)")
na_s=$(bool_word "$(field "$name" icmpv6.nd.na.flag.s)")
na_o=$(bool_word "$(field "$name" icmpv6.nd.na.flag.o)")
na_ck=$(checksum_word "$(field "$name" icmpv6.checksum.status)")
{
    echo
    echo "[[frame]]"
    echo "file = \"$name.hex\""
    echo "kind = \"na\""
    echo "source = \"$KA_SOURCE\""
    echo "description = \"unsolicited neighbour advertisement for VIP 2001:db8::54 (vrid 54) on becoming master; IPv6 forwarding off on the node\""
    echo "src_mac = \"$(field "$name" eth.src)\""
    echo "eth_dst = \"$(field "$name" eth.dst)\""
    echo "ip_src = \"2001:db8::54\""
    echo "ip_dst = \"$(field "$name" ipv6.dst)\""
    echo "target = \"2001:db8::54\""
    echo "override = $na_o"
    echo "router = $na_r"
    echo "solicited = $na_s"
    echo "target_ll_addr = \"$(field "$name" icmpv6.opt.linkaddr)\""
    echo "hop_limit = 255"
    echo "tshark_checksum = \"$na_ck\""
} >>"$MANIFEST"
log "ok: $name (router flag: $na_r, override: $na_o)"

# ---------------------------------------------------------------- install
mkdir -p "$OUT_DIR"
for c in "${CASES[@]}" "${PRIO0_CASES[@]}"; do
    IFS='|' read -r name _ _ <<<"$c"
    cp "$WORK/out/$name.hex" "$OUT_DIR/$name.hex"
done
cp "$MANIFEST" "$OUT_DIR/captures.toml"
log "wrote $((${#CASES[@]} + ${#PRIO0_CASES[@]})) fixtures and captures.toml to $OUT_DIR"
