//! Invalid configurations: each error is reported at the exact line and
//! column of the offending key or value, with a message that says what is
//! expected. A change in either is a regression.
//!
//! Most cases are tables of (case, file, every diagnostic), one table per
//! family of errors; a case's name says what it covers.

use proptest::prelude::*;
use vipd_core::config;

/// Every diagnostic as "LINE:COL: MESSAGE".
fn errors(text: &str) -> Vec<String> {
    match config::parse(text, "t.toml") {
        Ok(_) => panic!("expected errors, but the config is valid:\n{text}"),
        Err(diags) => diags
            .iter()
            .map(|d| {
                assert_eq!(d.file, "t.toml");
                format!("{}:{}: {}", d.line, d.column, d.message)
            })
            .collect(),
    }
}

/// Each case's file gives exactly its diagnostics, in order.
fn expect(cases: &[(&str, String, &[&str])]) {
    for (case, text, expected) in cases {
        assert_eq!(errors(text), *expected, "case `{case}`:\n{text}");
    }
}

/// `[instances.db]` on eth0 with vrid 51 (lines 1 to 3), then `rest` from
/// line 4.
fn db(rest: &str) -> String {
    format!("[instances.db]\ninterface = \"eth0\"\nvrid = 51\n{rest}")
}

/// [`db`] with its one virtual IP on line 4 and `rest` from line 5.
fn db_vip(rest: &str) -> String {
    db(&format!("virtual_ips = [\"192.0.2.50/24\"]\n{rest}"))
}

/// Keys, sections and values the first pass cannot read.
#[test]
fn unreadable_keys_and_values() {
    expect(&[
        (
            "unknown_key_suggests_the_near_miss",
            db("preemt = false\nvirtual_ips = [\"192.0.2.50/24\"]\n"),
            &["4:1: unknown key `preemt` in [instances.db]; did you mean `preempt`?"],
        ),
        (
            "unknown_key_lists_valid_keys",
            "[global]\ncolour = \"blue\"\n".into(),
            &[
                "2:1: unknown key `colour` in [global]; expected one of: node_name, control_socket, \
                 control_group, metrics_listen, script_user, script_security, hook_timeout",
            ],
        ),
        (
            // Not also "missing required key `vrid`": the misspelling says it.
            "unknown_key_maps_keepalived_names",
            r#"[instances.db]
interface = "eth0"
virtual_router_id = 51
nopreempt = true
virtual_ips = ["192.0.2.50/24"]
"#
            .into(),
            &[
                "3:1: unknown key `virtual_router_id` in [instances.db]; keepalived's \
                 `virtual_router_id` is `vrid` here",
                "4:1: unknown key `nopreempt` in [instances.db]; write `preempt = false` instead \
                 of keepalived's `nopreempt`",
            ],
        ),
        (
            "unknown_section",
            "[vrrp_instance]\nx = 1\n".into(),
            &[
                "1:2: unknown section `vrrp_instance`; keepalived's `vrrp_instance` is \
                 [instances.NAME] here",
            ],
        ),
        (
            "keepalived_track_names_point_to_vipd_keys",
            format!(
                "[vrrp_track_process]\nx = 1\n\n{}",
                db_vip("track_file = [\"maintenance\"]\n")
            ),
            &[
                "1:2: unknown section `vrrp_track_process`; keepalived's `vrrp_track_process` is \
                 [track_processes.NAME] here",
                "8:1: unknown key `track_file` in [instances.db]; keepalived's `track_file` is \
                 `track_files` here",
            ],
        ),
        (
            "wrong_type",
            r#"[instances.db]
interface = "eth0"
vrid = "51"
preempt = "yes"
virtual_ips = ["192.0.2.50/24"]
"#
            .into(),
            &[
                "3:8: wrong type for `vrid`: expected an integer, found string \"51\"",
                "4:11: wrong type for `preempt`: expected a boolean, found string \"yes\"",
            ],
        ),
        (
            "wrong_type_for_argv",
            "[checks.pg]\ncommand = \"/usr/lib/vipd/check-postgres.sh --quick\"\n".into(),
            &[
                "2:11: wrong type for `command`: expected an array of strings: the program and \
                 its arguments, run without a shell, like [\"/usr/lib/vipd/notify.sh\", \"arg\"], \
                 found string \"/usr/lib/vipd/check-postgres.sh --quick\"",
            ],
        ),
        (
            "invalid_duration_text",
            "[checks.pg]\ncommand = [\"/bin/true\"]\ninterval = \"2 parsecs\"\n".into(),
            &[
                "3:12: `interval`: invalid duration \"2 parsecs\": unknown time unit \
                 \"parsecs\", supported units: ns, us/µs, ms, sec, min, hours, days, weeks, \
                 months, years (and few variations); write durations like \"1s\", \"250ms\" or \
                 \"1m 30s\"",
            ],
        ),
        (
            "track_checks_entry_of_wrong_shape",
            format!(
                "[checks.pg]\ncommand = [\"/bin/true\"]\n\n{}",
                db_vip(
                    "track_checks = [{ name = \"pg\", wieght = -10 }]\ntrack_interfaces = [7]\n"
                )
            ),
            &[
                "8:32: unknown key `wieght` in a `track_checks` entry; expected `name` or `weight`",
                "9:21: wrong type in `track_interfaces`: expected a name, or a table like \
                 { name = \"...\", weight = -20 }, found integer `7`",
            ],
        ),
        (
            "track_entry_without_name",
            db_vip("track_interfaces = [{ weight = -10 }]\n"),
            &["5:21: `track_interfaces`: an entry is missing required key `name`"],
        ),
    ]);
}

/// Text that is not TOML: one error per line, the first.
#[test]
fn toml_syntax() {
    expect(&[
        (
            "toml_syntax_error",
            "[instances.db]\ninterface = \"eth0\"\nvrid = 51x\n".into(),
            &["3:8: TOML syntax error: string values must be quoted, expected literal string"],
        ),
        (
            "toml_duplicate_key_names_the_key",
            "[instances.db]\ninterface = \"eth0\"\ninterface = \"eth1\"\n".into(),
            &["3:1: TOML syntax error: duplicate key `interface`"],
        ),
        (
            "unquoted_string_suggests_quotes",
            "[instances.db]\ninterface = eth0\n".into(),
            &[
                "2:13: TOML syntax error: string values must be quoted, expected literal string; \
                 write \"eth0\"",
            ],
        ),
        (
            "keepalived_conf_is_recognised",
            "vrrp_instance VI_1 {\n    state MASTER\n    interface eth0\n}\n".into(),
            &[
                "1:15: TOML syntax error: key with no value, expected `=` (this looks like \
                 keepalived.conf syntax; vipd reads TOML)",
            ],
        ),
    ]);
}

/// One instance's own keys: ranges, versions and intervals, addresses,
/// passwords, programs and names.
#[test]
fn instance_keys() {
    let vrid = |n| {
        format!(
            "[instances.db]\ninterface = \"eth0\"\nvrid = {n}\nvirtual_ips = [\"192.0.2.50/24\"]\n"
        )
    };
    let interval = |i| {
        db(&format!(
            "advert_interval = \"{i}\"\nvirtual_ips = [\"192.0.2.50/24\"]\n"
        ))
    };
    let v3_range = "with version = 3, `advert_interval` must be from 10ms to 40.95s in whole \
                    centiseconds (10ms steps), found";
    expect(&[
        (
            "vrid_out_of_range",
            vrid(256),
            &["3:8: `vrid` must be between 1 and 255, found 256"],
        ),
        (
            "vrid_out_of_range",
            vrid(0),
            &["3:8: `vrid` must be between 1 and 255, found 0"],
        ),
        (
            "priority_out_of_range",
            db("priority = 0\nvirtual_ips = [\"192.0.2.50/24\"]\n"),
            &["4:12: `priority` must be between 1 and 255 (255 = address owner), found 0"],
        ),
        (
            "version_other_than_2_or_3",
            db("version = 4\nvirtual_ips = [\"192.0.2.50/24\"]\n"),
            &["4:11: `version` must be 2 or 3, found 4"],
        ),
        (
            "v2_sub_second_interval",
            db("version = 2\nadvert_interval = \"500ms\"\nvirtual_ips = [\"192.0.2.50/24\"]\n"),
            &[
                "5:19: with version = 2, `advert_interval` must be whole seconds from 1s to 255s \
                 (sub-second intervals need version = 3), found 500ms",
            ],
        ),
        (
            "v2_fractional_interval",
            db("version = 2\nadvert_interval = 1.5\nvirtual_ips = [\"192.0.2.50/24\"]\n"),
            &[
                "5:19: with version = 2, `advert_interval` must be whole seconds from 1s to 255s \
                 (VRRPv2 carries whole seconds; finer intervals need version = 3), found 1s 500ms",
            ],
        ),
        (
            "v3_interval_out_of_range_or_not_whole_centiseconds",
            interval("5ms"),
            &[&format!("4:19: {v3_range} 5ms")],
        ),
        (
            "v3_interval_out_of_range_or_not_whole_centiseconds",
            interval("41s"),
            &[&format!("4:19: {v3_range} 41s")],
        ),
        (
            "v3_interval_out_of_range_or_not_whole_centiseconds",
            interval("1005ms"),
            &[&format!("4:19: {v3_range} 1s 5ms")],
        ),
        (
            "preempt_delay_too_long",
            db_vip("preempt_delay = \"1001s\"\n"),
            &["5:17: `preempt_delay` must be at most 1000s, found 16m 41s"],
        ),
        (
            "mixed_families_in_virtual_ips",
            db("virtual_ips = [\"192.0.2.50/24\", \"2001:db8::50/64\"]\n"),
            &[
                "4:33: `virtual_ips` mixes address families: 2001:db8::50 is IPv6 but 192.0.2.50 \
                 is IPv4; use one instance per family",
            ],
        ),
        (
            "peers_and_source_of_another_family",
            db_vip("unicast_src_ip = \"2001:db8::1\"\nunicast_peers = [\"192.0.2.11\", \"2001:db8::2\"]\n"),
            &[
                "5:18: `unicast_src_ip`: 2001:db8::1 is IPv6 but the virtual IPs are IPv4",
                "6:32: `unicast_peers`: 2001:db8::2 is IPv6 but the virtual IPs are IPv4",
            ],
        ),
        (
            "bad_addresses",
            db("virtual_ips = [\"192.0.2.300/24\", \"224.0.0.18\"]\nunicast_peers = [\"peer-b\"]\n"),
            &[
                "4:16: `virtual_ips`: \"192.0.2.300/24\" is not an address or address/prefix like \
                 \"192.0.2.50/24\"",
                "4:34: `virtual_ips`: 224.0.0.18 cannot be a virtual IP (multicast address)",
                "5:18: `unicast_peers`: \"peer-b\" is not an IP address like \"192.0.2.10\" or \
                 \"2001:db8::10\"",
            ],
        ),
        (
            "empty_virtual_ips",
            db("virtual_ips = []\n"),
            &["4:15: `virtual_ips` must list at least one address, like [\"192.0.2.50/24\"]"],
        ),
        (
            "duplicate_vip_inside_an_instance",
            db("virtual_ips = [\"192.0.2.50/24\", \"192.0.2.50\"]\n"),
            &["4:33: `virtual_ips` lists 192.0.2.50 twice"],
        ),
        (
            "v2_with_ipv6",
            db("version = 2\nvirtual_ips = [\"2001:db8::50/64\"]\n"),
            &["5:16: VRRPv2 is IPv4-only: 2001:db8::50 needs version = 3"],
        ),
        (
            "missing_required_keys",
            "[instances.db]\npriority = 120\n".into(),
            &[
                "1:12: instance `db` is missing required key `interface` (the network interface, \
                 like \"eth0\")",
                "1:12: instance `db` is missing required key `vrid` (the virtual router id \
                 1..=255, the same on every node of this router)",
                "1:12: instance `db` is missing required key `virtual_ips` (the addresses this \
                 instance carries, like [\"192.0.2.50/24\"])",
            ],
        ),
        (
            "auth_pass_on_v3",
            db_vip("auth_pass = \"secret\"\n"),
            &[
                "5:1: `auth_pass` needs version = 2 (the default is 3): VRRPv3 has no \
                 authentication (RFC 9568)",
            ],
        ),
        (
            "auth_pass_too_long",
            db("version = 2\nvirtual_ips = [\"192.0.2.50/24\"]\nauth_pass = \"123456789\"\n"),
            &["6:13: `auth_pass` must be 1 to 8 bytes (VRRPv2 carries 8), found 9 bytes"],
        ),
        (
            "relative_program",
            db_vip("notify_master = [\"promote.sh\"]\n"),
            &[
                "5:17: `notify_master`: the program must be an absolute path (it runs without a \
                 shell or PATH search), found \"promote.sh\"",
            ],
        ),
        (
            "bad_names",
            "[instances.\"db a\"]\ninterface = \"eth0/1\"\nvrid = 51\nvirtual_ips = [\"192.0.2.50/24\"]\n"
                .into(),
            &[
                "1:12: instance name \"db a\" may contain only ASCII letters, digits, '_', '-' and \
                 '.'",
                "2:13: `interface`: \"eth0/1\" is not a valid interface name (1 to 15 bytes, no \
                 '/', ':' or spaces)",
            ],
        ),
    ]);
}

/// Checks, tracked files and processes, and `[global]`, on their own.
#[test]
fn other_tables() {
    expect(&[
        (
            "rise_and_fall_zero",
            "[checks.pg]\ncommand = [\"/bin/true\"]\nrise = 0\nfall = 0\n".into(),
            &[
                "3:8: `rise` must be at least 1, found 0",
                "4:8: `fall` must be at least 1, found 0",
            ],
        ),
        (
            "empty_command",
            "[checks.pg]\ncommand = []\n".into(),
            &[
                "2:11: `command` must not be empty: give the program and its arguments, like \
                 [\"/usr/lib/vipd/check.sh\"]",
            ],
        ),
        (
            "global_values",
            r#"[global]
control_socket = "vipd.sock"
metrics_listen = "localhost"
node_name = ""
"#
            .into(),
            &[
                "2:18: `control_socket` must be an absolute path, found \"vipd.sock\"",
                "3:18: `metrics_listen` must be an address and port like \"127.0.0.1:9701\" or \
                 \"[::1]:9701\", found \"localhost\"",
                "4:13: `node_name` must not be empty",
            ],
        ),
        (
            "track_file_table_errors",
            r#"[track_files.rel]
path = "etc/vipd/maintenance"
weight = -300

[track_files.nopath]
weight = 2

[track_files.typo]
file = "/etc/vipd/x"
"#
            .into(),
            &[
                "2:8: `path` must be an absolute path, found \"etc/vipd/maintenance\"",
                "3:10: `weight` must be between -253 and 253, found -300",
                "5:14: tracked file `nopath` is missing required key `path` (the file holding the \
                 value, like \"/etc/vipd/maintenance\")",
                // Not also "missing `path`": the keepalived spelling says it.
                "9:1: unknown key `file` in [track_files.typo]; keepalived's track_file `file` is \
                 `path` here",
            ],
        ),
        (
            "track_process_table_errors",
            r#"[track_processes.long]
process = "postgres-replica-7"

[track_processes.quorums]
process = "haproxy"
quorum = 3
quorum_max = 2

[track_processes.zero]
process = "haproxy"
quorum = 0
fork_delay = 1

[track_processes.empty]
process = ""
args = "--all"
quorum = -1

[track_processes.none]
weight = 5
"#
            .into(),
            &[
                "2:11: `process`: \"postgres-replica-7\" is 18 bytes but the kernel keeps only the \
                 first 15 of a process name (/proc/PID/comm); set full_command = true to match \
                 the command line instead",
                "7:14: `quorum_max` must be at least `quorum` (3), found 2",
                "11:10: `quorum` = 0 needs a `quorum_max` (without it the process always counts \
                 as running)",
                "12:1: unknown key `fork_delay` in [track_processes.zero]; vipd has one `delay` \
                 for both directions, keepalived's `fork_delay` and `terminate_delay`",
                "15:11: `process` must not be empty",
                "16:8: wrong type for `args`: expected an array, found string \"--all\"",
                "17:10: `quorum` must be between 0 and 65535, found -1",
                "19:18: tracked process `none` is missing required key `process` (the process \
                 name to look for, like \"postgres\")",
            ],
        ),
    ]);
}

/// What one table says about another: references by name, weights, and
/// what must be unique across instances.
#[test]
fn across_tables() {
    expect(&[
        (
            // Reported on the later one in the file, although `app` sorts first.
            "duplicate_vrid_on_one_interface_and_family",
            format!(
                "{}\n[instances.app]\ninterface = \"eth0\"\nvrid = 51\nvirtual_ips = [\"192.0.2.51/24\"]\n",
                db_vip("")
            ),
            &[
                "8:8: vrid 51 is already used by instance `db` on eth0 for IPv4; each virtual \
                 router on a link needs its own vrid",
            ],
        ),
        (
            "vip_in_two_instances",
            format!(
                "{}\n[instances.app]\ninterface = \"eth0\"\nvrid = 52\nvirtual_ips = [\"192.0.2.50/24\"]\n",
                db_vip("")
            ),
            &["9:16: `virtual_ips`: 192.0.2.50 is already a virtual IP of instance `db`"],
        ),
        (
            "unknown_check_in_track_checks",
            format!(
                "[checks.pg_alive]\ncommand = [\"/usr/lib/vipd/check-postgres.sh\"]\n\n{}",
                db_vip("track_checks = [\"pg_alvie\", { name = \"disk\", weight = -10 }]\n")
            ),
            &[
                "8:17: `track_checks`: no check named `pg_alvie`; did you mean `pg_alive`?",
                "8:38: `track_checks`: no check named `disk`; defined checks: pg_alive",
            ],
        ),
        (
            "unknown_names_in_track_files_and_track_processes",
            format!(
                "[track_files.maintenance]\npath = \"/etc/vipd/maintenance\"\n\n{}",
                db_vip(
                    "track_files = [\"maintenanse\", { name = \"disk\", weight = -1 }, \
                     \"maintenance\", \"maintenance\"]\ntrack_processes = [\"postgres\"]\n"
                )
            ),
            &[
                "8:16: `track_files`: no tracked file named `maintenanse`; did you mean \
                 `maintenance`?",
                "8:40: `track_files`: no tracked file named `disk`; defined tracked files: \
                 maintenance",
                "8:78: `track_files` lists `maintenance` twice",
                "9:20: `track_processes`: no tracked process named `postgres`; no tracked \
                 processes are defined (add a [track_processes.NAME] table)",
            ],
        ),
        (
            "weight_out_of_range",
            format!(
                "[checks.pg]\ncommand = [\"/bin/true\"]\nweight = -254\n\n{}",
                db_vip("track_interfaces = [{ name = \"eth1\", weight = 300 }]\n")
            ),
            &[
                "3:10: `weight` must be between -253 and 253, found -254",
                "9:47: `weight` must be between -253 and 253, found 300",
            ],
        ),
        (
            "long_process_name_is_fine_with_full_command",
            format!(
                "[track_processes.long]\nprocess = \"postgres-replica-7\"\nfull_command = true\n\n{}",
                db_vip("track_processes = [{ name = \"long\", weight = 254 }]\n")
            ),
            &["9:46: `weight` must be between -253 and 253, found 254"],
        ),
        (
            "sync_group_names_unknown_instance",
            format!(
                "{}\n[sync_groups.pg]\ninstances = [\"db\", \"ap\"]\n",
                db_vip("")
            ),
            &["7:20: `instances`: no instance named `ap`; defined instances: db"],
        ),
        (
            "instance_in_two_sync_groups",
            format!(
                "{}\n[sync_groups.one]\ninstances = [\"db\"]\n\n[sync_groups.two]\ninstances = [\"db\"]\n",
                db_vip("")
            ),
            &[
                "10:14: instance `db` is already in sync group `one`; an instance can belong to \
                 only one sync group",
            ],
        ),
    ]);
}

#[test]
fn more_addresses_than_an_advert_carries() {
    let vips: Vec<String> = (0..256)
        .map(|i| format!("\"198.51.100.{}/32\"", i % 256))
        .chain(std::iter::once("\"203.0.113.1/32\"".to_owned()))
        .skip(1)
        .collect();
    let text = db(&format!("virtual_ips = [{}]\n", vips.join(", ")));
    expect(&[(
        "more_addresses_than_an_advert_carries",
        text.clone(),
        &[
            "4:15: `virtual_ips` lists 256 addresses, but an advert carries at most 255; \
             split them over several instances (a sync group keeps them together)",
        ],
    )]);
    // 255 fit.
    let text = text.replace(", \"203.0.113.1/32\"", "");
    assert!(config::parse(&text, "t.toml").is_ok());
}

/// keepalived logs that such a group "won't work" and runs it anyway; vipd
/// refuses it: the owner is MASTER at once whatever its peers do, so the group
/// could never follow the other members' elections.
#[test]
fn sync_group_mixing_an_address_owner_with_other_members() {
    let text = format!(
        "{}\n[instances.app]\ninterface = \"eth0\"\nvrid = 52\nvirtual_ips = [\"192.0.2.51/24\"]\n\n\
         [sync_groups.pg]\ninstances = [\"db\", \"app\"]\n",
        db("priority = 255\nvirtual_ips = [\"192.0.2.50/24\"]\n")
    );
    expect(&[(
        "sync_group_mixing_an_address_owner_with_other_members",
        text.clone(),
        &[
            "13:13: sync group `pg` mixes an address owner (priority 255: db) with other members \
             (app); an owner is MASTER whatever its peers do, so the group could not move \
             together: lower the owner's priority below 255 or take it out of the group",
        ],
    )]);
    // A group of owners only is fine.
    let owners = text.replace("vrid = 52\n", "vrid = 52\npriority = 255\n");
    assert!(config::parse(&owners, "t.toml").is_ok());
}

#[test]
fn all_errors_are_collected_across_tables() {
    let text = r#"[checks.pg]
command = []
rise = 0

[instances.db]
interface = "eth0"
vrid = 300
priority = "high"
virtual_ips = []

[instances.app]
interface = "eth0"
vrid = 52
virtual_ips = ["192.0.2.51/24"]
track_checks = ["nope"]
"#;
    let all = errors(text);
    let locations: Vec<&str> = all.iter().map(|e| e.split(": ").next().unwrap()).collect();
    assert_eq!(locations, ["2:11", "3:8", "7:8", "8:12", "9:15", "15:17"]);
}

#[test]
fn rendering_quotes_the_line_with_a_caret() {
    let text = "[instances.db]\ninterface = \"eth0\"\nvrid = 300\nvirtual_ips = [\"192.0.2.1\"]\n";
    let diags = config::parse(text, "conf/vipd.toml").unwrap_err();
    assert_eq!(
        diags.to_string(),
        "conf/vipd.toml:3:8: error: `vrid` must be between 1 and 255, found 300\n"
    );
    assert_eq!(
        diags.render(),
        "conf/vipd.toml:3:8: error: `vrid` must be between 1 and 255, found 300\n\
         3 | vrid = 300\n  \
           |        ^^^\n"
    );
}

proptest! {
    /// Damaging a valid file anywhere gives diagnostics or a config, never a
    /// panic, and every diagnostic points inside the file.
    #[test]
    fn damaged_files_never_panic(at in 0usize..2000, len in 0usize..20, junk in "\\PC{0,8}") {
        let full = include_str!("../../config/full.toml");
        let mut at = at.min(full.len());
        while !full.is_char_boundary(at) {
            at -= 1;
        }
        let mut end = (at + len).min(full.len());
        while !full.is_char_boundary(end) {
            end -= 1;
        }
        let text = format!("{}{junk}{}", &full[..at], &full[end..]);
        if let Err(diags) = config::parse(&text, "f.toml") {
            prop_assert!(!diags.is_empty());
            let lines = text.lines().count().max(1);
            for d in &diags {
                prop_assert!(d.line >= 1 && d.line <= lines + 1, "{d}");
                prop_assert!(d.column >= 1);
                let _ = d.render();
            }
        }
    }
}

/// `[etcd]` and `leadership`: what a lock needs.
#[test]
fn etcd_and_leadership() {
    let etcd = "[etcd]\nendpoints = [\"http://192.0.2.11:2379\"]\n";
    expect(&[
        (
            "leadership_needs_an_etcd_section",
            db_vip("leadership = { key = \"/vipd/db\" }\n"),
            &[
                "5:14: instance db: `leadership` needs an [etcd] section with the cluster's `endpoints`",
            ],
        ),
        (
            "key_ttl_and_policy_are_checked",
            format!(
                "{etcd}{}",
                db_vip("leadership = { key = \"db\", ttl = \"2s\", on_etcd_loss = \"hold\" }\n")
            ),
            &[
                "7:22: `leadership.key` must be an etcd key starting with '/', like \"/vipd/pair/db\", found \"db\"",
                "7:34: `leadership.ttl` must be a whole number of seconds from 4 to 300 (etcd leases count in seconds, and the kernel fence needs at least 4 s), found 2s",
                "7:55: `leadership.on_etcd_loss` must be \"step_down\" (a master steps down when its lease cannot be renewed) or \"keep\" (a master keeps its addresses while etcd is unreachable), found \"hold\"",
            ],
        ),
        (
            "a_key_is_one_instance's",
            format!(
                "{etcd}{}[instances.web]\ninterface = \"eth0\"\nvrid = 52\nvirtual_ips = [\"192.0.2.51/24\"]\nleadership = {{ key = \"/vipd/db\" }}\n",
                db_vip("leadership = { key = \"/vipd/db\" }\n")
            ),
            &[
                "12:22: instance web: leadership key \"/vipd/db\" is already instance db's; each instance or sync group needs a key of its own",
            ],
        ),
        (
            "a_locked_instance_cannot_be_in_a_sync_group",
            format!(
                "{etcd}{}[sync_groups.g]\ninstances = [\"db\"]\n",
                db_vip("leadership = { key = \"/vipd/db\" }\n")
            ),
            &[
                "9:13: sync group `g`: db has a `leadership` lock of its own; a sync group's members move to MASTER together, so set `leadership` on [sync_groups.g] instead",
            ],
        ),
        (
            "a_group_lock_needs_etcd_and_a_key_of_its_own",
            format!(
                "{}[sync_groups.g]\ninstances = [\"db\"]\nleadership = {{ key = \"/vipd/db\" }}\n[sync_groups.h]\ninstances = []\nleadership = {{ key = \"/vipd/db\" }}\n",
                db_vip("")
            ),
            &[
                "7:14: sync group `g`: `leadership` needs an [etcd] section with the cluster's `endpoints`",
                "9:13: `instances` must name at least one instance, like [\"db\", \"app\"]",
                "10:14: sync group `h`: `leadership` needs an [etcd] section with the cluster's `endpoints`",
                "10:22: sync group `h`: leadership key \"/vipd/db\" is already sync group `g`'s; each instance or sync group needs a key of its own",
            ],
        ),
        (
            "a_locked_group_cannot_hold_an_address_owner",
            format!(
                "{etcd}{}[sync_groups.g]\ninstances = [\"db\"]\nleadership = {{ key = \"/vipd/db\" }}\n",
                db_vip("priority = 255\n")
            ),
            &[
                "10:14: sync group `g` has a `leadership` lock but an address owner (priority 255: db), which takes MASTER at once and cannot wait for the lock: lower its priority below 255",
            ],
        ),
        (
            "endpoints_are_client_urls",
            format!(
                "[etcd]\nendpoints = [\"192.0.2.11:2379\", \"http://192.0.2.12:2379\"]\nusername = \"vipd\"\n{}",
                db_vip("")
            ),
            &[
                "2:14: `endpoints`: \"192.0.2.11:2379\" is not an etcd client URL; write \"http://HOST:PORT\" or \"https://HOST:PORT\"",
                "3:12: `username` and `password` go together: set both or neither",
            ],
        ),
    ]);
}

/// `follow_patroni`: Patroni elects, so VRRP's keys have no place.
#[test]
fn follow_patroni() {
    let etcd = "[etcd]\nendpoints = [\"http://192.0.2.11:2379\"]\n";
    expect(&[
        (
            "vrrp_keys_are_refused",
            format!(
                "{etcd}{}",
                db_vip("follow_patroni = { leader_key = \"/service/pg/leader\", member = \"a\" }\n")
            ),
            &["5:1: instance db: `vrid` has no meaning with `follow_patroni`: Patroni elects the leader, not VRRP"],
        ),
        (
            "names_and_url_are_checked",
            format!(
                "{etcd}[instances.pg]\ninterface = \"eth0\"\nvirtual_ips = [\"192.0.2.60/24\"]\nfollow_patroni = {{ leader_key = \"pg\", rest_url = \"https://h:1\" }}\n"
            ),
            &[
                "6:18: `follow_patroni` needs `member`: this node's Patroni member name (its `name` in patroni.yml)",
                "6:33: `follow_patroni.leader_key` must be Patroni's leader key, like \"/service/pg/leader\" (/<namespace>/<scope>/leader), found \"pg\"",
                "6:50: `follow_patroni.rest_url` must be Patroni's REST API as \"http://HOST:PORT\", found \"https://h:1\"",
            ],
        ),
        (
            "needs_etcd",
            "[instances.pg]\ninterface = \"eth0\"\nvirtual_ips = [\"192.0.2.60/24\"]\nfollow_patroni = { leader_key = \"/service/pg/leader\", member = \"a\" }\n".into(),
            &["4:18: instance pg: `follow_patroni` needs an [etcd] section with the cluster's `endpoints`"],
        ),
    ]);
}

/// A file with thousands of errors (a generator gone wrong): the first
/// `MAX_LOCATED_ERRORS` are located and quoted, the rest only counted.
/// Locating each one used to scan the text before it, so such a file took
/// time quadratic in its size (20,000 broken instances: over a minute).
#[test]
fn thousands_of_errors_are_counted_past_the_located_ones() {
    let text: String = (0..2000)
        .map(|i| {
            format!("[instances.i{i}]\ninterface = \"eth0\"\nvrid = 0\nvirtual_ips = [\"192.0.2.{}/24\"]\n", i % 250 + 1)
        })
        .collect();
    let diags = config::parse(&text, "t.toml").expect_err("every vrid is 0");
    assert_eq!(diags.as_slice().len(), config::MAX_LOCATED_ERRORS);
    assert!(diags.len() >= 2000, "{}", diags.len());
    assert_eq!(diags.unshown(), diags.len() - config::MAX_LOCATED_ERRORS);
    // The located ones keep their exact places.
    let first = &diags.as_slice()[0];
    assert_eq!(
        (first.line, first.column, first.source_line.as_str()),
        (3, 8, "vrid = 0")
    );
    let last_line = format!(
        "t.toml: error: {} more error(s) not shown (only the first {} are)",
        diags.unshown(),
        config::MAX_LOCATED_ERRORS
    );
    assert!(diags.render().ends_with(&format!("{last_line}\n")));
    assert!(diags.to_string().ends_with(&format!("{last_line}\n")));
}

/// A file that is not UTF-8 is one error at its first bad byte, not the
/// standard library's "stream did not contain valid UTF-8".
#[test]
fn a_file_that_is_not_utf8_is_located_at_its_first_bad_byte() {
    let bytes = b"[instances.db]\ninterface = \"eth\xff0\"\nvrid = 51\n";
    let diags = config::parse_bytes(bytes, "t.toml").expect_err("not UTF-8");
    assert_eq!(
        diags.to_string(),
        "t.toml:2:17: error: not UTF-8 text: byte 0xff cannot be read as a character here; \
         vipd reads configuration files as UTF-8\n"
    );
    // Valid UTF-8 goes on to the parser.
    let text =
        "[instances.db]\ninterface = \"eth0\"\nvrid = 51\nvirtual_ips = [\"192.0.2.50/24\"]\n";
    assert_eq!(
        config::parse_bytes(text.as_bytes(), "t.toml"),
        config::parse(text, "t.toml")
    );
}
