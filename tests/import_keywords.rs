//! `vipd import-keepalived`, keyword by keyword: small keepalived configs
//! and the exact vipd values and warnings they give, through the pure API;
//! then the command line on the fixtures in `tests/fixtures/keepalived/`.

use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use vipd::config::Config;
use vipd::import::{ImportError, Loader, Options, Translation, translate, translate_with};
use vipd::wire::Version;

fn import(conf: &str) -> Translation {
    import_with(conf, &Options::default())
}

fn import_with(conf: &str, options: &Options) -> Translation {
    let loader = |_: &Path| Ok(conf.to_owned());
    translate_with(Path::new("k.conf"), options, &loader)
        .unwrap_or_else(|e| panic!("import failed: {e}\n{conf}"))
}

fn import_err(conf: &str) -> ImportError {
    let loader = |_: &Path| Ok(conf.to_owned());
    translate(Path::new("k.conf"), &loader).expect_err("the import should fail")
}

fn config(t: &Translation) -> Config {
    vipd::config::parse(&t.toml, "out.toml")
        .unwrap_or_else(|d| panic!("invalid output:\n{}\n{}", d.render(), t.toml))
}

fn warnings(t: &Translation) -> Vec<String> {
    t.warnings.iter().map(ToString::to_string).collect()
}

#[track_caller]
fn assert_warned(t: &Translation, line: &str) {
    let got = warnings(t);
    assert!(
        got.iter().any(|w| w == line),
        "missing warning\n  {line}\ngot\n  {}",
        got.join("\n  ")
    );
}

/// An instance on eth0 with vrid 51 and one address; `body` starts on line 6.
fn instance(body: &str) -> String {
    format!(
        "vrrp_instance VI_1 {{\n    interface eth0\n    virtual_router_id 51\n    virtual_ipaddress {{ 192.0.2.50/24 }}\n    # body:\n{body}\n}}\n"
    )
}

// ---------------------------------------------------------------- global_defs

#[test]
fn global_defs() {
    let t = import(&format!(
        "global_defs {{\n  router_id db-a\n  script_user nobody nogroup\n  enable_script_security\n  notification_email {{\n    ops@example.com\n  }}\n  smtp_server 192.0.2.25\n  vrrp_strict\n}}\n{}",
        instance("")
    ));
    let c = config(&t);
    assert_eq!(c.global.node_name.as_deref(), Some("db-a"));
    assert_eq!(c.global.script_user.as_deref(), Some("nobody"));
    assert!(c.global.script_security);
    assert!(t.toml.contains("script_security = true"));
    assert_warned(
        &t,
        "k.conf:3: script_user nobody nogroup: vipd runs checks and hooks with the user's own group; the group is not carried over",
    );
    assert_warned(
        &t,
        "k.conf:5: notification_email: email alerts are not supported; send them from a notify hook",
    );
    assert_warned(
        &t,
        "k.conf:8: smtp_server 192.0.2.25: email alerts are not supported; send them from a notify hook",
    );
    assert_warned(
        &t,
        "k.conf:9: vrrp_strict: vipd has no strict mode; it follows RFC 9568 and accepts traffic to the addresses",
    );
}

#[test]
fn without_enable_script_security_the_output_says_vipd_checks_anyway() {
    let t = import(&instance("    notify_master /usr/lib/vipd/up.sh"));
    assert!(!t.toml.contains("\nscript_security ="));
    assert!(t.toml.contains("vipd always does (script_security = true)"));
}

#[test]
fn global_version_and_garp_defaults_apply_to_every_instance() {
    let t = import(&format!(
        "global_defs {{\n  vrrp_version 3\n  vrrp_garp_master_delay 2\n  vrrp_garp_master_repeat 3\n  vrrp_garp_master_refresh 60\n}}\n{}",
        instance("    garp_master_repeat 4")
    ));
    let i = &config(&t).instances["VI_1"];
    assert_eq!(i.version, Version::V3);
    assert!(
        t.toml
            .contains("version = 3  # from global_defs vrrp_version")
    );
    assert_eq!(i.garp_delay, Duration::from_secs(2));
    assert_eq!(i.garp_repeat, 4);
    assert_eq!(i.garp_refresh, Some(Duration::from_secs(60)));
}

#[test]
fn vrrp_min_garp_means_one_announcement_and_no_second_burst() {
    let t = import(&format!(
        "global_defs {{\n  vrrp_min_garp\n}}\n{}",
        instance("")
    ));
    let i = &config(&t).instances["VI_1"];
    assert_eq!((i.garp_repeat, i.garp_delay), (1, Duration::ZERO));
}

// ---------------------------------------------------------------- vrrp_script

#[test]
fn vrrp_script_becomes_a_check() {
    let t = import(&format!(
        "vrrp_script pg {{\n  script \"/usr/lib/vipd/check-pg.sh --port 5432 'two words'\"\n  interval 2\n  timeout 1\n  rise 2\n  fall 3\n  weight -60\n}}\n{}",
        instance("    track_script {\n        pg\n    }")
    ));
    let c = config(&t);
    let pg = &c.checks["pg"];
    assert_eq!(
        pg.command.as_slice(),
        ["/usr/lib/vipd/check-pg.sh", "--port", "5432", "two words"]
    );
    assert_eq!(pg.interval, Duration::from_secs(2));
    assert_eq!(pg.timeout, Duration::from_secs(1));
    assert_eq!((pg.rise, pg.fall, pg.weight), (2, 3, -60));
    assert_eq!(c.instances["VI_1"].track_checks[0].weight, -60);
    assert!(t.warnings.is_empty(), "{:?}", warnings(&t));
}

#[test]
fn vrrp_script_values_keepalived_corrects() {
    let t = import(&format!(
        "vrrp_script chk {{\n  script /bin/true\n  interval 0\n  rise 0\n  weight 300\n  user nobody\n  init_fail\n}}\n{}",
        instance("    track_script {\n        chk\n    }")
    ));
    let chk = &config(&t).checks["chk"];
    assert_eq!(chk.interval, Duration::from_secs(1));
    assert_eq!((chk.rise, chk.weight), (1, 0));
    assert_warned(
        &t,
        "k.conf:3: interval 0: keepalived runs the script every 1s instead, and so will vipd",
    );
    assert_warned(
        &t,
        "k.conf:4: rise 0: must be at least 1; keepalived uses 1 instead, and so will vipd",
    );
    assert_warned(
        &t,
        "k.conf:5: weight 300: the weight must be between -253 and 253; keepalived ignores it, so does this import",
    );
    assert_warned(
        &t,
        "k.conf:6: user nobody: vipd runs every check and hook as [global] script_user; there is no per-check user",
    );
    assert_warned(
        &t,
        "k.conf:7: init_fail: vipd has no init_fail setting: as in keepalived without it, a check starts with no result: its first success makes it healthy, its first failure makes it failing, and its weight counts only from then on (a weight-0 check holds the instance in FAULT until it reports)",
    );
}

#[test]
fn script_commands_become_argv_without_shell_or_path_search() {
    let t = import(&format!(
        "vrrp_script a {{\n  script \"killall -0 haproxy\"\n}}\nvrrp_script b {{\n  script \"</dev/tcp/127.0.0.1/80\"\n}}\nvrrp_script c {{\n  script /usr/bin/pgrep haproxy\n}}\n{}",
        instance("    track_script {\n        a\n        b\n        c\n    }")
    ));
    let c = config(&t);
    assert_eq!(
        c.checks["a"].command.as_slice(),
        ["/usr/bin/env", "killall", "-0", "haproxy"]
    );
    assert_eq!(
        c.checks["b"].command.as_slice(),
        ["/bin/sh", "-c", "</dev/tcp/127.0.0.1/80"]
    );
    // keepalived runs only the first word of an unquoted script line.
    assert_eq!(c.checks["c"].command.as_slice(), ["/usr/bin/pgrep"]);
    assert_warned(
        &t,
        "k.conf:2: script killall -0 haproxy: `killall` is not an absolute path and vipd does not search PATH: it runs through /usr/bin/env, which does; better write the full path",
    );
    assert_warned(
        &t,
        "k.conf:8: script /usr/bin/pgrep haproxy: keepalived runs only the first (quoted) word of `script`; the words after it are not carried over either",
    );
}

#[test]
fn script_reverse_weight_is_reported() {
    let t = import(&format!(
        "vrrp_script chk {{\n  script /bin/true\n  weight 10 reverse\n}}\n{}",
        instance("    track_script {\n        chk\n    }")
    ));
    assert_warned(
        &t,
        "k.conf:3: weight 10 reverse: vipd cannot reverse a weight; `reverse` is dropped, which inverts this weight's effect: review it",
    );
}

#[test]
fn a_script_without_script_is_dropped_with_its_tracking() {
    let t = import(&format!(
        "vrrp_script chk {{\n  interval 2\n}}\n{}",
        instance("    track_script {\n        chk\n    }")
    ));
    let c = config(&t);
    assert!(c.checks.is_empty());
    assert!(c.instances["VI_1"].track_checks.is_empty());
    assert_warned(
        &t,
        "k.conf:1: vrrp_script chk: has no usable `script`; not carried over, and instances tracking it will not",
    );
    assert_warned(
        &t,
        "k.conf:10: chk: vrrp_script chk is not carried over, so neither is tracking it",
    );
}

// ---------------------------------------------------------------- vrrp_instance

#[test]
fn instance_basics_and_state() {
    let t = import(
        "vrrp_instance VI_1 {\n  state MASTER\n  interface eth1\n  virtual_router_id 42\n  priority 150\n  advert_int 3\n  virtual_ipaddress {\n    198.51.100.7\n  }\n}\n",
    );
    let i = &config(&t).instances["VI_1"];
    assert_eq!(i.interface, "eth1");
    assert_eq!((i.vrid, i.priority), (42, 150));
    assert_eq!(i.version, Version::V2);
    assert_eq!(Duration::from(i.advert_interval), Duration::from_secs(3));
    assert_eq!(i.virtual_ips[0].to_string(), "198.51.100.7/32");
    assert!(i.preempt);
    assert_eq!(
        warnings(&t),
        ["k.conf:2: state MASTER: vipd elects by priority; the start state is ignored"]
    );
    assert!(
        t.toml
            .contains("version = 2  # keepalived's default; vipd's default is 3")
    );
}

#[test]
fn state_backup_is_reported_too() {
    let t = import(&instance("    state BACKUP"));
    assert_eq!(
        warnings(&t),
        ["k.conf:6: state BACKUP: vipd elects by priority; the start state is ignored"]
    );
}

#[test]
fn exact_output_for_a_small_instance() {
    let t = import(&instance("    priority 120\n    nopreempt"));
    let expected = "\
# Generated by `vipd import-keepalived` from k.conf.
# Each table names the keepalived block it came from; settings that could
# not be carried over were listed on stderr. Validate with `vipd check`.

# k.conf:1: vrrp_instance VI_1
[instances.VI_1]
interface = \"eth0\"
vrid = 51
priority = 120
version = 2  # keepalived's default; vipd's default is 3
advert_interval = \"1s\"
preempt = false  # keepalived: nopreempt
virtual_ips = [\"192.0.2.50/24\"]
";
    assert_eq!(t.toml, expected);
}

#[test]
fn invalid_priority_becomes_keepalived_default() {
    let t = import(&instance("    priority 0"));
    assert_eq!(config(&t).instances["VI_1"].priority, 100);
    assert_warned(
        &t,
        "k.conf:6: priority 0: must be between 1 and 255; keepalived uses 100 instead, and so will vipd",
    );
}

#[test]
fn nopreempt_and_preempt_delay() {
    let t = import(&instance(
        "    state MASTER\n    nopreempt\n    preempt_delay 2.5",
    ));
    let i = &config(&t).instances["VI_1"];
    assert!(!i.preempt);
    assert_eq!(i.preempt_delay, Duration::from_millis(2500));
    assert_warned(
        &t,
        "k.conf:7: nopreempt: keepalived ignores nopreempt at start-up with `state MASTER`; vipd never preempts with preempt = false",
    );

    let t = import(&instance("    preempt_delay 5000"));
    assert_eq!(config(&t).instances["VI_1"].preempt_delay, Duration::ZERO);
    assert_warned(
        &t,
        "k.conf:6: preempt_delay 5000: must be 0 to 1000 seconds; keepalived uses 0 instead, and so will vipd",
    );
}

#[test]
fn advert_int_fits_the_version() {
    // VRRPv2 carries whole seconds.
    let t = import(&instance("    advert_int 0.4"));
    let i = &config(&t).instances["VI_1"];
    assert_eq!(Duration::from(i.advert_interval), Duration::from_secs(1));
    assert_warned(
        &t,
        "k.conf:6: advert_int 0.4: VRRPv2 advertises whole seconds from 1 to 255 (keepalived rounds too); using 1s",
    );
    let t = import(&instance("    advert_int 300"));
    assert_eq!(
        Duration::from(config(&t).instances["VI_1"].advert_interval),
        Duration::from_secs(255)
    );
    // VRRPv3: centiseconds, up to 40.95s.
    let t = import(&instance("    version 3\n    advert_int 0.25"));
    let i = &config(&t).instances["VI_1"];
    assert_eq!(i.version, Version::V3);
    assert_eq!(
        Duration::from(i.advert_interval),
        Duration::from_millis(250)
    );
    assert!(t.warnings.is_empty());
    let t = import(&instance("    version 3\n    advert_int 0.005"));
    assert_eq!(
        Duration::from(config(&t).instances["VI_1"].advert_interval),
        Duration::from_millis(10)
    );
    assert_warned(
        &t,
        "k.conf:7: advert_int 0.005: VRRPv3 advertises 10ms steps from 10ms to 40.95s; using 10ms",
    );
}

#[test]
fn ipv6_instances_run_version_3() {
    let t = import(
        "vrrp_instance v6 {\n  interface eth0\n  virtual_router_id 7\n  version 2\n  virtual_ipaddress {\n    2001:db8::7/64\n  }\n}\n",
    );
    let i = &config(&t).instances["v6"];
    assert_eq!(i.version, Version::V3);
    assert_warned(
        &t,
        "k.conf:4: version 2: VRRPv2 is IPv4-only; keepalived runs IPv6 instances with version 3, and so will vipd",
    );
}

#[test]
fn virtual_ipaddress_options_are_reported_and_the_address_kept() {
    let t = import(
        "vrrp_instance VI_1 {\n  interface eth0\n  virtual_router_id 51\n  virtual_ipaddress {\n    192.0.2.1/24 dev eth0\n    192.0.2.2/24 dev eth1\n    192.0.2.3/24 label eth0:3\n    192.0.2.4/24 brd 192.0.2.255 scope link\n    192.0.2.1\n    2001:db8::1\n    bogus\n  }\n  virtual_ipaddress_excluded {\n    192.0.2.99\n  }\n}\n",
    );
    let i = &config(&t).instances["VI_1"];
    let vips: Vec<String> = i.virtual_ips.iter().map(ToString::to_string).collect();
    assert_eq!(
        vips,
        [
            "192.0.2.1/24",
            "192.0.2.2/24",
            "192.0.2.3/24",
            "192.0.2.4/24"
        ]
    );
    assert_eq!(
        warnings(&t),
        [
            "k.conf:6: 192.0.2.2/24 dev eth1: vipd adds every address to the instance's interface, eth0; the address is carried over there",
            "k.conf:7: 192.0.2.3/24 label eth0:3: vipd does not label addresses; the address is carried over without it",
            "k.conf:8: 192.0.2.4/24 brd 192.0.2.255: vipd adds only the address and prefix; this option is not carried over",
            "k.conf:8: 192.0.2.4/24 scope link: vipd adds addresses with the default (global) scope; the address is carried over",
            "k.conf:9: 192.0.2.1: listed twice; carried over once",
            "k.conf:10: 2001:db8::1: its address family differs from the instance's first address; keepalived ignores it, so does this import",
            "k.conf:11: bogus: not an address or ADDRESS/PREFIX; not carried over",
            "k.conf:13: virtual_ipaddress_excluded: vipd announces every address it adds; move these to virtual_ipaddress on all nodes at once, or add them from notify hooks",
        ]
    );
}

#[test]
fn an_instance_without_addresses_is_left_out_and_said_so() {
    let t = import(&format!(
        "{}vrrp_instance empty {{\n  interface eth0\n  virtual_router_id 52\n}}\n",
        instance("")
    ));
    let c = config(&t);
    assert_eq!(c.instances.len(), 1);
    assert_warned(
        &t,
        "k.conf:8: vrrp_instance empty: not carried over: no usable virtual_ipaddress; vipd needs at least one address per instance",
    );
    assert!(
        t.toml
            .contains("# Not carried over:\n# k.conf:8: vrrp_instance empty:")
    );
}

#[test]
fn unicast_peers_and_source() {
    let t = import(&instance(
        "    mcast_src_ip 192.0.2.10\n    unicast_peer {\n        192.0.2.11\n        192.0.2.12 min_ttl 250\n        192.0.2.10\n        2001:db8::1\n    }",
    ));
    let i = &config(&t).instances["VI_1"];
    assert_eq!(i.unicast_src_ip, Some("192.0.2.10".parse().unwrap()));
    assert_eq!(
        i.unicast_peers,
        [
            "192.0.2.11".parse::<std::net::IpAddr>().unwrap(),
            "192.0.2.12".parse().unwrap()
        ]
    );
    assert_eq!(
        warnings(&t),
        [
            "k.conf:9: 192.0.2.12 min_ttl 250: vipd has no per-peer TTL range: it requires TTL 255 on multicast adverts only and does not check the TTL of unicast ones; the peer is carried over without the range",
            "k.conf:10: 192.0.2.10: this node's own unicast_src_ip; not carried over",
            "k.conf:11: 2001:db8::1: not a unicast address of the virtual addresses' family; keepalived ignores it, so does this import",
        ]
    );
}

#[test]
fn authentication() {
    let pass = |body: &str| import(&instance(&format!("    authentication {{\n{body}\n    }}")));
    let t = pass("        auth_type PASS\n        auth_pass s3cret");
    assert_eq!(
        config(&t).instances["VI_1"].auth_pass.as_deref(),
        Some("s3cret")
    );
    assert!(t.warnings.is_empty());

    let t = pass("        auth_type PASS\n        auth_pass 123456789");
    assert_eq!(
        config(&t).instances["VI_1"].auth_pass.as_deref(),
        Some("12345678")
    );
    assert_warned(
        &t,
        "k.conf:8: auth_pass: longer than 8 bytes; keepalived uses only the first 8, and so will vipd",
    );

    let t = pass("        auth_type AH\n        auth_pass 1111");
    assert_eq!(config(&t).instances["VI_1"].auth_pass, None);
    assert_warned(
        &t,
        "k.conf:7: auth_type AH: IPsec AH authentication is not supported; the instance runs without authentication",
    );

    let t = pass("        auth_pass 1111");
    assert_eq!(config(&t).instances["VI_1"].auth_pass, None);
    assert_warned(
        &t,
        "k.conf:7: auth_pass: without `auth_type PASS` keepalived sends no password; not carried over",
    );

    let t = import(&instance(
        "    version 3\n    authentication {\n        auth_type PASS\n        auth_pass 1111\n    }",
    ));
    assert_eq!(config(&t).instances["VI_1"].auth_pass, None);
    assert_warned(
        &t,
        "k.conf:9: auth_pass: VRRPv3 has no authentication; keepalived ignores it, and so does this import",
    );
}

#[test]
fn track_script_weights_and_references() {
    let t = import(
        "vrrp_script a {\n  script /bin/true\n  weight -10\n}\nvrrp_instance VI_1 {\n  interface eth0\n  virtual_router_id 51\n  virtual_ipaddress { 192.0.2.50 }\n  track_script {\n    a\n    a weight 5\n    nosuch\n    later weight -3 reverse\n  }\n}\nvrrp_script later {\n  script /bin/true\n}\n",
    );
    let c = config(&t);
    let tracked: Vec<(&str, i16)> = c.instances["VI_1"]
        .track_checks
        .iter()
        .map(|t| (t.name.as_str(), t.weight))
        .collect();
    assert_eq!(tracked, [("a", -10)]);
    assert_warned(
        &t,
        "k.conf:12: nosuch: no vrrp_script named nosuch; keepalived ignores it, so does this import",
    );
    assert_warned(
        &t,
        "k.conf:13: later weight -3 reverse: vrrp_script later is defined only later (k.conf:16); keepalived ignores this reference, so does this import (move the vrrp_script up if you meant it)",
    );
    // The check is still defined, just not tracked.
    assert!(c.checks.contains_key("later"));
}

#[test]
fn track_script_weight_override() {
    let t = import(&format!(
        "vrrp_script a {{\n  script /bin/true\n  weight -10\n}}\n{}",
        instance("    track_script {\n        a weight 20\n    }")
    ));
    let c = config(&t);
    assert_eq!(c.instances["VI_1"].track_checks[0].weight, 20);
    assert!(
        t.toml
            .contains("track_checks = [{ name = \"a\", weight = 20 }]")
    );
}

#[test]
fn track_interface() {
    let t = import(&instance(
        "    track_interface {\n        eth1\n        eth2 weight -20\n        eth0\n        eth3 weight 500\n        bad:name\n    }",
    ));
    let c = config(&t);
    let tracked: Vec<(&str, i16)> = c.instances["VI_1"]
        .track_interfaces
        .iter()
        .map(|t| (t.name.as_str(), t.weight))
        .collect();
    assert_eq!(tracked, [("eth1", 0), ("eth2", -20), ("eth3", 0)]);
    assert_eq!(
        warnings(&t),
        [
            "k.conf:9: eth0: the instance's own interface: keepalived ignores it here, and vipd always faults an instance whose interface goes down",
            "k.conf:10: eth3 weight 500: the weight must be between -253 and 253; keepalived ignores it, so does this import",
            "k.conf:11: bad:name: not a valid interface name; not carried over",
        ]
    );
}

#[test]
fn track_file_becomes_a_tracked_file() {
    let t = import(
        "track_file maint {\n  file /etc/keepalived/maint\n  weight -2 reverse\n  init_file 0 overwrite\n}\nvrrp_track_file rel {\n  file maint.txt\n}\ntrack_file big {\n  file \"/run/big\"\n  weight 1000\n}\nvrrp_instance VI_1 {\n  interface eth0\n  virtual_router_id 51\n  virtual_ipaddress { 192.0.2.50 }\n  track_file {\n    maint\n    big weight 254\n    rel\n    later\n    nosuch\n  }\n}\ntrack_file later {\n  file /run/later\n}\n",
    );
    let c = config(&t);
    let maint = &c.track_files["maint"];
    assert_eq!(maint.path, Path::new("/etc/keepalived/maint"));
    assert_eq!(maint.weight, -2);
    assert_eq!(c.track_files["big"].weight, 253);
    assert!(
        c.track_files.contains_key("later"),
        "defined, just not tracked"
    );
    assert!(!c.track_files.contains_key("rel"));
    let tracked: Vec<(&str, i16)> = c.instances["VI_1"]
        .track_files
        .iter()
        .map(|t| (t.name.as_str(), t.weight))
        .collect();
    assert_eq!(tracked, [("maint", -2), ("big", 253)]);
    assert!(t.toml.contains(
        "[track_files.maint]\npath = \"/etc/keepalived/maint\"  # keepalived: file\nweight = -2\n"
    ));
    assert!(
        t.toml
            .contains("track_files = [\"maint\", { name = \"big\", weight = 253 }]")
    );
    let notes: Vec<String> = warnings(&t)
        .into_iter()
        .filter(|w| !w.contains("version") && !w.contains("state"))
        .collect();
    assert_eq!(
        notes,
        [
            "k.conf:3: weight -2 reverse: vipd cannot reverse a weight; `reverse` is dropped, which inverts this weight's effect: review it",
            "k.conf:4: init_file 0 overwrite: vipd never creates or writes the file; create it before vipd starts (a missing file counts as 0)",
            "k.conf:6: vrrp_track_file rel: not carried over, and instances tracking it will not",
            "k.conf:7: file maint.txt: vipd needs an absolute path (keepalived resolves a relative one against its working directory)",
            "k.conf:11: weight 1000: vipd's weights go from -253 to 253; using 253",
            "k.conf:19: big weight 254: vipd's weights go from -253 to 253; using 253",
            "k.conf:20: rel: track_file rel is not carried over, so neither is tracking it",
            "k.conf:21: later: track_file later is defined only later (k.conf:25); keepalived ignores this reference, so does this import (move the track_file up if you meant it)",
            "k.conf:22: nosuch: no track_file named nosuch; keepalived ignores it, so does this import",
        ]
    );
}

#[test]
fn track_process_becomes_a_tracked_process() {
    let t = import(
        "vrrp_track_process pg {\n  process postgres\n  weight -50\n  quorum 2\n  quorum_max 4\n  delay 1.5\n}\nvrrp_track_process haproxy {\n  process /usr/sbin/haproxy -f /etc/haproxy/haproxy.cfg\n  fork_delay 1\n  terminate_delay 3\n}\nvrrp_track_process partial {\n  process \"python3\" /opt/app.py\n  param_match partial\n}\nvrrp_track_process bare {\n  process nginx\n  param_match\n  full_command\n}\nvrrp_track_process rogue {\n  process rogue\n  quorum_max 0\n  weight 0\n}\nvrrp_track_process long {\n  process postgres-replica-7\n}\nvrrp_track_process noproc {\n  weight 3\n}\nvrrp_instance VI_1 {\n  interface eth0\n  virtual_router_id 51\n  virtual_ipaddress { 192.0.2.50 }\n  track_process {\n    pg weight -60\n    haproxy\n    partial\n    bare\n    rogue\n    long\n    noproc\n  }\n}\n",
    );
    let c = config(&t);
    let p = &c.track_processes;
    let pg = &p["pg"];
    assert_eq!(
        (pg.process.as_str(), pg.full_command, &pg.args),
        ("postgres", false, &None)
    );
    assert_eq!((pg.weight, pg.quorum, pg.quorum_max), (-50, 2, Some(4)));
    assert_eq!(pg.delay, Duration::from_millis(1500));
    let h = &p["haproxy"];
    assert!(
        h.full_command,
        "parameters mean the command line is matched"
    );
    assert_eq!(h.process, "/usr/sbin/haproxy");
    assert_eq!(
        h.args.as_deref(),
        Some(&["-f".to_owned(), "/etc/haproxy/haproxy.cfg".to_owned()][..])
    );
    assert_eq!(h.delay, Duration::from_secs(3), "the longer delay");
    assert_eq!(h.weight, 1, "keepalived's default weight");
    assert_eq!(
        (p["partial"].args.as_deref(), p["partial"].full_command),
        (None, true)
    );
    assert_eq!(
        p["bare"].args.as_deref(),
        Some(&[][..]),
        "no parameters allowed"
    );
    assert!(p["bare"].full_command);
    let rogue = &p["rogue"];
    assert_eq!(
        (rogue.quorum, rogue.quorum_max, rogue.weight),
        (0, Some(0), 0)
    );
    assert!(p["long"].full_command);
    assert!(!p.contains_key("noproc"));
    let tracked: Vec<(&str, i16)> = c.instances["VI_1"]
        .track_processes
        .iter()
        .map(|t| (t.name.as_str(), t.weight))
        .collect();
    assert_eq!(
        tracked,
        [
            ("pg", -60),
            ("haproxy", 1),
            ("partial", 1),
            ("bare", 1),
            ("rogue", 0),
            ("long", 1)
        ]
    );
    let notes: Vec<String> = warnings(&t)
        .into_iter()
        .filter(|w| !w.contains("version"))
        .collect();
    assert_eq!(
        notes,
        [
            "k.conf:8: vrrp_track_process haproxy: vipd has one `delay` for both directions; using the longer, 3s",
            "k.conf:15: param_match partial: vipd matches the arguments exactly or not at all; the arguments are not carried over, so any arguments match: review it",
            "k.conf:27: vrrp_track_process long: the kernel keeps only 15 bytes of a process name; matched against the command line instead (full_command = true)",
            "k.conf:30: vrrp_track_process noproc: has no `process`; not carried over, and instances tracking it will not",
            "k.conf:44: noproc: vrrp_track_process noproc is not carried over, so neither is tracking it",
        ]
    );
}

#[test]
fn tracked_files_and_processes_in_sync_groups() {
    let t = import(
        "track_file maint {\n  file /run/maint\n  weight 0\n}\nvrrp_track_process pg {\n  process postgres\n  weight -50\n}\nvrrp_sync_group G {\n  group {\n    A\n    B\n  }\n  track_file {\n    maint\n  }\n}\nvrrp_instance A {\n  interface eth0\n  virtual_router_id 51\n  virtual_ipaddress { 192.0.2.50 }\n  track_process {\n    pg\n    pg weight 0\n  }\n}\nvrrp_instance B {\n  interface eth0\n  virtual_router_id 52\n  virtual_ipaddress { 192.0.2.51 }\n}\n",
    );
    let c = config(&t);
    for name in ["A", "B"] {
        let files: Vec<(&str, i16)> = c.instances[name]
            .track_files
            .iter()
            .map(|t| (t.name.as_str(), t.weight))
            .collect();
        assert_eq!(files, [("maint", 0)], "instance {name}");
    }
    let a: Vec<(&str, i16)> = c.instances["A"]
        .track_processes
        .iter()
        .map(|t| (t.name.as_str(), t.weight))
        .collect();
    assert_eq!(
        a,
        [("pg", 0)],
        "only the weight-0 entry counts in a sync group"
    );
    assert_warned(
        &t,
        "k.conf:15: maint: vipd has no group-level tracking; carried over onto each member (A, B)",
    );
    assert_warned(
        &t,
        "k.conf:23: pg: keepalived ignores a tracked process with a weight in a sync group member (this instance is in `G`, without sync_group_tracking_weight); not carried over",
    );
}

#[test]
fn notify_hooks() {
    let t = import(&instance(
        "    notify_master \"/usr/lib/vipd/up.sh master 'with space'\"\n    notify_backup /usr/lib/vipd/down.sh\n    notify_fault /usr/lib/vipd/down.sh root\n    notify_stop /usr/lib/vipd/stop.sh\n    notify /usr/lib/vipd/notify.sh\n    notify /usr/lib/vipd/other.sh",
    ));
    let hooks = &config(&t).instances["VI_1"].hooks;
    let argv = |h: &Option<vipd::config::Argv>| h.as_ref().unwrap().as_slice().to_vec();
    assert_eq!(
        argv(&hooks.master),
        ["/usr/lib/vipd/up.sh", "master", "with space"]
    );
    assert_eq!(argv(&hooks.backup), ["/usr/lib/vipd/down.sh"]);
    assert_eq!(argv(&hooks.fault), ["/usr/lib/vipd/down.sh"]);
    assert_eq!(argv(&hooks.stop), ["/usr/lib/vipd/stop.sh"]);
    assert_eq!(argv(&hooks.notify), ["/usr/lib/vipd/notify.sh"]);
    assert_eq!(
        warnings(&t),
        [
            "k.conf:8: notify_fault /usr/lib/vipd/down.sh root: vipd runs every hook as [global] script_user; the user and group given here are not carried over",
            "k.conf:11: notify /usr/lib/vipd/other.sh: given twice; keepalived uses the first, so does this import",
        ]
    );
}

#[test]
fn garp_settings() {
    let t = import(&instance(
        "    garp_master_delay 10\n    garp_master_repeat 0\n    garp_master_refresh 30\n    garp_lower_prio_repeat 2",
    ));
    let i = &config(&t).instances["VI_1"];
    assert_eq!(i.garp_delay, Duration::from_secs(10));
    assert_eq!(i.garp_repeat, 1);
    assert_eq!(i.garp_refresh, Some(Duration::from_secs(30)));
    assert_eq!(
        warnings(&t),
        [
            "k.conf:7: garp_master_repeat 0: keepalived sends at least 1, and so will vipd",
            "k.conf:9: garp_lower_prio_repeat 2: vipd has no equivalent gratuitous ARP setting; it uses garp_repeat, garp_delay and garp_refresh",
        ]
    );
}

#[test]
fn unsupported_instance_keywords_are_reported_with_the_reason() {
    let t = import(&instance(
        "    use_vmac\n    smtp_alert\n    dont_track_primary\n    virtual_routes {\n        0.0.0.0/0 via 192.0.2.1\n    }\n    track_bfd {\n        b\n    }\n    no_accept\n    frobnicate 3",
    ));
    config(&t);
    assert_eq!(
        warnings(&t),
        [
            "k.conf:6: use_vmac: vipd does not create a VRRP MAC interface; the addresses go on the instance's interface",
            "k.conf:7: smtp_alert: email alerts are not supported; send them from a notify hook",
            "k.conf:8: dont_track_primary: vipd always puts an instance in Fault when its own interface goes down",
            "k.conf:9: virtual_routes: vipd moves addresses only, not routes or rules; add them from notify_master and remove them from notify_backup, or with the system's network configuration",
            "k.conf:12: track_bfd: BFD is not supported",
            "k.conf:15: no_accept: vipd installs no firewall rules, so the addresses always accept traffic",
            "k.conf:16: frobnicate 3: no vipd equivalent (or not a keepalived keyword)",
        ]
    );
}

#[test]
fn lvs_and_static_sections_are_out_of_scope() {
    let t = import(&format!(
        "{}virtual_server 192.0.2.80 80 {{\n  real_server 10.0.0.1 80 {{\n    weight 1\n  }}\n}}\nvirtual_server_group web {{\n  192.0.2.80 80\n}}\nstatic_routes {{\n  10.0.0.0/8 via 192.0.2.1\n}}\n",
        instance("")
    ));
    assert_eq!(
        warnings(&t),
        [
            "k.conf:8: virtual_server 192.0.2.80 80: LVS load balancing is out of scope for vipd",
            "k.conf:13: virtual_server_group web: LVS load balancing is out of scope for vipd",
            "k.conf:16: static_routes: vipd manages only the virtual addresses; configure static addresses, routes and rules with the system's network configuration",
        ]
    );
}

#[test]
fn names_vipd_cannot_use_are_cleaned_up() {
    let t = import(
        "vrrp_instance \"web vip\" {\n  interface eth0\n  virtual_router_id 1\n  virtual_ipaddress { 192.0.2.1 }\n}\nvrrp_instance \"web.vip\" {\n  interface eth0\n  virtual_router_id 2\n  virtual_ipaddress { 192.0.2.2 }\n}\n",
    );
    let c = config(&t);
    assert!(c.instances.contains_key("web_vip"));
    assert!(c.instances.contains_key("web.vip"));
    assert!(t.toml.contains("[instances.\"web.vip\"]"));
    assert_warned(
        &t,
        "k.conf:1: vrrp_instance web vip: renamed to `web_vip`: vipd names use only ASCII letters, digits, '_', '-' and '.', and are unique",
    );
}

#[test]
fn clashes_between_instances_keep_the_first() {
    let t = import(
        "vrrp_instance a {\n  interface eth0\n  virtual_router_id 1\n  virtual_ipaddress {\n    192.0.2.1\n    192.0.2.2\n  }\n}\nvrrp_instance b {\n  interface eth0\n  virtual_router_id 2\n  virtual_ipaddress {\n    192.0.2.2\n    192.0.2.3\n  }\n}\nvrrp_instance c {\n  interface eth0\n  virtual_router_id 1\n  virtual_ipaddress { 192.0.2.9 }\n}\nvrrp_instance a {\n  interface eth0\n  virtual_router_id 5\n  virtual_ipaddress { 192.0.2.5 }\n}\n",
    );
    let c = config(&t);
    let names: Vec<&str> = c.instances.keys().map(String::as_str).collect();
    assert_eq!(names, ["a", "b"]);
    assert_eq!(c.instances["b"].virtual_ips.len(), 1);
    assert_eq!(
        warnings(&t),
        [
            "k.conf:9: virtual_ipaddress 192.0.2.2/32: already a virtual address of `a`; vipd lets only one instance carry an address, so it stays there",
            "k.conf:17: vrrp_instance c: not carried over: virtual_router_id 1 is already used by `a` on eth0; vipd needs one vrid per virtual router on a link",
            "k.conf:22: vrrp_instance a: defined twice; keepalived uses the first definition, so does this import",
        ]
    );
}

// ---------------------------------------------------------------- sync groups

#[test]
fn sync_group_with_hooks() {
    let t = import(&format!(
        "vrrp_sync_group pg {{\n  group {{\n    VI_1\n    VI_2\n    ghost\n  }}\n  notify_master \"/usr/lib/vipd/group-up.sh pg\"\n  notify /usr/lib/vipd/notify.sh\n  smtp_alert\n}}\n{}vrrp_instance VI_2 {{\n  interface eth0\n  virtual_router_id 52\n  virtual_ipaddress {{ 192.0.2.51 }}\n}}\n",
        instance("")
    ));
    let c = config(&t);
    let pg = &c.sync_groups["pg"];
    assert_eq!(pg.instances, ["VI_1", "VI_2"]);
    assert_eq!(
        pg.hooks.master.as_ref().unwrap().as_slice(),
        ["/usr/lib/vipd/group-up.sh", "pg"]
    );
    assert_eq!(c.instances["VI_1"].sync_group.as_deref(), Some("pg"));
    assert_eq!(
        warnings(&t),
        [
            "k.conf:5: ghost: no vrrp_instance has this name; keepalived ignores it too",
            "k.conf:9: smtp_alert: email alerts are not supported; send them from a notify hook",
        ]
    );
}

#[test]
fn sync_group_members_lose_tracking_weights_as_in_keepalived() {
    let conf = |extra: &str| {
        format!(
            "vrrp_script chk {{\n  script /bin/true\n  weight -30\n}}\nvrrp_sync_group g {{\n  group {{\n    VI_1\n  }}\n{extra}}}\n{}",
            instance(
                "    track_script {\n        chk\n    }\n    track_interface {\n        eth1 weight -20\n    }"
            )
        )
    };
    let t = import(&conf(""));
    let i = &config(&t).instances["VI_1"];
    assert!(i.track_checks.is_empty());
    assert_eq!(i.track_interfaces[0].weight, 0);
    assert_warned(
        &t,
        "k.conf:16: chk: keepalived ignores a tracked script with a weight in a sync group member (this instance is in `g`, without sync_group_tracking_weight); not carried over",
    );
    assert_warned(
        &t,
        "k.conf:19: eth1 weight -20: keepalived sets tracked interface weights of sync group members to 0 (this instance is in `g`, without sync_group_tracking_weight); carried over as weight 0",
    );

    let t = import(&conf("  sync_group_tracking_weight\n"));
    let i = &config(&t).instances["VI_1"];
    assert_eq!(i.track_checks[0].weight, -30);
    assert_eq!(i.track_interfaces[0].weight, -20);
    assert!(t.warnings.is_empty(), "{:?}", warnings(&t));
}

#[test]
fn sync_group_tracking_moves_onto_the_members() {
    let t = import(&format!(
        "vrrp_script chk {{\n  script /bin/true\n}}\nvrrp_sync_group g {{\n  group {{\n    VI_1\n  }}\n  track_script {{\n    chk\n  }}\n  track_interface {{\n    eth9\n  }}\n}}\n{}",
        instance("")
    ));
    let i = &config(&t).instances["VI_1"];
    assert_eq!(i.track_checks[0].name, "chk");
    assert_eq!(i.track_interfaces[0].name, "eth9");
    assert_warned(
        &t,
        "k.conf:9: chk: vipd has no group-level tracking; carried over onto each member (VI_1)",
    );
}

#[test]
fn old_style_sync_group_members_are_not_members() {
    let t = import(&format!(
        "vrrp_sync_group g {{\n  VI_1\n}}\n{}",
        instance("")
    ));
    assert!(config(&t).sync_groups.is_empty());
    assert_eq!(
        warnings(&t),
        [
            "k.conf:1: vrrp_sync_group g: has no members that are carried over; keepalived removes such a group too",
            "k.conf:2: VI_1: not a sync group keyword (member instances go inside `group { }`); keepalived ignores it too",
        ]
    );
}

// ---------------------------------------------------------------- syntax

#[test]
fn comments_quotes_and_braces() {
    let t = import(
        "! comment\nvrrp_instance VI_1{   # brace glued to the name\n  interface eth0 ! trailing\n  virtual_router_id 51\n  notify_master \"/usr/lib/vipd/up.sh #1\"\n  virtual_ipaddress {192.0.2.50/24}\n}\n",
    );
    let i = &config(&t).instances["VI_1"];
    assert_eq!(
        i.hooks.master.as_ref().unwrap().as_slice(),
        ["/usr/lib/vipd/up.sh", "#1"]
    );
    assert!(t.warnings.is_empty(), "{:?}", warnings(&t));

    // The block may open on the next line.
    let t = import(
        "vrrp_instance VI_1\n{\n  interface eth0\n  virtual_router_id 51\n  virtual_ipaddress\n  {\n    192.0.2.50\n  }\n}\n",
    );
    assert_eq!(config(&t).instances.len(), 1);
}

#[test]
fn conditionals_follow_the_config_id() {
    let conf = "@main $PRIO=200\n@^main $PRIO=100\nvrrp_instance VI_1 {\n  interface eth0\n  virtual_router_id 51\n  priority $PRIO\n  @backup unicast_src_ip 192.0.2.2\n  virtual_ipaddress { 192.0.2.50 }\n}\n";
    let main = Options {
        config_id: Some("main".to_owned()),
    };
    let t = import_with(conf, &main);
    assert_eq!(config(&t).instances["VI_1"].priority, 200);
    assert_warned(
        &t,
        "k.conf:7: @backup: line skipped: it applies only when the config id is `backup`, and this import uses config id `main`",
    );
    let backup = Options {
        config_id: Some("backup".to_owned()),
    };
    let i = config(&import_with(conf, &backup)).instances["VI_1"].clone();
    assert_eq!(i.priority, 100);
    assert_eq!(i.unicast_src_ip, Some("192.0.2.2".parse().unwrap()));
    let t = import(conf);
    assert_eq!(config(&t).instances["VI_1"].priority, 100);
    assert_warned(
        &t,
        "k.conf:1: @main: line skipped: it applies only when the config id is `main`, and this import uses no config id",
    );
}

#[test]
fn parameters_single_and_multi_line() {
    let conf = "$IF=eth0\n$VIP=192.0.2\n$INST= \\\nvrrp_instance VI_${N} { \\\n  interface $IF \\\n  virtual_router_id 1${N} \\\n  virtual_ipaddress { ${VIP}.${N} } \\\n}\n$N=1\n$INST\n$N=2\n$INST\nvrrp_instance hash {\n  interface eth1\n  virtual_router_id 9\n  virtual_ipaddress { 192.0.2.9 }\n  notify_master \"/usr/lib/vipd/x.sh ${_HASH}\"\n}\n~SEQ(X, 1, 3) vrrp_instance s$X {}\n";
    let t = import(conf);
    let c = config(&t);
    let names: Vec<&str> = c.instances.keys().map(String::as_str).collect();
    assert_eq!(names, ["VI_1", "VI_2", "hash"]);
    assert_eq!(c.instances["VI_2"].vrid, 12);
    assert_eq!(
        c.instances["VI_2"].virtual_ips[0].to_string(),
        "192.0.2.2/32"
    );
    assert_eq!(
        c.instances["hash"]
            .hooks
            .master
            .as_ref()
            .unwrap()
            .as_slice(),
        ["/usr/lib/vipd/x.sh", "#"]
    );
    assert_warned(
        &t,
        "k.conf:19: ~SEQ(X,: sequence and list blocks are not supported by the importer; line skipped (expand it by hand)",
    );
}

#[test]
fn a_parameter_that_refers_to_itself_is_an_error_not_a_hang() {
    let err = import_err("$A=$A $A\n$A\n");
    assert_eq!(err.exit_code(), 2);
    assert!(err.to_string().starts_with("k.conf:2: parameter expansion"));
}

#[test]
fn syntax_errors_name_the_line() {
    let err = import_err("vrrp_instance VI_1 {\n  interface eth0\n");
    assert_eq!(err.to_string(), "k.conf:1: this `{` is never closed");
    assert_eq!(err.exit_code(), 2);
    let err = import_err("vrrp_instance VI_1 {\n}\n}\n");
    assert_eq!(err.to_string(), "k.conf:3: `}` without a matching `{`");
    let err = import_err("vrrp_instance VI_1 {\n  notify \"/bin/x\n}\n");
    assert_eq!(err.to_string(), "k.conf:2: unterminated \" quote");
}

#[test]
fn no_instance_is_exit_status_1_with_the_warnings() {
    let err = import_err("virtual_server 192.0.2.80 80 {\n  lb_algo rr\n}\n");
    assert_eq!(err.exit_code(), 1);
    assert_eq!(err.to_string(), "no vrrp_instance found: nothing to import");
    assert_eq!(
        err.warnings()[0].to_string(),
        "k.conf:1: virtual_server 192.0.2.80 80: LVS load balancing is out of scope for vipd"
    );
    let err = import_err("vrrp_instance x {\n  interface eth0\n}\n");
    assert_eq!(err.exit_code(), 1);
    assert_eq!(
        err.to_string(),
        "the only vrrp_instance cannot be carried over (see the warnings)"
    );
}

// ---------------------------------------------------------------- include

/// An in-memory file system.
struct Files(HashMap<PathBuf, String>);

impl Files {
    fn new(files: &[(&str, &str)]) -> Files {
        Files(
            files
                .iter()
                .map(|(p, t)| (PathBuf::from(p), (*t).to_owned()))
                .collect(),
        )
    }
}

/// `a/../b` to `b`, as the kernel resolves it (there are no symlinks here).
fn normal(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            std::path::Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

impl Loader for Files {
    fn read(&self, path: &Path) -> io::Result<String> {
        self.0
            .get(&normal(path))
            .cloned()
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "No such file or directory"))
    }

    fn list(&self, dir: &Path) -> io::Result<Vec<String>> {
        let names: Vec<String> = self
            .0
            .keys()
            .filter(|p| p.parent() == Some(dir))
            .filter_map(|p| p.file_name()?.to_str().map(str::to_owned))
            .collect();
        if names.is_empty() {
            return Err(io::Error::new(io::ErrorKind::NotFound, "no such directory"));
        }
        Ok(names)
    }
}

#[test]
fn include_follows_relative_paths_and_wildcards() {
    let files = Files::new(&[
        (
            "/etc/keepalived/keepalived.conf",
            "global_defs {\n  router_id a\n}\ninclude scripts.conf\ninclude conf.d/*.conf\ninclude \"/etc/keepalived/none/*.conf\"\n",
        ),
        (
            "/etc/keepalived/scripts.conf",
            "vrrp_script chk {\n  script /bin/true\n}\n",
        ),
        (
            "/etc/keepalived/conf.d/b.conf",
            "vrrp_instance B {\n  interface eth0\n  virtual_router_id 2\n  virtual_ipaddress { 192.0.2.2 }\n  state MASTER\n}\n",
        ),
        (
            "/etc/keepalived/conf.d/a.conf",
            "vrrp_instance A {\n  interface eth0\n  virtual_router_id 1\n  virtual_ipaddress { 192.0.2.1 }\n  track_script {\n    chk\n  }\n  include ../more.conf\n}\n",
        ),
        ("/etc/keepalived/conf.d/a.conf.bak", "garbage {"),
        ("/etc/keepalived/more.conf", "priority 42\n"),
    ]);
    let t = translate(Path::new("/etc/keepalived/keepalived.conf"), &files).unwrap();
    let c = config(&t);
    let names: Vec<&str> = c.instances.keys().map(String::as_str).collect();
    assert_eq!(names, ["A", "B"]);
    assert_eq!(c.instances["A"].priority, 42);
    assert_eq!(c.instances["A"].track_checks[0].name, "chk");
    // Sorted as glob(3) sorts: a.conf before b.conf.
    assert!(t.toml.find("[instances.A]") < t.toml.find("[instances.B]"));
    assert!(
        t.toml
            .contains("# /etc/keepalived/conf.d/b.conf:1: vrrp_instance B")
    );
    assert_eq!(
        warnings(&t),
        [
            "/etc/keepalived/keepalived.conf:6: include /etc/keepalived/none/*.conf: matches no file; nothing included",
            "/etc/keepalived/conf.d/b.conf:5: state MASTER: vipd elects by priority; the start state is ignored",
        ]
    );
}

#[test]
fn include_errors() {
    let files = Files::new(&[(
        "k.conf",
        "include missing.conf\nvrrp_instance A {\n  interface eth0\n}\n",
    )]);
    let err = translate(Path::new("k.conf"), &files).unwrap_err();
    assert_eq!(err.exit_code(), 2);
    assert_eq!(
        err.to_string(),
        "k.conf:1: cannot read missing.conf: No such file or directory"
    );

    let files = Files::new(&[
        ("/k/a.conf", "include b.conf\n"),
        ("/k/b.conf", "include a.conf\n"),
    ]);
    let err = translate(Path::new("/k/a.conf"), &files).unwrap_err();
    assert_eq!(err.exit_code(), 1);
    assert_eq!(
        err.warnings()[0].to_string(),
        "/k/b.conf:1: include /k/a.conf: the file includes itself (directly or through other files); skipped"
    );

    let err = translate(Path::new("absent.conf"), &files).unwrap_err();
    assert_eq!(
        err.to_string(),
        "cannot read absent.conf: No such file or directory"
    );

    // A plain closure reads files but cannot expand wildcards.
    let loader = |_: &Path| Ok("include conf.d/*.conf\n".to_owned());
    let err = translate(Path::new("/k/k.conf"), &loader).unwrap_err();
    assert_eq!(err.exit_code(), 2);
    assert!(
        err.to_string()
            .starts_with("/k/k.conf:1: cannot read /k/conf.d/*.conf: cannot list /k/conf.d"),
        "{err}"
    );
}

// ---------------------------------------------------------------- command line

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/keepalived")
        .join(name)
}

fn vipd(args: &[&std::ffi::OsStr]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_vipd"))
        .args(args)
        .output()
        .expect("run vipd")
}

#[test]
fn cli_imports_a_pair_config_that_vipd_check_accepts() {
    let conf = fixture("pair-a.conf");
    let out = vipd(&["import-keepalived".as_ref(), conf.as_os_str()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "stderr:\n{stderr}");
    let shown = conf.display().to_string();
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(
        lines,
        [
            format!(
                "{shown}:9: smtp_server 192.0.2.25: email alerts are not supported; send them from a notify hook"
            ),
            format!(
                "{shown}:21: state MASTER: vipd elects by priority; the start state is ignored"
            ),
            format!(
                "{shown}:35: 192.0.2.50/24 label eth0:vip: vipd does not label addresses; the address is carried over without it"
            ),
            format!(
                "vipd: imported 2 instance(s), 1 check(s) and 0 sync group(s) from {shown}; 3 note(s) above"
            ),
        ]
    );

    let toml = fixture_out("pair-a.toml", &out.stdout);
    // The imported hooks live on the operator's machine, not this one.
    let check = vipd(&[
        "check".as_ref(),
        "--file-only".as_ref(),
        "--config".as_ref(),
        toml.as_os_str(),
    ]);
    assert_eq!(
        check.status.code(),
        Some(0),
        "vipd check:\n{}{}",
        String::from_utf8_lossy(&check.stdout),
        String::from_utf8_lossy(&check.stderr)
    );
    let c = vipd::config::parse(&String::from_utf8_lossy(&out.stdout), "pair-a.toml").unwrap();
    let db = &c.instances["db"];
    assert_eq!((db.vrid, db.priority, db.version), (51, 150, Version::V2));
    assert_eq!(db.auth_pass.as_deref(), Some("s3cret"));
    assert_eq!(
        db.unicast_peers,
        ["192.0.2.11".parse::<std::net::IpAddr>().unwrap()]
    );
    let app = &c.instances["app"];
    assert_eq!(app.version, Version::V3);
    assert_eq!(
        Duration::from(app.advert_interval),
        Duration::from_millis(500)
    );
    assert_eq!(
        app.hooks.master.as_ref().unwrap().as_slice(),
        ["/usr/lib/vipd/app-up.sh", "web tier"]
    );
    let _ = std::fs::remove_file(toml);
}

/// Writes `bytes` to a file of this test run and returns its path.
fn fixture_out(name: &str, bytes: &[u8]) -> PathBuf {
    let path = std::env::temp_dir().join(format!("vipd-import-{}-{name}", std::process::id()));
    std::fs::write(&path, bytes).expect("write the imported configuration");
    path
}

#[test]
fn cli_exit_statuses() {
    let lvs = fixture("lvs-only.conf");
    let out = vipd(&["import-keepalived".as_ref(), lvs.as_os_str()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(
            ":2: virtual_server 198.51.100.80 80: LVS load balancing is out of scope for vipd"
        ),
        "{stderr}"
    );
    assert!(
        stderr.ends_with("vipd: no vrrp_instance found: nothing to import\n"),
        "{stderr}"
    );

    let broken = fixture("unbalanced.conf");
    let out = vipd(&["import-keepalived".as_ref(), broken.as_os_str()]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        format!("vipd: {}:2: this `{{` is never closed\n", broken.display())
    );

    let missing = fixture("does-not-exist.conf");
    let out = vipd(&["import-keepalived".as_ref(), missing.as_os_str()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .starts_with(&format!("vipd: cannot read {}:", missing.display()))
    );
}
