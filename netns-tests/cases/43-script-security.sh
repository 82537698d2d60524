#!/usr/bin/env bash
# Issue 4, script_security with the shipped pair: vipd refuses to start, with
# a message naming the file, when a check or hook script is group-writable
# (group not root), world-writable, or sits in a world-writable directory; it
# exits non-zero before touching any address. With the permissions put right
# the same config starts. The role scripts likewise refuse a roles.conf that
# anyone but root could change (its commands run as root).
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/../postgres.sh"

topo_up n1 client
roles_install
roles_conf n1
pair_conf n1 a

# refused WHAT REGEX: vipd on n1 exits non-zero within 10 s, its log says
# script_security refused to start and matches REGEX, and n1 holds nothing.
refused() {
    local what="$1" regex="$2" pid rc=0
    start_vipd n1
    pid="${VIPD_PID[n1]}"
    wait_until "vipd refuses to start ($what)" 10 not_ pid_alive "$pid"
    wait "$pid" || rc=$?
    ((rc != 0)) || fail "vipd's exit status ($what)" "non-zero" "$rc"
    ok "vipd exited with status $rc"
    check "the refusal names the file ($what)" log_has n1 "script_security: refusing to start: $regex"
    log "  $(log_since_start n1 | grep -m1 'script_security')"
    check "n1 holds neither address" eval "! has_addr n1 $VIP4 && ! has_addr n1 $VIP_APP"
}

nogroup_gid="$(getent group nogroup | cut -d: -f3)"
nogroup_gid="${nogroup_gid:-65534}"

step "a group-writable check script (group nogroup)"
chgrp "$nogroup_gid" "$ROLES_DIR/check-postgres.sh"
chmod g+w "$ROLES_DIR/check-postgres.sh"
refused "group-writable" "script $ROLES_DIR/check-postgres.sh is writable by group gid $nogroup_gid"
chgrp 0 "$ROLES_DIR/check-postgres.sh"
chmod 755 "$ROLES_DIR/check-postgres.sh"

step "a world-writable hook script"
chmod o+w "$ROLES_DIR/activate-primary.sh"
refused "world-writable" "script $ROLES_DIR/activate-primary.sh is writable by everyone"
chmod 755 "$ROLES_DIR/activate-primary.sh"

step "a world-writable (not sticky) directory on the scripts' path"
chmod 777 "$ROLES_DIR"
refused "world-writable directory" "$ROLES_DIR is writable by everyone \(on the path of /[^)]*\.sh\)"
chmod 755 "$ROLES_DIR"

step "the permissions put right: the same config starts"
start_vipd n1
# No PostgreSQL runs here: the weight-0 check holds db in FAULT once it reports.
wait_until "vipd on n1 starts (its instances leave INIT)" 10 log_has n1 "instance db: INIT -> (BACKUP|FAULT)"
check "vipd on n1 is running" pid_alive "${VIPD_PID[n1]}"
kill_vipd n1 TERM
assert_eq "vipd's exit status after SIGTERM" 0 "$VIPD_RC"

step "the role scripts refuse a world-writable roles.conf"
chmod 666 "$VT_TMP/n1/roles.conf"
rc=0
nsx n1 env VIPD_ROLES_CONF="$VT_TMP/n1/roles.conf" "$ROLES_DIR/check-postgres.sh" >"$VT_TMP/roles-refused.out" 2>&1 || rc=$?
((rc != 0)) || fail "check-postgres.sh with a world-writable roles.conf" "non-zero exit" "$rc"
grep -q "refusing $VT_TMP/n1/roles.conf: it must be owned by root and not group- or world-writable" "$VT_TMP/roles-refused.out" ||
    fail "check-postgres.sh's message" "refusing $VT_TMP/n1/roles.conf ..." "$(cat "$VT_TMP/roles-refused.out")"
ok "check-postgres.sh exited $rc: $(cat "$VT_TMP/roles-refused.out")"
