#!/usr/bin/env bash
# Adverts continue on schedule while the configuration is reloaded (issue 10:
# a reload is prepared off the protocol loop and applied without waiting).
# Master n1 (priority 150, 100 ms adverts) is reloaded 40 times back to back,
# alternately by `vipd reload` and by SIGHUP, each time adding or removing an
# instance that tracks a check and a process (so every reload reads the file,
# checks the check's program, restarts the tracked-process poller and starts
# or stops an instance). Backup n2 (priority 100) listens throughout.
# Asserted, from outside the daemons:
# - every reload was applied (`vipd reload` exits 0 only for an applied one;
#   each SIGHUP logs its changes, none is refused);
# - n2 never leaves BACKUP: its transition count does not move and it sends
#   no advert (the capture would show even a short-lived takeover);
# - n1's adverts for the instance that stays never pause for as long as n2's
#   Master_Down_Interval (3 x 100 ms + skew): a gap that long is exactly what
#   would make n2 take over, whatever the machine's speed.
# Then one reload whose file read is held: n1's configuration path becomes a
# named pipe, so reading it blocks until the test writes the new file into
# it (a slow or hung file system, made controllable). While the read is
# held (seen from outside: a thread of n1 waits in the pipe's open), n1 keeps
# advertising, more adverts than fit in n2's Master_Down_Interval, and n2
# stays BACKUP; once released, the reload is applied. A daemon that reads
# the file on its protocol loop sends nothing until the release (its
# Master_Down_Interval runs out on n2 instead).
source "$(dirname "$0")/../lib.sh"

topo_up n1 n2
start_vipd n1 priority=150
start_vipd n2 priority=100
wait_until "n1 holds $VIP4" 5 only_holder n1
wait_until "n2 is BACKUP" 5 state_is n2 BACKUP

counter() { status_json "$1" | jfield "d[\"instances\"][0][\"counters\"][\"$2\"]"; }
reload_cli() { nsx n1 "$VIPD_BIN" reload --socket "$VT_TMP/n1/vipd.sock"; }
# The instance added and removed by turns, with a check and a tracked process.
extra="$(printf '[instances.extra]\ninterface = "eth0"\nvrid = 60\nadvert_interval = "100ms"\nvirtual_ips = ["192.0.2.60/24"]\ntrack_checks = ["alive"]\ntrack_processes = ["daemon"]\n\n[checks.alive]\ncommand = ["/bin/true"]\ninterval = "1s"\n\n[track_processes.daemon]\nprocess = "vipd"\n')"
with_extra() { vipd_conf n1 priority=150 "extra=$extra"; }
without_extra() { vipd_conf n1 priority=150; }
applied_sighups() { log_since_start n1 | grep -cE "reload of .*: .*instance extra (added|removed)" || true; }
more_sighups_than() { (($(applied_sighups) > $1)); }

n2_transitions="$(counter n2 transitions)"
n1_transitions="$(counter n1 transitions)"
capture_start reload "$BPF_VRRP4"
wait_until "capture sees n1's adverts" 5 cap_at_least reload 3 "$BPF_VRRP4 and src 192.0.2.11"

step "40 reloads back to back, adding and removing instance extra"
window_start="$(now)"
for i in $(seq 1 40); do
    if ((i % 2)); then with_extra; change=added; else without_extra; change=removed; fi
    if ((i % 4 == 1 || i % 4 == 2)); then
        out="$(reload_cli 2>&1)" || fail "vipd reload #$i is applied" "exit 0" "$out"
        grep -q "instance extra $change" <<<"$out" || fail "vipd reload #$i output" "instance extra $change" "$out"
    else
        seen="$(applied_sighups)"
        kill -HUP "${VIPD_PID[n1]}"
        poll_until 10 0.02 more_sighups_than "$seen" ||
            fail "SIGHUP #$i is applied" "a log line 'reload of ...: instance extra $change'" "$(log_since_start n1 | grep -iE 'reload' | tail -n 3)"
    fi
done
ok "40 reloads applied (20 by vipd reload, 20 by SIGHUP) in $(elapsed_ms "$window_start") ms"
if log_has n1 "reload of .* refused"; then fail "no reload refused" "no 'reload of ... refused' in n1's log" "$(log_since_start n1 | grep -i refused | head -n 3)"; fi
ok "n1 logged no refused reload"

# One more advert interval on the wire after the last reload, then stop.
last_reload="$(cap_count reload "$BPF_VRRP4 and src 192.0.2.11 and ip[21] = 51")"
wait_until "n1 advertises after the last reload" 5 cap_at_least reload $((last_reload + 2)) "$BPF_VRRP4 and src 192.0.2.11 and ip[21] = 51"
capture_stop reload

assert_eq "n2's state" BACKUP "$(state_of n2)"
assert_eq "n2's transitions (none during the reloads)" "$n2_transitions" "$(counter n2 transitions)"
assert_eq "n1's transitions of instance vip (none during the reloads)" "$n1_transitions" "$(counter n1 transitions)"
assert_eq "adverts sent by n2 during the reloads" 0 "$(cap_count reload "$BPF_VRRP4 and src 192.0.2.12")"
check "n1 holds $VIP4 and n2 does not" only_holder n1

# n1's adverts for VRID 51 from the first reload on: the largest gap, the
# count, and n2's Master_Down_Interval (RFC 9568 6.1: 3 x interval +
# (256 - priority) x interval / 256).
read -r max_gap count span <<<"$(tcpdump -r "$VT_TMP/reload.pcap" -n -tt "$BPF_VRRP4 and src 192.0.2.11 and ip[21] = 51" 2>/dev/null |
    awk -v from="$window_start" '
        $1 < from { prev = $1; next }
        { if (prev != "" && $1 - prev > max) max = $1 - prev; if (first == "") first = $1; prev = $1; n++ }
        END { printf "%.4f %d %.3f\n", max, n, prev - first }')"
mdi="$(awk 'BEGIN { printf "%.4f", 3 * 0.1 + (256 - 100) * 0.1 / 256 }')"
log "n1 sent $count adverts for VRID 51 over ${span} s from the first reload (one per 100 ms would be $(awk -v s="$span" 'BEGIN { printf "%d", s / 0.1 + 1 }')); largest gap ${max_gap} s"
awk -v g="$max_gap" -v m="$mdi" 'BEGIN { exit !(g < m) }' ||
    fail "n1's adverts never pause for n2's Master_Down_Interval during the reloads" "every gap < ${mdi} s" "a gap of ${max_gap} s"
ok "no gap between n1's adverts reached n2's Master_Down_Interval (${mdi} s)"

step "a reload whose file read is held"
conf="$VT_TMP/n1/vipd.toml"
with_extra
mv "$conf" "$VT_TMP/n1/vipd.next.toml"
mkfifo "$conf"
capture_start held "$BPF_VRRP4"
wait_until "capture sees n1's adverts" 5 cap_at_least held 2 "$BPF_VRRP4 and src 192.0.2.11 and ip[21] = 51"
nsx n1 "$VIPD_BIN" reload --socket "$VT_TMP/n1/vipd.sock" >"$VT_TMP/held.out" 2>&1 &
held_pid=$!
record_pid "$held_pid"
reading_pipe() { grep -qs wait_for_partner /proc/"${VIPD_PID[n1]}"/task/*/wchan; }
wait_until "n1 is held in opening its configuration (a named pipe)" 5 reading_pipe
base="$(cap_count held "$BPF_VRRP4 and src 192.0.2.11 and ip[21] = 51")"
# 5 adverts span more than n2's Master_Down_Interval (3.61 intervals).
wait_until "n1 sends 5 adverts while the reload's file read is held" 5 \
    cap_at_least held $((base + 5)) "$BPF_VRRP4 and src 192.0.2.11 and ip[21] = 51"
check "the reload is still held" reading_pipe
assert_eq "n2's state while the reload is held" BACKUP "$(state_of n2)"
assert_eq "n2's transitions while the reload is held" "$n2_transitions" "$(counter n2 transitions)"
assert_eq "adverts sent by n2 while the reload is held" 0 "$(cap_count held "$BPF_VRRP4 and src 192.0.2.12")"
# Release: the new file through the pipe (bounded: dd opens it itself).
timeout 5 dd if="$VT_TMP/n1/vipd.next.toml" of="$conf" status=none ||
    fail "writing the new configuration into the pipe" "dd exits 0" "it did not"
rm -f "$conf"
mv "$VT_TMP/n1/vipd.next.toml" "$conf"
poll_until 10 0.05 not_ pid_alive "$held_pid" || fail "vipd reload answers once the file is read" "it exits" "still waiting"
rc=0
wait "$held_pid" || rc=$?
assert_eq "vipd reload's exit status after the held read (0: applied)" 0 "$rc"
grep -q "instance extra added" "$VT_TMP/held.out" || fail "held reload output" "instance extra added" "$(cat "$VT_TMP/held.out")"
ok "the held reload was applied: $(paste -sd' ' "$VT_TMP/held.out")"
wait_until "n1's added instance takes 192.0.2.60" 5 only_holder n1 192.0.2.60
capture_stop held
assert_eq "n2's transitions at the end" "$n2_transitions" "$(counter n2 transitions)"
check "n1 still holds $VIP4 alone" only_holder n1

step "SIGTERM while a reload's file read is held"
mv "$conf" "$VT_TMP/n1/vipd.next.toml"
mkfifo "$conf"
nsx n1 "$VIPD_BIN" reload --socket "$VT_TMP/n1/vipd.sock" >"$VT_TMP/held2.out" 2>&1 &
held_pid=$!
record_pid "$held_pid"
wait_until "n1 is held in opening its configuration again" 5 reading_pipe
# A hung file system must not keep a stopping daemon alive.
kill_vipd n1 TERM
assert_eq "n1's exit status after SIGTERM with a held reload" 0 "$VIPD_RC"
check "n1 left no VIP behind" not_ holds_vip n1 "$VIP4"
poll_until 10 0.05 not_ pid_alive "$held_pid" || fail "vipd reload gives up when the daemon is gone" "it exits" "still waiting"
wait "$held_pid" || true
rm -f "$conf"
mv "$VT_TMP/n1/vipd.next.toml" "$conf"
ok "n1 stopped cleanly while its reload was held"
