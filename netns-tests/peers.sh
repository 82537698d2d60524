# shellcheck shell=bash disable=SC2034  # sourced: variables are used by the cases
# netns-tests/peers.sh: keepalived and FRR vrrpd as vipd's peers, inside the
# namespaces of lib.sh's topology (sourced by cases 2x-* and 30-*; sources
# lib.sh itself, so a case sources only this file).
#
#   start_keepalived NODE [KEY=VALUE ...]   keepalived, VRRP only, in NODE
#   start_frr NODE [KEY=VALUE ...]          zebra + vrrpd, with the macvlan
#                                           carrying the VRRP virtual MAC
#   crash_peer NODE / stop_peer NODE        any kind: vipd, keepalived, frr
#   peer_holders [ADDR] / only_peer_holder  who holds the VIP, any kind
#   interop_both_ways                       the two-direction election and
#                                           failover check the interop
#                                           cases share (see below)
#
# Everything a peer writes (config, pid files, logs, FRR's sockets) lives in
# $VT_TMP/NODE/. keepalived is started with setsid, so it leads its own
# process group: a crash is SIGKILL to that group, and cleanup signals only
# groups whose members run with our config file. FRR's daemons are signalled
# by PID. No peer is ever started outside a namespace of this topology.
#
# Facts from netns-tests/capture-fixtures.sh and
# ../shared/notes/peers-in-netns.md that this file relies on:
# - keepalived -n -P -l -D -G -f CONF -p PID -r VRRP_PID runs in the
#   foreground, VRRP only, logging to the console only; SIGKILL to the parent
#   alone is not a crash (its VRRP child resigns), SIGKILL to the group is.
# - after a crash keepalived's VIP stays on eth0, and the node keeps
#   answering ARP: a dead node is also taken off the link (link_down).
# - FRR vrrpd needs a macvlan (bridge mode) with MAC 00:00:5e:00:01:VRID and
#   the VIP on it; it marks Backup with protodown on that macvlan, so FRR
#   nodes get arp_ignore=1 / arp_announce=2 or eth0 would answer ARP for the
#   VIP. FRR's daemons drop to user frr, which must reach their directory.

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

FRR_BIN="${FRR_BIN:-/usr/lib/frr}"

declare -A PEER_KIND=()     # node -> vipd | keepalived | frr
declare -A KA_PID=()        # node -> keepalived parent PID (= its process group)
declare -A FRR_ZEBRA=()     # node -> zebra PID
declare -A FRR_VRRPD=()     # node -> vrrpd PID
declare -A FRR_IF=()        # node -> name of its VRRP macvlan
declare -A FRR_MAC=()       # node -> the virtual MAC on it

# --------------------------------------------------------------------------
# Preconditions, diagnostics and cleanup
# --------------------------------------------------------------------------

# need_tools TOOL...: fail the case (with the Debian package to install)
# when a tool is missing. .ci/run installs keepalived, frr and tshark.
need_tools() {
    local t missing=()
    for t in "$@"; do
        case "$t" in
            zebra | vrrpd) [[ -x "$FRR_BIN/$t" ]] || missing+=("$FRR_BIN/$t (frr)") ;;
            *) command -v "$t" >/dev/null || missing+=("$t") ;;
        esac
    done
    ((${#missing[@]} == 0)) || fail "missing tools: ${missing[*]} (apt-get install -y keepalived frr tshark arping)"
}

# Keep lib.sh's diagnostics and add the peers' logs and state to them.
eval "$(declare -f diagnostics | sed '1s/^diagnostics/vt_diagnostics/')"
diagnostics() {
    local node f
    vt_diagnostics
    echo "=== peers ==="
    echo "VIP holders (any kind, IPv4): $(peer_holders "$VIP4" 2>/dev/null || true)"
    echo "VIP holders (any kind, IPv6): $(peer_holders "$VIP6" 2>/dev/null || true)"
    for node in "${!PEER_KIND[@]}"; do
        [[ "${PEER_KIND[$node]}" != vipd ]] || continue
        for f in "$VT_TMP/$node/keepalived.log" "$VT_TMP/$node/frr/zebra.log" "$VT_TMP/$node/frr/vrrpd.log"; do
            [[ -s "$f" ]] || continue
            echo "--- $node: tail of ${f#"$VT_TMP/"}"
            tail -n 25 "$f" | sed 's/^/    /'
        done
        if [[ -n "${FRR_IF[$node]:-}" ]]; then
            echo "--- $node: ${FRR_IF[$node]}"
            ip -n "$(ns "$node")" -d addr show dev "${FRR_IF[$node]}" 2>&1 | sed 's/^/    /' || true
        fi
    done
    echo "============="
}

# ka_members PID: the live processes of keepalived's process group PID that
# run with a config file of this case (so a recycled PID is never signalled).
ka_members() {
    local pid pgid stat
    while read -r pid pgid stat; do
        [[ "$pgid" == "$1" && "$stat" != Z* ]] || continue
        grep -qas -- "$VT_TMP/" "/proc/$pid/cmdline" && echo "$pid"
    done < <(ps -e -o pid=,pgid=,stat=)
}
ka_gone() { [[ -z "$(ka_members "$1")" ]]; }

# ka_signal_group PID SIGNAL: signal keepalived's group if it is still ours.
ka_signal_group() {
    [[ -n "$(ka_members "$1")" ]] || return 0
    kill "-$2" -- "-$1" 2>/dev/null || true
}

# ours PID: PID is alive and runs with a path of this case on its command line.
ours() { pid_alive "$1" && grep -qas -- "$VT_TMP/" "/proc/$1/cmdline"; }

peers_cleanup() {
    local rc=$? node pid
    set +e
    trap - EXIT INT TERM
    for node in "${!KA_PID[@]}"; do ka_signal_group "${KA_PID[$node]}" TERM; done
    for node in "${!FRR_VRRPD[@]}"; do ours "${FRR_VRRPD[$node]}" && kill -TERM "${FRR_VRRPD[$node]}"; done
    for node in "${!FRR_ZEBRA[@]}"; do ours "${FRR_ZEBRA[$node]}" && kill -TERM "${FRR_ZEBRA[$node]}"; done
    for node in "${!KA_PID[@]}"; do
        poll_until 5 0.05 ka_gone "${KA_PID[$node]}" || ka_signal_group "${KA_PID[$node]}" KILL
        poll_until 2 0.05 ka_gone "${KA_PID[$node]}"
        { wait "${KA_PID[$node]}"; } 2>/dev/null
    done
    for pid in "${FRR_VRRPD[@]}" "${FRR_ZEBRA[@]}"; do
        poll_until 5 0.05 not_ pid_alive "$pid" || { ours "$pid" && kill -KILL "$pid"; }
        { wait "$pid"; } 2>/dev/null
    done
    # lib.sh's cleanup (vipd, captures, namespaces, temp dir) with our status.
    (exit "$rc")
    vt_cleanup
}
trap peers_cleanup EXIT

# --------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------

# ll_ready NODE: eth0 has a link-local address that finished DAD.
ll_ready() {
    local out
    out="$(ip -n "$(ns "$1")" -6 -o addr show dev eth0 scope link 2>/dev/null)"
    [[ "$out" == *"inet6 fe80"* && "$out" != *tentative* ]]
}

# link_local_of NODE: the EUI-64 link-local address of NODE's eth0, from its
# MAC (known even while the link is down and the address gone).
link_local_of() {
    local m
    IFS=: read -r -a m <<<"$(node_mac "$1")"
    printf 'fe80::%x:%x:%x:%x\n' $(((0x${m[0]} ^ 2) << 8 | 0x${m[1]})) $((0x${m[2]} << 8 | 0xff)) \
        $((0xfe << 8 | 0x${m[3]})) $((0x${m[4]} << 8 | 0x${m[5]})) | sed "s/^fe80::0:/fe80::/"
}

# revive_node NODE: after a crash (link down, daemon dead): eth0 up again
# with its own addresses, without the VIPs a crashed daemon left behind, and
# without FRR's macvlan (start_frr makes a fresh one).
revive_node() {
    local node="$1" n
    n="$(ns "$node")"
    ip -n "$n" link set eth0 up
    ip -n "$n" addr del "$VIP4_CIDR" dev eth0 2>/dev/null || true
    ip -n "$n" addr del "$VIP6_CIDR" dev eth0 2>/dev/null || true
    # a downed interface loses its IPv6 addresses
    ip -n "$n" addr replace "$(ip6_of "$node")/64" dev eth0 nodad
    if [[ -n "${FRR_IF[$node]:-}" ]]; then ip -n "$n" link del "${FRR_IF[$node]}" 2>/dev/null || true; fi
    wait_until "$node's eth0 has a usable link-local address again" 10 ll_ready "$node"
}

# --------------------------------------------------------------------------
# keepalived
# --------------------------------------------------------------------------

# ka_conf NODE [KEY=VALUE ...]: write $VT_TMP/NODE/keepalived.conf with one
# vrrp_instance "vip". Keys: version (2|3), vrid, priority, advert_int (as
# keepalived writes it: 1, 0.2), vips (space separated, with prefix),
# auth_pass, unicast_src_ip, unicast_peers (space separated), preempt
# (true|false), extra (raw lines for the instance).
ka_conf() {
    local node="$1" kv key addr
    shift
    local -A c=(
        [version]=3 [vrid]=51 [priority]=100 [advert_int]=1 [vips]="$VIP4_CIDR"
        [auth_pass]="" [unicast_src_ip]="" [unicast_peers]="" [preempt]=true [extra]=""
    )
    for kv in "$@"; do
        key="${kv%%=*}"
        [[ -v "c[$key]" ]] || fail "ka_conf: unknown key $key"
        c[$key]="${kv#*=}"
    done
    {
        echo "# written by netns-tests/peers.sh for node $node"
        echo "global_defs {"
        echo "    router_id ${VT_ID}-$node"
        echo "}"
        echo
        echo "vrrp_instance vip {"
        echo "    state BACKUP"
        echo "    interface eth0"
        echo "    version ${c[version]}"
        echo "    virtual_router_id ${c[vrid]}"
        echo "    priority ${c[priority]}"
        echo "    advert_int ${c[advert_int]}"
        [[ "${c[preempt]}" == true ]] || echo "    nopreempt"
        if [[ -n "${c[auth_pass]}" ]]; then
            echo "    authentication {"
            echo "        auth_type PASS"
            echo "        auth_pass ${c[auth_pass]}"
            echo "    }"
        fi
        [[ -z "${c[unicast_src_ip]}" ]] || echo "    unicast_src_ip ${c[unicast_src_ip]}"
        if [[ -n "${c[unicast_peers]}" ]]; then
            echo "    unicast_peer {"
            for addr in ${c[unicast_peers]}; do echo "        $addr"; done
            echo "    }"
        fi
        echo "    virtual_ipaddress {"
        for addr in ${c[vips]}; do echo "        $addr"; done
        echo "    }"
        [[ -z "${c[extra]}" ]] || printf '    %s\n' "${c[extra]}"
        echo "}"
    } >"$VT_TMP/$node/keepalived.conf"
}

# start_keepalived NODE [KEY=VALUE ...]: write the config (see ka_conf) and
# start keepalived in NODE's namespace as the leader of its own process
# group. Returns once its VRRP child runs.
start_keepalived() {
    local node="$1" pid d="$VT_TMP/$1"
    shift
    ka_conf "$node" "$@"
    rm -f "$d/keepalived.pid" "$d/keepalived-vrrp.pid"
    echo "=== keepalived start $(date +%H:%M:%S.%3N)" >>"$d/keepalived.log"
    # ip netns exec and setsid both exec (setsid does not fork: a background
    # job of a non-interactive shell is not a group leader), so $! is
    # keepalived itself, and it leads a new process group.
    ip netns exec "$(ns "$node")" setsid keepalived -n -P -l -D -G -f "$d/keepalived.conf" \
        -p "$d/keepalived.pid" -r "$d/keepalived-vrrp.pid" \
        </dev/null >>"$d/keepalived.log" 2>&1 &
    pid=$!
    record_pid "$pid"
    KA_PID[$node]="$pid"
    PEER_KIND[$node]=keepalived
    wait_until "keepalived on $node runs its VRRP process" 10 test -s "$d/keepalived-vrrp.pid"
    [[ "$(ps -o pgid= -p "$pid" | tr -d ' ')" == "$pid" ]] ||
        fail "keepalived on $node leads its own process group" "pgid $pid" "$(ps -o pid=,pgid= -p "$pid")"
    log "started keepalived on $node (pid $pid, vrrp child $(cat "$d/keepalived-vrrp.pid"), priority $(awk '$1 == "priority" { print $2; exit }' "$d/keepalived.conf"))"
}

# ka_log_since_start NODE: keepalived's log on NODE since its latest start.
ka_log_since_start() { awk '/^=== keepalived start/ { buf = "" } { buf = buf $0 "\n" } END { printf "%s", buf }' "$VT_TMP/$1/keepalived.log"; }
# ka_log_has NODE REGEX: the latest run's log matches REGEX (case-insensitive).
ka_log_has() { grep -qiE -- "$2" <<<"$(ka_log_since_start "$1")"; }

# --------------------------------------------------------------------------
# FRR (zebra + vrrpd)
# --------------------------------------------------------------------------

# start_frr NODE [KEY=VALUE ...]: zebra and vrrpd in NODE's namespace with one
# virtual router. Keys: vrid (51), priority (100), version (3), interval_ms
# (advertisement-interval, 1000), vip (the IPv4 VIP with prefix). Makes the
# macvlan vrrp4-VRID on eth0 with MAC 00:00:5e:00:01:VRID, protodown on
# until vrrpd decides, and the VIP on it.
start_frr() {
    local node="$1" kv key n d="$VT_TMP/$1/frr" ifname mac pid
    shift
    local -A c=([vrid]=51 [priority]=100 [version]=3 [interval_ms]=1000 [vip]="$VIP4_CIDR")
    for kv in "$@"; do
        key="${kv%%=*}"
        [[ -v "c[$key]" ]] || fail "start_frr: unknown key $key"
        c[$key]="${kv#*=}"
    done
    n="$(ns "$node")"
    ifname="vrrp4-${c[vrid]}"
    mac="$(printf '00:00:5e:00:01:%02x' "${c[vrid]}")"
    nsx "$node" sysctl -qw net.ipv4.conf.all.arp_ignore=1 net.ipv4.conf.all.arp_announce=2
    ip -n "$n" link del "$ifname" 2>/dev/null || true
    ip -n "$n" link add "$ifname" link eth0 type macvlan mode bridge
    ip -n "$n" link set "$ifname" address "$mac"
    ip -n "$n" link set "$ifname" addrgenmode random
    ip -n "$n" link set "$ifname" protodown on
    ip -n "$n" addr add "${c[vip]}" dev "$ifname"
    ip -n "$n" link set "$ifname" up
    FRR_IF[$node]="$ifname"
    FRR_MAC[$node]="$mac"

    mkdir -p "$d"
    rm -f "$d"/*.pid "$d/zserv.api"
    echo "hostname ${VT_ID}-$node" >"$d/zebra.conf"
    {
        echo "hostname ${VT_ID}-$node"
        echo "interface eth0"
        echo " vrrp ${c[vrid]} version ${c[version]}"
        echo " vrrp ${c[vrid]} priority ${c[priority]}"
        echo " vrrp ${c[vrid]} advertisement-interval ${c[interval_ms]}"
        echo " vrrp ${c[vrid]} ip ${c[vip]%/*}"
    } >"$d/vrrpd.conf"
    chown -R frr:frr "$d"

    ip netns exec "$n" "$FRR_BIN/zebra" -z "$d/zserv.api" --vty_socket "$d" -i "$d/zebra.pid" \
        -P 0 -f "$d/zebra.conf" --log "file:$d/zebra.log" -u frr -g frr \
        </dev/null >>"$d/zebra.out" 2>&1 &
    pid=$!
    record_pid "$pid"
    FRR_ZEBRA[$node]="$pid"
    PEER_KIND[$node]=frr
    wait_until "zebra on $node listens" 10 test -S "$d/zserv.api"
    ip netns exec "$n" "$FRR_BIN/vrrpd" -z "$d/zserv.api" --vty_socket "$d" -i "$d/vrrpd.pid" \
        -P 0 -f "$d/vrrpd.conf" --log "file:$d/vrrpd.log" -u frr -g frr \
        </dev/null >>"$d/vrrpd.out" 2>&1 &
    pid=$!
    record_pid "$pid"
    FRR_VRRPD[$node]="$pid"
    wait_until "vrrpd on $node runs" 10 test -s "$d/vrrpd.pid"
    log "started FRR on $node (zebra ${FRR_ZEBRA[$node]}, vrrpd $pid, vrid ${c[vrid]} priority ${c[priority]}, $ifname $mac)"
}

# frr_holds NODE [ADDR]: NODE's VRRP macvlan is up, not protodown, and
# carries ADDR: vrrpd is Master and answers for the VIP.
frr_holds() {
    local node="$1" n out
    n="$(ns "$node")"
    [[ -n "${FRR_IF[$node]:-}" ]] || return 1
    out="$(ip -n "$n" -d -o link show dev "${FRR_IF[$node]}" 2>/dev/null)" || return 1
    [[ "$out" == *"state UP"* && "$out" != *"protodown on"* ]] || return 1
    out="$(ip -n "$n" -o addr show dev "${FRR_IF[$node]}" 2>/dev/null)" || return 1
    [[ "$out" == *" ${2:-$VIP4}/"* ]]
}

# frr_show NODE: vrrpd's own view ("show vrrp" through vtysh).
frr_show() { nsx "$1" vtysh --vty_socket "$VT_TMP/$1/frr" -d vrrpd -c "show vrrp" 2>&1 || true; }

# --------------------------------------------------------------------------
# Any kind of node
# --------------------------------------------------------------------------

# start_vipd_peer NODE [KEY=VALUE ...]: lib.sh's start_vipd, remembering the kind.
start_vipd_peer() { PEER_KIND[$1]=vipd; start_vipd "$@"; }

# peer_holds NODE [ADDR]: NODE holds ADDR (default the IPv4 VIP), by kind.
peer_holds() {
    case "${PEER_KIND[$1]:-vipd}" in
        frr) frr_holds "$1" "${2:-$VIP4}" ;;
        *) holds_vip "$1" "${2:-$VIP4}" ;;
    esac
}

# peer_holders [ADDR]: every node (not the client) holding ADDR, any kind.
peer_holders() {
    local node out=()
    for node in "${VT_NODES[@]}"; do
        [[ "$node" == client ]] && continue
        if peer_holds "$node" "${1:-$VIP4}"; then out+=("$node"); fi
    done
    echo "${out[*]:-}"
}
only_peer_holder() { [[ "$(peer_holders "${2:-$VIP4}")" == "$1" ]]; }
no_peer_holder() { [[ -z "$(peer_holders "${1:-$VIP4}")" ]]; }

# holder_mac NODE: the MAC the client should reach NODE's VIP at.
holder_mac() {
    case "${PEER_KIND[$1]:-vipd}" in
        frr) echo "${FRR_MAC[$1]}" ;;
        *) node_mac "$1" ;;
    esac
}

# crash_peer NODE: the node dies: its daemon(s) get SIGKILL and its eth0
# goes down (a dead node must not keep answering for the VIP).
crash_peer() {
    local node="$1" pid
    case "${PEER_KIND[$node]:-vipd}" in
        vipd) crash_node "$node"; return ;;
        keepalived)
            pid="${KA_PID[$node]}"
            # (stderr hidden: bash reports the job it reaps as "Killed")
            { ka_signal_group "$pid" KILL && link_down "$node" && wait "$pid"; } 2>/dev/null || true
            poll_until 5 0.02 ka_gone "$pid" || fail "keepalived on $node survived SIGKILL"
            log "crashed $node: SIGKILL to keepalived's process group $pid + eth0 down"
            ;;
        frr)
            {
                for pid in "${FRR_VRRPD[$node]}" "${FRR_ZEBRA[$node]}"; do
                    if ours "$pid"; then kill -KILL "$pid"; fi
                done
                link_down "$node"
                for pid in "${FRR_VRRPD[$node]}" "${FRR_ZEBRA[$node]}"; do wait "$pid"; done
            } 2>/dev/null || true
            for pid in "${FRR_VRRPD[$node]}" "${FRR_ZEBRA[$node]}"; do
                if pid_alive "$pid"; then fail "FRR process $pid on $node survived SIGKILL"; fi
            done
            log "crashed $node: SIGKILL to vrrpd ${FRR_VRRPD[$node]} and zebra ${FRR_ZEBRA[$node]} + eth0 down"
            ;;
    esac
    has_link_down "$node" || fail "could not take $node's eth0 down"
}

# stop_peer NODE: a graceful stop (SIGTERM), waited for.
stop_peer() {
    local node="$1" pid
    case "${PEER_KIND[$node]:-vipd}" in
        vipd)
            pid_alive "${VIPD_PID[$node]:-}" || return 0
            kill_vipd "$node" TERM
            ;;
        keepalived)
            pid="${KA_PID[$node]}"
            ka_signal_group "$pid" TERM
            poll_until 10 0.05 ka_gone "$pid" || fail "keepalived on $node did not stop within 10 s of SIGTERM"
            { wait "$pid"; } 2>/dev/null || true
            log "stopped keepalived on $node"
            ;;
        frr)
            for pid in "${FRR_VRRPD[$node]}" "${FRR_ZEBRA[$node]}"; do
                ours "$pid" || continue
                kill -TERM "$pid"
                poll_until 10 0.05 not_ pid_alive "$pid" || fail "FRR process $pid on $node did not stop within 10 s of SIGTERM"
                { wait "$pid"; } 2>/dev/null || true
            done
            ip -n "$(ns "$node")" link del "${FRR_IF[$node]}" 2>/dev/null || true
            log "stopped FRR on $node"
            ;;
    esac
}

# --------------------------------------------------------------------------
# What the client sees
# --------------------------------------------------------------------------

# arp_repliers ADDR: the distinct MACs answering the client's ARP requests
# for ADDR (three requests), space separated and sorted.
arp_repliers() {
    nsx client arping -r -c 3 -W 0.2 -w 3 -i eth0 "$1" 2>/dev/null | sort -u | paste -sd' ' -
}

# nd_repliers ADDR: sets ND_MACS to the distinct MACs sending Neighbour
# Advertisements for ADDR while the client resolves it afresh (its entry
# flushed, one ping). Not for $(...): the capture must be this shell's.
ND_SEQ=0
ND_MACS=""
nd_repliers() {
    local name="nd$((ND_SEQ += 1))"
    capture_start "$name" "icmp6 and ip6[40] = 136"
    ip -n "$(ns client)" -6 neigh flush to "$1" dev eth0 2>/dev/null || true
    poll_until 5 0.05 ping_ok "$1" || true
    poll_until 3 0.05 cap_at_least "$name" 1 || true
    capture_stop "$name"
    ND_MACS="$(tcpdump -r "$VT_TMP/$name.pcap" -n -t -e 2>/dev/null |
        awk -v t="tgt is $1," 'index($0, t) { print $1 }' | sort -u | paste -sd' ' -)"
}

# client_reaches NODE [ADDR]: the client pings ADDR, its neighbour entry
# points at NODE's MAC for it, and only NODE answers the client's ARP requests
# (IPv4) or neighbour solicitations (IPv6) for it.
client_reaches() {
    local node="$1" addr="${2:-$VIP4}" mac
    mac="$(holder_mac "$node")"
    wait_until "client gets replies from $addr" 10 ping_ok "$addr"
    client_ping "$addr" 3 || fail "client ping to $addr" "replies" "$(cat "$VT_TMP/ping.out")"
    assert_eq "client's neighbour entry for $addr points at $node" "$mac" "$(client_neigh_mac "$addr")"
    if [[ "$addr" != *:* ]]; then
        assert_eq "MACs answering the client's ARP requests for $addr (only $node's)" "$mac" "$(arp_repliers "$addr")"
    else
        nd_repliers "$addr"
        assert_eq "MACs answering the client's neighbour solicitations for $addr (only $node's)" "$mac" "$ND_MACS"
    fi
}

# backup_refuses NODE [ADDR]: packets for ADDR sent to NODE's MAC (a client
# with a stale or forged neighbour entry) get no answer: a Backup does not
# accept packets addressed to the VIP. Not for FRR nodes: vrrpd leaves the
# VIP configured on its (protodown) macvlan, so the kernel still owns it.
backup_refuses() {
    local node="$1" addr="${2:-$VIP4}" c
    c="$(ns client)"
    if [[ "$(kind_of "$node")" == frr ]]; then
        log "note: not checking that the FRR backup $node refuses packets for $addr (the VIP stays a local address there)"
        return 0
    fi
    ip -n "$c" neigh replace "$addr" lladdr "$(node_mac "$node")" dev eth0 nud permanent
    if nsx client ping -n -c 1 -W 1 "$addr" >/dev/null 2>&1; then
        ip -n "$c" neigh del "$addr" dev eth0 2>/dev/null || true
        fail "backup $node ($(kind_of "$node")) refuses packets for $addr sent to its MAC" "no reply" "a reply"
    fi
    ip -n "$c" neigh del "$addr" dev eth0 2>/dev/null || true
    ok "backup $node ($(kind_of "$node")) does not answer a ping to $addr sent to its MAC"
}

# --------------------------------------------------------------------------
# The interop check shared by the cases
# --------------------------------------------------------------------------
#
# A case defines start_n1 PRIORITY and start_n2 PRIORITY (one node runs vipd,
# the other the peer) and sets:
#   IX_ADDR      the VIP (default $VIP4)
#   IX_SETTLE    bound in seconds for an election or a takeover (default 10)
#   IX_STEADY    how long the winner must stay the only holder (default 3;
#                make it longer than the loser's Master_Down_Interval)
# and may define ix_elected HIGH LOW, called once the election has settled.
# then calls interop_both_ways: n1 higher (150) than n2 (100), then n2 higher
# than n1, each time from a cold start of both, then the winner crashes.

IX_ADDR="$VIP4"
IX_SETTLE=10
IX_STEADY=3

kind_of() { echo "${PEER_KIND[$1]:-?}"; }

# interop_direction HIGH LOW
interop_direction() {
    local high="$1" low="$2"
    step "start $low with priority 100 and $high with priority 150"
    "start_$low" 100
    "start_$high" 150
    step "election: $high ($(kind_of "$high")) must win over $low ($(kind_of "$low"))"
    wait_until "$high holds $IX_ADDR" "$IX_SETTLE" only_peer_holder "$high" "$IX_ADDR"
    stays_true "$high ($(kind_of "$high")) is the only holder of $IX_ADDR" "$IX_STEADY" only_peer_holder "$high" "$IX_ADDR"
    if declare -F ix_elected >/dev/null; then ix_elected "$high" "$low"; fi
    backup_refuses "$low" "$IX_ADDR"
    client_reaches "$high" "$IX_ADDR"

    step "$high ($(kind_of "$high")) dies"
    crash_peer "$high"
    wait_until "$low ($(kind_of "$low")) takes $IX_ADDR over" "$IX_SETTLE" only_peer_holder "$low" "$IX_ADDR"
    client_reaches "$low" "$IX_ADDR"
    stays_true "$low is the only holder of $IX_ADDR" 1 only_peer_holder "$low" "$IX_ADDR"
}

# interop_reset DEAD ALIVE: stop the survivor, revive the crashed node, and
# forget the client's neighbour entries: both nodes idle, nobody holds the VIP.
interop_reset() {
    step "reset: stop $2, revive $1"
    stop_peer "$2"
    revive_node "$1"
    ip -n "$(ns client)" neigh flush dev eth0 2>/dev/null || true
    wait_until "nobody holds $IX_ADDR" 5 no_peer_holder "$IX_ADDR"
}

interop_both_ways() {
    interop_direction n1 n2
    interop_reset n1 n2
    interop_direction n2 n1
}
