# shellcheck shell=bash disable=SC2034  # sourced: variables are used by the cases
# netns-tests/lib.sh: helpers for vipd's end-to-end tests in network namespaces.
#
# Sourced by every netns-tests/cases/*.sh and by scripts/demo.sh; needs root.
# Each sourcing process gets its own topology, named after its PID:
#
#   vt<PID>-sw      the "switch": a Linux bridge br0 with one port per peer
#   vt<PID>-n1..n3  the nodes (eth0: 192.0.2.11/24 + 2001:db8::11/64, ...)
#   vt<PID>-client  the client (eth0: 192.0.2.100/24 + 2001:db8::100/64)
#
# Each peer's eth0 is one end of a veth pair whose other end (p-<peer>) is a
# port of br0 in the switch namespace. Nothing here touches the root
# namespace's interfaces and no address outside 192.0.2.0/24,
# 198.51.100.0/24 and 2001:db8::/32 is used.
#
# Everything we start is recorded by PID and everything we create is removed
# on every exit path (trap on EXIT, INT and TERM). When VT_PIDLOG names a file
# (run.sh sets it), every PID we start is appended to it, so the runner can
# check that nothing outlived the case.
#
# Synchronisation is by polling for an observable fact (wait_until), never by
# a fixed sleep. Negative facts ("X does not happen for N seconds") are
# checked by polling over the whole window (stays_true).

set -euo pipefail

VT_ID="vt$$"
VT_PREFIX="${VT_ID}-"
VT_LIB_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VT_REPO="$(cd "$VT_LIB_DIR/.." && pwd)"
VT_TMP="$(mktemp -d "/tmp/${VT_ID}.XXXXXX")"
chmod 755 "$VT_TMP"

VIP4="192.0.2.50"
VIP4_CIDR="192.0.2.50/24"
VIP6="2001:db8::50"
VIP6_CIDR="2001:db8::50/64"

VIPD_BIN="${VIPD_BIN:-$VT_REPO/target/debug/vipd}"

declare -a VT_NAMESPACES=()     # namespaces we created, deleted at exit
declare -a VT_PIDS=()           # every background PID we started
declare -a VT_NODES=()          # the peers of the current topology (n1 client ...)
declare -A VIPD_PID=()          # node -> PID of its current vipd
declare -A VT_CAP_PID=()        # capture name -> tcpdump PID
VT_MON_PID=""
VT_QUIET="${VT_QUIET:-0}"

# --------------------------------------------------------------------------
# Output, failure and cleanup
# --------------------------------------------------------------------------

now() { printf '%s\n' "${EPOCHREALTIME/,/.}"; }

# elapsed_ms START: milliseconds since START (a value of `now`).
elapsed_ms() {
    local t; t="$(now)"
    awk -v a="$1" -v b="$t" 'BEGIN { printf "%d\n", (b - a) * 1000 }'
}

log() { [[ "$VT_QUIET" == 1 ]] || printf '[%s] %s\n' "$(date +%H:%M:%S.%3N)" "$*"; }
ok() { log "ok: $*"; }
step() { log "--- $*"; }

# diagnostics: the state of every node, for a failure report.
diagnostics() {
    local node
    echo "=== diagnostics ==="
    echo "VIP holders (IPv4): $(vip_holders "$VIP4" 2>/dev/null || true)"
    echo "VIP holders (IPv6): $(vip_holders "$VIP6" 2>/dev/null || true)"
    for node in "${VT_NODES[@]}"; do
        echo "--- $node: ip addr eth0"
        ip -n "$(ns "$node")" addr show dev eth0 2>&1 | sed 's/^/    /' || true
        if [[ "$node" == client ]]; then
            echo "--- client: neighbours"
            ip -n "$(ns client)" neigh show 2>&1 | sed 's/^/    /' || true
        fi
    done
    for node in "${!VIPD_PID[@]}"; do
        echo "--- $node: vipd pid ${VIPD_PID[$node]} ($(pid_alive "${VIPD_PID[$node]}" && echo running || echo exited))"
    done
    for node in "${VT_NODES[@]}"; do
        if [[ -s "$VT_TMP/$node/vipd.log" ]]; then
            echo "--- $node: tail of vipd log"
            tail -n 25 "$VT_TMP/$node/vipd.log" | sed 's/^/    /'
        fi
    done
    if [[ -n "$VT_MON_PID" || -s "$VT_TMP/monitor.log" ]]; then
        echo "--- VIP holder changes (monitor)"
        tail -n 20 "$VT_TMP/monitor.log" 2>/dev/null | sed 's/^/    /' || true
    fi
    echo "==================="
}

# fail MESSAGE [EXPECTED OBSERVED]: report and end the case (cleanup runs).
fail() {
    local msg="$1"
    {
        echo "FAIL: $msg"
        if (($# >= 3)); then
            echo "  expected: $2"
            echo "  observed: $3"
        fi
        diagnostics
    } >&2
    exit 1
}

# assert_eq DESC EXPECTED OBSERVED
assert_eq() {
    if [[ "$2" != "$3" ]]; then fail "$1" "$2" "$3"; fi
    ok "$1 ($3)"
}

# assert_ne DESC UNEXPECTED OBSERVED
assert_ne() {
    if [[ "$2" == "$3" ]]; then fail "$1" "anything but $2" "$3"; fi
    ok "$1 ($3)"
}

pid_alive() { [[ -n "${1:-}" ]] && kill -0 "$1" 2>/dev/null; }

# stop_pid PID SIGNAL TIMEOUT_S: send SIGNAL, wait up to TIMEOUT_S for exit,
# then SIGKILL. Only ever PIDs we started.
stop_pid() {
    local pid="$1" sig="$2" timeout="$3" deadline
    pid_alive "$pid" || return 0
    kill "-$sig" "$pid" 2>/dev/null || true
    deadline=$(awk -v n="$(now)" -v t="$timeout" 'BEGIN { printf "%.3f", n + t }')
    while pid_alive "$pid"; do
        if awk -v n="$(now)" -v d="$deadline" 'BEGIN { exit !(n > d) }'; then
            kill -KILL "$pid" 2>/dev/null || true
            break
        fi
        # our own child: reap it if it exited
        sleep 0.02
    done
    { wait "$pid"; } 2>/dev/null || true
}

vt_cleanup() {
    local rc=$? pid name
    set +e
    trap - EXIT INT TERM
    if [[ -n "$VT_MON_PID" ]]; then stop_pid "$VT_MON_PID" TERM 1; fi
    for name in "${!VT_CAP_PID[@]}"; do stop_pid "${VT_CAP_PID[$name]}" INT 2; done
    for pid in "${VT_PIDS[@]}"; do
        # vipd gets SIGTERM first (it removes its VIPs), then SIGKILL.
        stop_pid "$pid" TERM 3
    done
    for name in "${VT_NAMESPACES[@]}"; do
        ip netns del "$name" 2>/dev/null
    done
    if [[ -n "${VT_KEEP_TMP:-}" ]]; then
        echo "kept $VT_TMP" >&2
    else
        rm -rf "$VT_TMP"
    fi
    exit "$rc"
}
trap vt_cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# record_pid PID: remember a background process we started.
record_pid() {
    VT_PIDS+=("$1")
    if [[ -n "${VT_PIDLOG:-}" ]]; then echo "$1" >>"$VT_PIDLOG"; fi
}

# --------------------------------------------------------------------------
# Polling
# --------------------------------------------------------------------------

# poll_until TIMEOUT_S INTERVAL_S CMD...: 0 when CMD succeeds before the
# deadline, 1 otherwise.
poll_until() {
    local timeout="$1" interval="$2" start
    shift 2
    start="$(now)"
    while true; do
        if "$@"; then return 0; fi
        if awk -v s="$start" -v n="$(now)" -v t="$timeout" 'BEGIN { exit !(n - s > t) }'; then
            "$@" && return 0
            return 1
        fi
        sleep "$interval"
    done
}

# wait_until DESC TIMEOUT_S CMD...: poll CMD every 50 ms until it succeeds;
# fail the case with DESC when the deadline passes. Prints the time it took.
wait_until() {
    local desc="$1" timeout="$2" start
    shift 2
    start="$(now)"
    if ! poll_until "$timeout" 0.05 "$@"; then
        fail "timed out after ${timeout}s waiting for: $desc" "$* to succeed" "it never did"
    fi
    ok "$desc (after $(elapsed_ms "$start") ms)"
}

# stays_true DESC SECONDS CMD...: CMD must succeed at every poll (every
# 50 ms) for SECONDS. Used for facts of the form "X does not happen".
stays_true() {
    local desc="$1" window="$2" start
    shift 2
    start="$(now)"
    while awk -v s="$start" -v n="$(now)" -v t="$window" 'BEGIN { exit !(n - s <= t) }'; do
        if ! "$@"; then
            fail "$desc: broke after $(elapsed_ms "$start") ms of ${window}s" "$* to hold throughout" "it did not"
        fi
        sleep 0.05
    done
    ok "$desc (held for ${window}s)"
}

# check DESC CMD...: CMD must succeed now.
check() {
    local desc="$1"
    shift
    "$@" || fail "$desc" "$* to succeed" "it failed"
    ok "$desc"
}

# not_ CMD...: negation usable as a polled command.
not_() { ! "$@"; }

# --------------------------------------------------------------------------
# Topology
# --------------------------------------------------------------------------

# ns PEER: the namespace name of a peer (sw, n1.., client).
ns() { printf '%s\n' "${VT_PREFIX}$1"; }

# nsx PEER CMD...: run CMD inside PEER's namespace.
nsx() {
    local peer="$1"
    shift
    ip netns exec "$(ns "$peer")" "$@"
}

# host_octet PEER: the last octet/group of a peer's addresses.
host_octet() {
    case "$1" in
        n[0-9]) echo "1${1#n}" ;;
        client) echo 100 ;;
        *) echo "unknown peer $1" >&2; return 1 ;;
    esac
}
ip4_of() { echo "192.0.2.$(host_octet "$1")"; }
ip6_of() { echo "2001:db8::$(host_octet "$1")"; }
# mac_hint PEER: the fixed MAC we give each peer, for readable output.
mac_hint() { printf '02:00:5e:10:00:%02x\n' "$(host_octet "$1")"; }

add_ns() {
    local name
    name="$(ns "$1")"
    ip netns add "$name"
    VT_NAMESPACES+=("$name")
    ip -n "$name" link set lo up
}

# topo_up PEER...: the switch plus the given peers (default: n1 n2 client).
# plug_eth0 PEER: PEER's eth0, a veth whose other end is a port of the
# switch's bridge, with the peer's addresses, up.
plug_eth0() {
    local peer="$1" n
    n="$(ns "$peer")"
    ip -n "$n" link add eth0 address "$(mac_hint "$peer")" type veth peer name "p-$peer" netns "$(ns sw)"
    ip -n "$(ns sw)" link set "p-$peer" master br0
    ip -n "$(ns sw)" link set "p-$peer" up
    ip -n "$n" addr add "$(ip4_of "$peer")/24" dev eth0
    ip -n "$n" addr add "$(ip6_of "$peer")/64" dev eth0 nodad
    ip -n "$n" link set eth0 up
}

topo_up() {
    local peers=("$@") peer
    ((${#peers[@]})) || peers=(n1 n2 client)
    add_ns sw
    nsx sw sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
    ip -n "$(ns sw)" link add br0 type bridge stp_state 0 forward_delay 0 mcast_snooping 0
    ip -n "$(ns sw)" link set br0 up
    for peer in "${peers[@]}"; do
        add_ns "$peer"
        plug_eth0 "$peer"
        mkdir -p "$VT_TMP/$peer"
        VT_NODES+=("$peer")
    done
    ok "topology ${VT_ID}: switch + ${peers[*]}"
}

# link_down / link_up NODE: the node's own eth0 (carrier change on both ends).
link_down() { ip -n "$(ns "$1")" link set eth0 down; }
link_up() { ip -n "$(ns "$1")" link set eth0 up; }
has_link_down() { ! [[ "$(ip -n "$(ns "$1")" -o link show dev eth0)" =~ [\<,]UP[,\>] ]]; }

# port_block / port_unblock PEER: the bridge drops the peer's frames both
# ways without a carrier change (a hung node), by disabling the port.
port_block() { bridge -n "$(ns sw)" link set dev "p-$1" state 0; }
port_unblock() { bridge -n "$(ns sw)" link set dev "p-$1" state 3; }

# --------------------------------------------------------------------------
# vipd
# --------------------------------------------------------------------------

# vipd_conf NODE [KEY=VALUE ...]: write $VT_TMP/NODE/vipd.toml with one
# instance "vip". String-valued keys (interface, advert_interval,
# preempt_delay, auth_pass) are quoted here; every other value is TOML as
# written (numbers, booleans, arrays). KEY=- leaves the key out. extra=TEXT
# appends raw TOML lines to the instance; global=TEXT adds lines to [global].
vipd_conf() {
    local node="$1" kv key val extra="" global=""
    shift
    local -A c=(
        [interface]=eth0 [vrid]=51 [priority]=100 [version]=3
        [advert_interval]=100ms [preempt]=true [preempt_delay]=0s
        [virtual_ips]="[\"$VIP4_CIDR\"]"
    )
    for kv in "$@"; do
        key="${kv%%=*}"
        val="${kv#*=}"
        case "$key" in
            extra) extra+="$val"$'\n' ;;
            global) global+="$val"$'\n' ;;
            *) c[$key]="$val" ;;
        esac
    done
    mkdir -p "$VT_TMP/$node"
    {
        echo "# written by netns-tests/lib.sh for node $node"
        echo "[global]"
        echo "node_name = \"$node\""
        echo "control_socket = \"$VT_TMP/$node/vipd.sock\""
        printf '%s' "$global"
        echo
        echo "[instances.vip]"
        for key in interface vrid priority version advert_interval preempt preempt_delay \
            virtual_ips unicast_src_ip unicast_peers auth_pass garp_repeat garp_delay notify; do
            [[ -n "${c[$key]:-}" && "${c[$key]}" != "-" ]] || continue
            case "$key" in
                interface | advert_interval | preempt_delay | auth_pass | unicast_src_ip | garp_delay)
                    echo "$key = \"${c[$key]}\"" ;;
                *) echo "$key = ${c[$key]}" ;;
            esac
        done
        printf '%s' "$extra"
    } >"$VT_TMP/$node/vipd.toml"
}

# start_vipd NODE [KEY=VALUE ...]: write the config (unless no arguments
# and one exists) and start vipd in NODE's namespace in the background.
# VIPD_WRAP (an array, e.g. a setpriv command line) is put before vipd;
# VIPD_RUN_ARGS (an array, e.g. --log-format json) after `run --config FILE`.
# Logs go to $VT_TMP/NODE/vipd.log (appended across restarts).
start_vipd() {
    local node="$1" pid
    shift
    if (($# > 0)) || [[ ! -f "$VT_TMP/$node/vipd.toml" ]]; then vipd_conf "$node" "$@"; fi
    echo "=== vipd start $(date +%H:%M:%S.%3N)" >>"$VT_TMP/$node/vipd.log"
    # `ip netns exec` and setpriv both exec: $! is vipd itself.
    ip netns exec "$(ns "$node")" ${VIPD_WRAP[@]+"${VIPD_WRAP[@]}"} \
        "$VIPD_BIN" run --config "$VT_TMP/$node/vipd.toml" ${VIPD_RUN_ARGS[@]+"${VIPD_RUN_ARGS[@]}"} \
        </dev/null >>"$VT_TMP/$node/vipd.log" 2>&1 &
    pid=$!
    record_pid "$pid"
    VIPD_PID[$node]="$pid"
    log "started vipd on $node (pid $pid, priority $(awk '/^priority = / { print $3; exit }' "$VT_TMP/$node/vipd.toml"))"
}

# kill_vipd NODE SIGNAL: signal NODE's vipd and wait for it to exit; sets
# VIPD_RC to its exit status (128+n for a signal).
VIPD_RC=""
kill_vipd() {
    local node="$1" sig="$2" pid="${VIPD_PID[$1]}" rc=0
    kill "-$sig" "$pid"
    poll_until 10 0.02 not_ pid_alive "$pid" || fail "vipd on $node did not exit within 10 s of SIG$sig"
    wait "$pid" || rc=$?
    VIPD_RC="$rc"
    log "vipd on $node (pid $pid) exited with status $rc after SIG$sig"
}

# crash_node NODE: SIGKILL its vipd and take its link down (a dead node).
crash_node() {
    local node="$1" pid="${VIPD_PID[$1]}"
    { kill -KILL "$pid" && link_down "$node" && wait "$pid"; } 2>/dev/null || true
    has_link_down "$node" || fail "could not take $node's eth0 down"
    log "crashed $node: SIGKILL vipd (pid $pid) + eth0 down"
}

vipd_log() { cat "$VT_TMP/$1/vipd.log"; }

# log_since_start NODE: NODE's vipd log since its latest start.
log_since_start() { awk '/^=== vipd start/ { buf = "" } { buf = buf $0 "\n" } END { printf "%s", buf }' "$VT_TMP/$1/vipd.log"; }
# log_has NODE REGEX: the latest run's log matches REGEX (case-insensitive).
log_has() { grep -qiE -- "$2" <<<"$(log_since_start "$1")"; }

# make_notify NODE: a notify script for NODE that appends its arguments
# (INSTANCE NAME STATE PRIORITY) with a timestamp to $VT_TMP/NODE/notify.log,
# followed by vip=yes or vip=no: whether eth0 (in the node's namespace, which
# the script inherits) carried the IPv4 VIP when it ran. Prints the TOML
# array to use as `notify`.
make_notify() {
    local node="$1" script="$VT_TMP/$1/notify.sh" ipbin
    ipbin="$(command -v ip)"
    mkdir -p "$VT_TMP/$node"
    : >"$VT_TMP/$node/notify.log"
    cat >"$script" <<SCRIPT
#!/bin/sh
case "\$($ipbin -o addr show dev eth0)" in
    *" $VIP4/"*) vip=yes ;;
    *) vip=no ;;
esac
echo "\$(date +%s.%N) \$* vip=\$vip" >>"$VT_TMP/$node/notify.log"
SCRIPT
    chmod 755 "$script"
    echo "[\"$script\"]"
}

# notify_count NODE STATE: how many times NODE's notify script got STATE.
notify_count() { grep -c " $2 " "$VT_TMP/$1/notify.log" 2>/dev/null || true; }
notify_states() { awk '{ print $4 }' "$VT_TMP/$1/notify.log" 2>/dev/null | paste -sd' ' -; }

# --------------------------------------------------------------------------
# Observations from outside the daemon
# --------------------------------------------------------------------------

# holds_vip NODE [ADDR]: NODE's eth0 is up and carries ADDR (default the
# IPv4 VIP). A node whose link is down does not hold anything, even if the
# kernel keeps the IPv4 address on the downed interface (as it does after a
# crash_node).
holds_vip() {
    local out
    out="$(ip -n "$(ns "$1")" -o addr show dev eth0 up 2>/dev/null)" || return 1
    [[ "$out" == *" ${2:-$VIP4}/"* ]]
}

# has_addr NODE [ADDR]: ADDR is configured on NODE's eth0, up or down.
has_addr() {
    local out
    out="$(ip -n "$(ns "$1")" -o addr show dev eth0 2>/dev/null)" || return 1
    [[ "$out" == *" ${2:-$VIP4}/"* ]]
}

# vip_holders [ADDR]: the nodes whose eth0 carries ADDR, space separated
# (empty when none).
vip_holders() {
    local node out=()
    for node in "${VT_NODES[@]}"; do
        [[ "$node" == client ]] && continue
        if holds_vip "$node" "${1:-$VIP4}"; then out+=("$node"); fi
    done
    echo "${out[*]:-}"
}

# only_holder NODE [ADDR]: NODE is the one and only holder.
only_holder() { [[ "$(vip_holders "${2:-$VIP4}")" == "$1" ]]; }
# at_most_one_holder [ADDR]
at_most_one_holder() { [[ "$(vip_holders "${1:-$VIP4}")" != *" "* ]]; }

# node_mac NODE: the MAC of NODE's eth0.
node_mac() { ip -n "$(ns "$1")" -o link show dev eth0 | sed -n 's/.*link\/ether \([0-9a-f:]*\).*/\1/p'; }

# client_neigh [ADDR]: "MAC STATE" of the client's neighbour entry for ADDR
# (default the IPv4 VIP); "none STATE" or empty when there is no address.
client_neigh() {
    local out mac state
    out="$(ip -n "$(ns client)" neigh show "${1:-$VIP4}" dev eth0 2>/dev/null)"
    [[ -n "$out" ]] || { echo ""; return 0; }
    mac="$(sed -n 's/.*lladdr \([0-9a-f:]*\).*/\1/p' <<<"$out")"
    state="$(awk '{ print $NF; exit }' <<<"$out")"
    echo "${mac:-none} $state"
}
client_neigh_mac() { local e; e="$(client_neigh "${1:-$VIP4}")"; echo "${e%% *}"; }
client_neigh_is() { [[ "$(client_neigh_mac "${2:-$VIP4}")" == "$1" ]]; }

# client_ping ADDR [COUNT]: bounded ping from the client; 0 when at least
# one reply came back. Output in $VT_TMP/ping.out.
client_ping() {
    local addr="${1:-$VIP4}" count="${2:-3}"
    nsx client ping -n -c "$count" -i 0.2 -W 1 -w $((count + 3)) "$addr" >"$VT_TMP/ping.out" 2>&1
}

# ping_ok ADDR: one quick ping (for polling).
ping_ok() { nsx client ping -n -c 1 -W 1 "${1:-$VIP4}" >/dev/null 2>&1; }

# --------------------------------------------------------------------------
# Holder monitor: samples vip_holders every ~20 ms into monitor.log, one
# line per change: "<epoch seconds> <holders or ->".
# --------------------------------------------------------------------------

monitor_start() {
    local addr="${1:-$VIP4}"
    : >"$VT_TMP/monitor.log"
    (
        trap 'exit 0' TERM INT
        last="?"
        while true; do
            h="$(vip_holders "$addr")"
            h="${h:--}"
            if [[ "$h" != "$last" ]]; then
                echo "$(now) $h" >>"$VT_TMP/monitor.log"
                last="$h"
            fi
            sleep 0.02
        done
    ) &
    VT_MON_PID=$!
    record_pid "$VT_MON_PID"
    poll_until 5 0.02 test -s "$VT_TMP/monitor.log" || fail "holder monitor did not start"
}

monitor_stop() {
    [[ -n "$VT_MON_PID" ]] || return 0
    stop_pid "$VT_MON_PID" TERM 2
    VT_MON_PID=""
}

# monitor_start_netlink INTERVAL_S [ADDR]: the same monitor.log (IPv4 ADDR
# only), from one process that keeps a netlink socket open in each node's
# namespace and dumps its addresses every INTERVAL_S: no process is started
# per sample, so the interval holds on a loaded machine (an `ip` per node
# per sample takes tens of ms there). A node holds ADDR when any of its
# interfaces carries it. It writes "SAMPLES LONGEST_MS" (the longest time
# between two samples) to monitor.stats; monitor_stop stops it.
monitor_start_netlink() {
    local interval="$1" addr="${2:-$VIP4}" node specs=()
    for node in "${VT_NODES[@]}"; do
        [[ "$node" == client ]] || specs+=("$node=/run/netns/$(ns "$node")")
    done
    : >"$VT_TMP/monitor.log"
    cat >"$VT_TMP/holders.py" <<'PY'
# netns-tests/lib.sh's holder monitor: argv INTERVAL ADDR LOG STATS NODE=NETNS-PATH...
import ctypes, os, signal, socket, struct, sys, time

interval = float(sys.argv[1])
vip = socket.inet_aton(sys.argv[2])
log_path, stats_path = sys.argv[3], sys.argv[4]
CLONE_NEWNET = 0x40000000
RTM_NEWADDR, RTM_GETADDR, NLMSG_ERROR, NLMSG_DONE = 20, 22, 2, 3
IFA_ADDRESS, IFA_LOCAL = 1, 2

libc = ctypes.CDLL(None, use_errno=True)
home = os.open("/proc/self/ns/net", os.O_RDONLY)
nodes = []
for spec in sys.argv[5:]:
    name, path = spec.split("=", 1)
    fd = os.open(path, os.O_RDONLY)
    if libc.setns(fd, CLONE_NEWNET) != 0:
        sys.exit("setns %s: %s" % (path, os.strerror(ctypes.get_errno())))
    sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
    sock.bind((0, 0))
    nodes.append((name, sock))
    os.close(fd)
libc.setns(home, CLONE_NEWNET)

seq = 0
def holds(sock):
    global seq
    seq += 1
    sock.send(struct.pack("=IHHII", 24, RTM_GETADDR, 0x301, seq, 0) + struct.pack("=BBBBI", socket.AF_INET, 0, 0, 0, 0))
    found = False
    while True:
        data = sock.recv(65536)
        off = 0
        while off + 16 <= len(data):
            length, kind = struct.unpack_from("=IH", data, off)
            if length < 16 or kind in (NLMSG_DONE, NLMSG_ERROR):
                return found
            if kind == RTM_NEWADDR:
                a, end = off + 24, off + length
                while a + 4 <= end:
                    alen, atype = struct.unpack_from("=HH", data, a)
                    if alen < 4:
                        break
                    if atype in (IFA_ADDRESS, IFA_LOCAL) and data[a + 4:a + 8] == vip:
                        found = True
                    a += (alen + 3) & ~3
            off += (length + 3) & ~3

running = True
def stop(*_):
    global running
    running = False
signal.signal(signal.SIGTERM, stop)
signal.signal(signal.SIGINT, stop)

samples, longest, prev, last = 0, 0.0, None, None
with open(log_path, "a", buffering=1) as log:
    while running:
        t = time.time()
        holders = " ".join(name for name, sock in nodes if holds(sock)) or "-"
        if holders != last:
            log.write("%.6f %s\n" % (t, holders))
            last = holders
        if prev is not None:
            longest = max(longest, t - prev)
        prev = t
        samples += 1
        if samples % 100 == 0 or not running:
            with open(stats_path, "w") as stats:
                stats.write("%d %.1f\n" % (samples, longest * 1000))
        time.sleep(interval)
with open(stats_path, "w") as stats:
    stats.write("%d %.1f\n" % (samples, longest * 1000))
PY
    python3 "$VT_TMP/holders.py" "$interval" "$addr" "$VT_TMP/monitor.log" "$VT_TMP/monitor.stats" "${specs[@]}" \
        </dev/null 2>"$VT_TMP/monitor.err" &
    VT_MON_PID=$!
    record_pid "$VT_MON_PID"
    poll_until 5 0.02 test -s "$VT_TMP/monitor.log" ||
        fail "holder monitor did not start" "a first sample" "$(cat "$VT_TMP/monitor.err")"
}

# monitor_stats: "SAMPLES LONGEST_MS" of monitor_start_netlink (after monitor_stop).
monitor_stats() { cat "$VT_TMP/monitor.stats" 2>/dev/null; }

# monitor_max_holders [SINCE]: the largest number of simultaneous holders
# seen at or after SINCE (epoch seconds; default: the whole log).
monitor_max_holders() {
    awk -v since="${1:-0}" '
        { n = ($2 == "-") ? 0 : NF - 1 }
        $1 >= since { if (n > max) max = n }
        $1 < since { last = n }
        END { if (last > max) max = last; print max + 0 }
    ' "$VT_TMP/monitor.log"
}

# monitor_changes: the sequence of holder sets, e.g. "n1 -> - -> n2+n1 -> n2".
monitor_changes() { awk '{ $1 = ""; sub(/^ /, ""); gsub(/ /, "+"); printf "%s%s", (NR > 1 ? " -> " : ""), $0 } END { print "" }' "$VT_TMP/monitor.log"; }

# monitor_ever_held NODE: NODE appears in any sample.
monitor_ever_held() { awk -v n="$1" '{ for (i = 2; i <= NF; i++) if ($i == n) f = 1 } END { exit !f }' "$VT_TMP/monitor.log"; }

# --------------------------------------------------------------------------
# Packet capture on the bridge (switch namespace)
# --------------------------------------------------------------------------

# capture_start NAME [FILTER...]: tcpdump on br0 into $VT_TMP/NAME.pcap;
# returns once tcpdump is listening. br0 is put in promiscuous mode by
# tcpdump, so it sees every frame the bridge forwards, once.
capture_start() {
    local name="$1" pid
    shift
    command -v tcpdump >/dev/null || fail "tcpdump is not installed (apt-get install -y tcpdump)"
    # --immediate-mode: without it libpcap hands packets over in blocks,
    # up to a second late, and a poll of the pcap would miss them.
    # Not through the nsx function: a backgrounded function is a subshell,
    # and $! must be tcpdump itself (ip netns exec execs it).
    ip netns exec "$(ns sw)" tcpdump -i br0 --immediate-mode -U -n -s 256 -w "$VT_TMP/$name.pcap" "$@" \
        >"$VT_TMP/$name.tcpdump.log" 2>&1 &
    pid=$!
    record_pid "$pid"
    VT_CAP_PID[$name]="$pid"
    wait_until "capture $name listening on br0" 5 grep -qs "listening on" "$VT_TMP/$name.tcpdump.log"
}

# capture_port_start NAME PEER [FILTER...]: tcpdump on PEER's bridge port
# (p-PEER in the switch namespace), frames PEER sent only (-Q in: received
# by the port), into $VT_TMP/NAME.pcap. The capture taps the port before the
# bridge decides anything, so it also sees the frames of a peer whose port
# is blocked (port_block), which the bridge then drops. Stop it with
# capture_stop NAME.
capture_port_start() {
    local name="$1" peer="$2" pid
    shift 2
    command -v tcpdump >/dev/null || fail "tcpdump is not installed (apt-get install -y tcpdump)"
    ip netns exec "$(ns sw)" tcpdump -i "p-$peer" -Q in --immediate-mode -U -n -s 128 \
        -w "$VT_TMP/$name.pcap" "$@" >"$VT_TMP/$name.tcpdump.log" 2>&1 &
    pid=$!
    record_pid "$pid"
    VT_CAP_PID[$name]="$pid"
    wait_until "capture $name listening on p-$peer" 5 grep -qs "listening on" "$VT_TMP/$name.tcpdump.log"
}

capture_stop() {
    local name="$1"
    [[ -n "${VT_CAP_PID[$name]:-}" ]] || return 0
    stop_pid "${VT_CAP_PID[$name]}" INT 3
    unset "VT_CAP_PID[$name]"
}

# cap_show NAME [FILTER...]: decoded packets of a capture (tcpdump -v;
# fine while the capture is still running: it writes packet by packet).
cap_show() {
    local name="$1"
    shift
    tcpdump -r "$VT_TMP/$name.pcap" -n -v -e "$@" 2>/dev/null || true
}

# cap_count NAME [FILTER...]: the number of matching packets.
cap_count() {
    local name="$1"
    shift
    tcpdump -r "$VT_TMP/$name.pcap" -n "$@" 2>/dev/null | wc -l
}

# cap_at_least NAME N [FILTER...]: at least N matching packets so far.
cap_at_least() {
    local name="$1" n="$2"
    shift 2
    (($(cap_count "$name" "$@") >= n))
}

# cap_summary NAME: a short one-line-per-packet listing (for reports).
cap_summary() { tcpdump -r "$VT_TMP/$1.pcap" -n -e -tttt 2>/dev/null | tail -n "${2:-30}"; }

# BPF for VRRP adverts (IP protocol 112) and for their priority byte: the
# VRRP header follows a 20-byte IPv4 header (vipd sends no IP options) or
# the 40-byte IPv6 header; byte 2 of the VRRP header is the priority.
BPF_VRRP4='ip proto 112'
BPF_VRRP4_PRIO0='ip proto 112 and ip[22] = 0'
BPF_VRRP6='ip6 proto 112'

# --------------------------------------------------------------------------
# Status and metrics, read from outside the daemon
# --------------------------------------------------------------------------

METRICS_LISTEN='metrics_listen = "127.0.0.1:9701"'

# status_json NODE: `vipd status --json` of NODE's daemon.
status_json() { nsx "$1" "$VIPD_BIN" status --json --socket "$VT_TMP/$1/vipd.sock" 2>/dev/null; }
# jfield EXPR: evaluates EXPR on the JSON document on stdin (bound to d).
jfield() { python3 -c 'import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1], {}, {"d": d}))' "$1"; }
# state_of NODE: the first instance's state per `vipd status`.
state_of() { status_json "$1" | jfield 'd["instances"][0]["state"]' 2>/dev/null; }
# fault_of NODE: the first instance's fault reason per `vipd status`.
fault_of() { status_json "$1" | jfield 'd["instances"][0]["fault"]' 2>/dev/null; }
state_is() { [[ "$(state_of "$1")" == "$2" ]]; }
# metrics_of NODE: NODE's /metrics (the node runs with METRICS_LISTEN).
metrics_of() { nsx "$1" curl -s --max-time 2 http://127.0.0.1:9701/metrics; }
metric_is() { metrics_of "$1" | grep -qxF "$2"; }

# truthful NODE: `vipd status`, /metrics and `ip addr` tell the same story:
# MASTER exactly when the node holds the VIP.
truthful() {
    local node="$1" state held=0 want=0
    state="$(state_of "$node")" || return 1
    holds_vip "$node" && held=1
    [[ "$state" == MASTER ]] && want=1
    ((held == want)) || return 1
    metric_is "$node" "vipd_instance_state{vrrp_instance=\"vip\",state=\"$state\"} 1" || return 1
    metric_is "$node" "vipd_instance_holds_vips{vrrp_instance=\"vip\"} $want"
}

# check_truthful NODE...: fails the case with the evidence when one is not.
check_truthful() {
    local node
    for node in "$@"; do
        # The snapshot and the kernel are read one after the other: allow a
        # transition in between to settle.
        poll_until 2 0.05 truthful "$node" ||
            fail "$node: status, metrics and ip addr agree" "MASTER exactly when holding $VIP4" \
                "status $(state_of "$node"), holds: $(holds_vip "$node" && echo yes || echo no), metrics: $(metrics_of "$node" | grep -E 'instance_state.*} 1|holds_vips' | paste -sd' ')"
    done
    ok "status, metrics and ip addr agree on $*"
}

# recreate_eth0 NODE: creates NODE's eth0 again (deleted with `ip link del`;
# its bridge port went with it), same MAC and addresses, a new ifindex.
recreate_eth0() { plug_eth0 "$1"; }

# pair_with_metrics: n1 (priority 150) and n2 (100) serving metrics, n1 the
# master, n2 its backup, status and metrics truthful.
pair_with_metrics() {
    start_vipd n1 priority=150 "global=$METRICS_LISTEN"
    start_vipd n2 priority=100 "global=$METRICS_LISTEN"
    wait_until "n1 holds $VIP4" 5 only_holder n1
    wait_until "n2 is BACKUP" 5 state_is n2 BACKUP
    check_truthful n1 n2
}
