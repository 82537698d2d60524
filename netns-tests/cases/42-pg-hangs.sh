#!/usr/bin/env bash
# Issue 4, hangs: on the pair of 40-pg-failover, n1's notify_master hook
# (the shipped activate-primary.sh) hangs in its APP_START_CMD, and later
# n1's app_http check (the shipped check-http.sh) hangs on an app that
# accepts the request and never answers. vipd kills the hook at its
# hook_timeout (4 s here) and each check run at its timeout (2 s: the
# interval), with their process groups, while n1's adverts keep their
# schedule: on the wire, no gap between n1's adverts exceeds 3 x the advert
# interval. The hanging check then counts as failing (fall 3): the app
# instance enters Fault, the sync group takes the database address along, n1
# fences its primary and n2 is promoted.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/../postgres.sh"

topo_up n1 n2 client
pg_pair_up
capture_start vrrp "$BPF_VRRP4 and src $(ip4_of n1)"

hookpid="$VT_TMP/n1/app-start.pid"
# shellcheck disable=SC2034  # read by pg_pair_vipd_up in postgres.sh
PAIR_N1_TOML=('hook_timeout = "4s"')
# APP_START_CMD records its PID, then becomes a sleep that never returns.
# CHECK_TIMEOUT=30: curl in check-http.sh would wait 30 s on its own.
pg_pair_vipd_up "APP_START_CMD=echo \$\$ >$hookpid; exec sleep 300" "CHECK_TIMEOUT=30"

step "n1's activate-primary hangs in APP_START_CMD"
wait_until "the hanging APP_START_CMD runs" 10 eval '[[ -s "$hookpid" ]] && pid_alive "$(cat "$hookpid")"'
t_hook="$(now)"
hang="$(cat "$hookpid")"
hang_pgid="$(ps -o pgid= -p "$hang" | tr -d ' ')"
# Any live (not zombie) process of the hook's process group.
group_alive() { ps -e -o pgid=,stat= | awk -v g="$hang_pgid" '$1 == g && $2 !~ /^Z/ { f = 1 } END { exit !f }'; }
check "the hook's process group ($hang_pgid) is running" group_alive
wait_until "vipd kills the hook at its 4 s timeout" 10 log_has n1 "hook .*activate-primary.sh timed out after 4s"
wait_until "nothing of the hook's process group is left (sleep pid $hang included)" 2 not_ group_alive
t_hook_end="$(now)"
# From vipd's own timestamps: the MASTER transition (the hook starts right
# after the address work) to the kill.
log_epoch() { date -d "$(log_since_start n1 | grep -m1 -E -- "$1" | awk '{ print $1 }')" +%s.%N; }
hook_ms="$(awk -v a="$(log_epoch 'instance db: BACKUP -> MASTER')" -v b="$(log_epoch 'activate-primary.sh timed out after')" \
    'BEGIN { printf "%d", (b - a) * 1000 }')"
((hook_ms >= 3950 && hook_ms <= 6000)) || fail "time from n1's MASTER transition to the hook's kill" "4 s (+ the address work)" "${hook_ms} ms"
ok "the hook was killed ${hook_ms} ms after n1 became master (hook_timeout 4 s)"
check "n1 still holds both addresses" holds_pair n1

step "n1's app stops answering: its check hangs"
# Each check run is killed at 2 s; its curl must never live much longer.
curl_max_age() {
    local pids
    pids="$(ip netns pids "$(ns n1)" | paste -sd, -)"
    [[ -n "$pids" ]] || { echo 0; return; }
    ps -o etimes=,comm= -p "$pids" 2>/dev/null | awk '$2 == "curl" && $1 > m { m = $1 } END { print m + 0 }'
}
curls_seen=""
declare -A curl_pids=()
hang_watch() {
    local age pid
    age="$(curl_max_age)"
    ((age <= 3)) || fail "a hanging check's curl outlived the check timeout (2 s)" "at most 3 s old" "${age} s"
    for pid in $(ip netns pids "$(ns n1)"); do
        [[ "$(cat "/proc/$pid/comm" 2>/dev/null)" == curl ]] && curl_pids[$pid]=1
    done
    log_has n1 "instance app: MASTER -> FAULT"
}
app_hang n1
t_check="$(now)"
wait_until "the app check times out (fall 3) and n1's app instance enters Fault" 20 hang_watch
t_fault="$(now)"
curls_seen="${#curl_pids[@]}"
((curls_seen >= 2)) || fail "hanging check runs seen (each killed at its timeout)" ">= 2" "$curls_seen"
ok "$curls_seen hanging check runs (curl) seen, none older than 3 s"
check "vipd reports the check failing by timeout" log_has n1 "check app_http now failing \(timed out after"
wait_until "n2 holds $VIP4 and $VIP_APP (the sync group moved the database address too)" 5 holds_pair n2
wait_until "n2's PostgreSQL is promoted" 30 pg_is_primary n2
wait_until "n1 fenced its primary (FENCE_MODE=stop)" 30 not_ pg_running n1
check "n1's hook says so" log_has n1 "fencing the local primary: stopping PostgreSQL"
app_unhang n1
capture_stop vrrp

step "n1's adverts on the wire while the hook and the check hung"
# Adverts of instance db (vrid 51, byte 1 of the VRRP header) with a non-zero
# priority: n1's adverts as master, up to the priority-0 advert of its Fault.
tcpdump -r "$VT_TMP/vrrp.pcap" -n -tt "$BPF_VRRP4 and ip[21] = 51 and ip[22] != 0" 2>/dev/null |
    awk '{ print $1 }' >"$VT_TMP/adverts.txt"
gaps() { # gaps FROM TO: "count max_gap_ms" of the adverts sent between FROM and TO
    awk -v a="$1" -v b="$2" '$1 >= a && $1 <= b { if (p) { g = ($1 - p) * 1000; if (g > m) m = g } p = $1; n++ }
        END { printf "%d %d\n", n, m }' "$VT_TMP/adverts.txt"
}
interval_ms=500
limit=$((3 * interval_ms))
read -r n_hook max_hook < <(gaps "$t_hook" "$t_hook_end")
read -r n_check max_check < <(gaps "$t_check" "$t_fault")
read -r n_all max_all < <(gaps 0 "$t_fault")
log "adverts from n1 while the hook hung: $n_hook, largest gap ${max_hook} ms"
log "adverts from n1 while the check hung: $n_check, largest gap ${max_check} ms"
log "adverts from n1 as master in all: $n_all, largest gap ${max_all} ms (advert_interval ${interval_ms} ms)"
((n_hook >= 5)) || fail "n1's adverts while the hook hung (about 4 s at 500 ms)" ">= 5" "$n_hook"
((n_check >= 5)) || fail "n1's adverts while the check hung (about 4-6 s at 500 ms)" ">= 5" "$n_check"
((max_all < limit)) || fail "largest gap between n1's adverts" "< ${limit} ms" "${max_all} ms"
ok "no gap between n1's adverts reached 3 x the advert interval (${max_all} ms < ${limit} ms)"
