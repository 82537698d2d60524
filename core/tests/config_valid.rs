//! Valid configurations: the shipped examples, defaults, and the accepted
//! spellings of each key.

use std::net::IpAddr;
use std::path::Path;
use std::time::Duration;

use proptest::prelude::*;
use vipd_core::config::{self, Config, Family, TrackProcess};
use vipd_core::wire::{Centis, Version};

fn parse(text: &str) -> Config {
    match config::parse(text, "test.toml") {
        Ok(config) => config,
        Err(diags) => panic!("expected a valid config, got:\n{}", diags.render()),
    }
}

/// An instance's `track_*` list as (name, weight) pairs: all a use holds.
macro_rules! uses {
    ($list:expr) => {
        $list
            .iter()
            .map(|u| (u.name.as_str(), u.weight))
            .collect::<Vec<_>>()
    };
}

/// Asserts that `has` finds each of `expected` in the `vipd check` listing.
fn assert_listed(listing: &str, has: impl Fn(&str) -> bool, expected: &[&str]) {
    for e in expected {
        assert!(has(e), "{e:?} not in:\n{listing}");
    }
}

/// `[instances.NAME]` with only its required keys.
fn instance(name: &str, interface: &str, vrid: u8, vip: &str) -> String {
    format!(
        "[instances.{name}]\ninterface = \"{interface}\"\nvrid = {vrid}\nvirtual_ips = [\"{vip}\"]\n"
    )
}

const MINIMAL: &str = r#"
[instances.web]
interface = "eth0"
vrid = 51
virtual_ips = ["192.0.2.50/24"]
"#;

#[test]
fn every_example_in_config_dir_parses() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../config");
    let mut seen = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("toml") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let origin = path.display().to_string();
        let config = config::parse(&text, &origin)
            .unwrap_or_else(|d| panic!("{origin} does not validate:\n{}", d.render()));
        let any = !config.instances.is_empty() || !config.followers.is_empty();
        assert!(any, "{origin} has no instance");
        seen.push(path.file_name().unwrap().to_string_lossy().into_owned());
    }
    seen.sort();
    let required = [
        "etcd-gate-a.toml",
        "etcd-gate-b.toml",
        "patroni-follow.toml",
        "full.toml",
        "ipv6.toml",
        "minimal.toml",
        "postgres-pair-a.toml",
        "postgres-pair-b.toml",
        "unicast.toml",
        "v2-auth.toml",
    ];
    let missing: Vec<&str> = required
        .into_iter()
        .filter(|r| !seen.iter().any(|s| s == r))
        .collect();
    assert!(missing.is_empty(), "missing in config/: {missing:?}");
}

#[test]
fn defaults_are_applied() {
    let config = parse(MINIMAL);
    let g = &config.global;
    assert_eq!(g.node_name, None);
    assert_eq!(g.control_socket, Path::new("/run/vipd/vipd.sock"));
    assert_eq!(g.metrics_listen, None);
    assert_eq!(g.script_user, None);
    assert!(g.script_security);
    assert_eq!(g.hook_timeout, Duration::from_secs(60));

    let web = &config.instances["web"];
    assert_eq!(web.name, "web");
    assert_eq!(web.interface, "eth0");
    assert_eq!(web.vrid, 51);
    assert_eq!(web.priority, 100);
    assert_eq!(web.version, Version::V3);
    assert_eq!(web.advert_interval, Centis(100));
    assert!(web.preempt);
    assert_eq!(web.preempt_delay, Duration::ZERO);
    assert_eq!(web.family, Family::Ipv4);
    assert_eq!(web.virtual_ips, ["192.0.2.50/24".parse().unwrap()]);
    assert_eq!(web.unicast_src_ip, None);
    assert!(web.unicast_peers.is_empty());
    assert!(!web.is_unicast());
    assert_eq!(
        web.destinations(),
        ["224.0.0.18".parse::<IpAddr>().unwrap()]
    );
    assert_eq!(web.auth_pass, None);
    assert!(web.track_checks.is_empty());
    assert!(web.track_interfaces.is_empty());
    assert!(web.track_files.is_empty());
    assert!(web.track_processes.is_empty());
    assert_eq!(web.garp_repeat, 5);
    assert_eq!(web.garp_delay, Duration::from_secs(5));
    assert_eq!(web.garp_refresh, None);
    assert!(web.hooks.is_empty());
    assert_eq!(web.hook_timeout, Duration::from_secs(60));
    assert_eq!(web.sync_group, None);
    assert!(!web.is_address_owner());
    assert!(config.checks.is_empty());
    assert!(config.sync_groups.is_empty());
    assert!(config.track_files.is_empty());
    assert!(config.track_processes.is_empty());
}

#[test]
fn check_defaults_and_timeout_follows_interval() {
    let config = parse(
        r#"
[checks.a]
command = ["/bin/true"]
[checks.b]
command = ["/usr/bin/test", "-e", "/run/ok"]
interval = "3s"
[instances.web]
interface = "eth0"
vrid = 1
virtual_ips = ["192.0.2.1"]
"#,
    );
    let a = &config.checks["a"];
    assert_eq!(a.command.program(), "/bin/true");
    assert!(a.command.args().is_empty());
    assert_eq!(a.interval, Duration::from_secs(1));
    assert_eq!(a.timeout, Duration::from_secs(1));
    assert_eq!((a.rise, a.fall, a.weight), (1, 1, 0));
    let b = &config.checks["b"];
    assert_eq!(b.command.args(), ["-e", "/run/ok"]);
    assert_eq!(b.timeout, Duration::from_secs(3));
}

#[test]
fn track_checks_accepts_names_and_tables() {
    let config = parse(
        r#"
[checks.pg_alive]
command = ["/usr/lib/vipd/check-postgres.sh"]
weight = -30
[checks.app_http]
command = ["/usr/lib/vipd/check-app.sh"]
weight = -20
[checks.disk]
command = ["/usr/lib/vipd/check-disk.sh"]

[instances.db]
interface = "eth0"
vrid = 51
virtual_ips = ["192.0.2.50/24"]
track_checks = ["pg_alive", { name = "app_http", weight = -50 }, { name = "disk" }]
track_interfaces = ["eth1", { name = "eth2", weight = -20 }]
"#,
    );
    let db = &config.instances["db"];
    assert_eq!(
        uses!(db.track_checks),
        [
            ("pg_alive", -30), // the check's own weight
            ("app_http", -50), // overridden
            ("disk", 0),       // table without weight: the check's
        ]
    );
    assert_eq!(uses!(db.track_interfaces), [("eth1", 0), ("eth2", -20)]);
}

#[test]
fn track_files_and_processes_with_defaults_and_overrides() {
    let config = parse(
        r#"
[track_files.maintenance]
path = "/etc/vipd/maintenance-weight"
[track_files.load]
path = "/run/vipd/load"
weight = -2

[track_processes.postgres]
process = "postgres"
weight = -50
quorum = 1
delay = "0s"
[track_processes.workers]
process = "/usr/sbin/pg_worker"
full_command = true
args = ["--pool", "a b"]
quorum = 2
quorum_max = 4
delay = "1.5s"
[track_processes.not_twice]
process = "rogue"
quorum = 0
quorum_max = 0
weight = 0

[instances.db]
interface = "eth0"
vrid = 51
virtual_ips = ["192.0.2.50/24"]
track_files = ["maintenance", { name = "load", weight = 3 }, { name = "load2" }]
track_processes = [{ name = "postgres", weight = -60 }, "workers", { name = "not_twice" }]

[track_files.load2]
path = "/run/vipd/load2"
weight = 0
"#,
    );
    let m = &config.track_files["maintenance"];
    assert_eq!(m.path, Path::new("/etc/vipd/maintenance-weight"));
    assert_eq!(m.weight, 1, "a file's weight defaults to 1");
    assert_eq!(config.track_files["load"].weight, -2);

    let pg = &config.track_processes["postgres"];
    assert_eq!(
        *pg,
        TrackProcess {
            name: "postgres".into(),
            process: "postgres".into(),
            args: None,
            full_command: false,
            weight: -50,
            quorum: 1,
            quorum_max: None,
            delay: Duration::ZERO,
        }
    );
    let w = &config.track_processes["workers"];
    assert!(w.full_command);
    assert_eq!(
        w.args.as_deref(),
        Some(&["--pool".to_owned(), "a b".to_owned()][..])
    );
    assert_eq!((w.quorum, w.quorum_max), (2, Some(4)));
    assert_eq!(w.delay, Duration::from_millis(1500));
    assert_eq!(w.weight, 1, "a process's weight defaults to 1");
    assert!(!w.quorum_met(1) && w.quorum_met(2) && w.quorum_met(4) && !w.quorum_met(5));
    let n = &config.track_processes["not_twice"];
    assert!(n.quorum_met(0) && !n.quorum_met(1));

    let db = &config.instances["db"];
    assert_eq!(
        uses!(db.track_files),
        [("maintenance", 1), ("load", 3), ("load2", 0)]
    );
    assert_eq!(
        uses!(db.track_processes),
        [("postgres", -60), ("workers", 1), ("not_twice", 0)]
    );

    let listing = config.to_string();
    let has_line = |expected: &str| listing.lines().any(|l| l == expected);
    assert_listed(
        &listing,
        has_line,
        &[
            "track_file maintenance",
            "  path             /etc/vipd/maintenance-weight",
            "  weight           1 (priority change: value x 1)",
            "track_process workers",
            "  process          \"/usr/sbin/pg_worker\" (argv[0])",
            "  args             [\"--pool\", \"a b\"] (exactly)",
            "  up when          2 to 4 running",
            "  delay            1s 500ms",
            "track_process postgres",
            "  process          \"postgres\" (/proc/PID/comm)",
            "  up when          at least 1 running",
            "  track_files      maintenance x1, load x3, load2 fault unless 0",
            "  track_processes  postgres -60, workers +1, not_twice fault",
        ],
    );
}

#[test]
fn addresses_without_prefix_are_host_routes() {
    let v4 = parse(MINIMAL.replace("192.0.2.50/24", "192.0.2.50").as_str());
    assert_eq!(v4.instances["web"].virtual_ips[0].prefix_len(), 32);

    let v6 = parse(
        r#"
[instances.web6]
interface = "eth0"
vrid = 61
virtual_ips = ["2001:db8::50", "2001:db8::51/64"]
unicast_peers = ["2001:db8::2"]
"#,
    );
    let web6 = &v6.instances["web6"];
    assert_eq!(web6.family, Family::Ipv6);
    assert_eq!(web6.virtual_ips[0].prefix_len(), 128);
    assert_eq!(web6.virtual_ips[1].prefix_len(), 64);
    assert_eq!(
        web6.destinations(),
        ["2001:db8::2".parse::<IpAddr>().unwrap()]
    );
}

#[test]
fn durations_accept_strings_and_seconds() {
    let config = parse(
        r#"
[global]
hook_timeout = 90
[instances.web]
interface = "eth0"
vrid = 51
advert_interval = 0.25
preempt_delay = "1m 30s"
garp_delay = 0
garp_refresh = "10s"
virtual_ips = ["192.0.2.50"]
"#,
    );
    let web = &config.instances["web"];
    assert_eq!(web.advert_interval, Centis(25));
    assert_eq!(web.preempt_delay, Duration::from_secs(90));
    assert_eq!(web.garp_delay, Duration::ZERO);
    assert_eq!(web.garp_refresh, Some(Duration::from_secs(10)));
    // An instance without its own hook_timeout inherits the global one.
    assert_eq!(web.hook_timeout, Duration::from_secs(90));
}

#[test]
fn v2_interval_is_kept_in_centiseconds() {
    let config = parse(
        r#"
[instances.legacy]
interface = "eth0"
vrid = 81
version = 2
advert_interval = "3s"
auth_pass = "12345678"
virtual_ips = ["192.0.2.80/24"]
"#,
    );
    let legacy = &config.instances["legacy"];
    assert_eq!(legacy.version, Version::V2);
    assert_eq!(legacy.advert_interval, Centis(300));
    assert_eq!(legacy.advert_interval.whole_secs(), Some(3));
    assert_eq!(legacy.auth_pass.as_deref(), Some("12345678"));
}

#[test]
fn v3_interval_limits_are_inclusive() {
    for (text, centis) in [("10ms", 1), ("40950ms", 4095), ("40.95s", 4095)] {
        let config = parse(&MINIMAL.replace(
            "vrid = 51",
            &format!("vrid = 51\nadvert_interval = \"{text}\""),
        ));
        assert_eq!(config.instances["web"].advert_interval, Centis(centis));
    }
}

#[test]
fn sync_groups_link_back_to_instances() {
    let config = parse(&format!(
        "\n{}{}{}{}",
        instance("db", "eth0", 51, "192.0.2.50/24"),
        instance("app", "eth0", 52, "192.0.2.51/24"),
        instance("other", "eth1", 51, "198.51.100.1/24"),
        r#"[sync_groups.pg]
instances = ["db", "app"]
notify_master = ["/usr/lib/vipd/group-master.sh", "pg"]
"#
    ));
    let pg = &config.sync_groups["pg"];
    assert_eq!(pg.instances, ["db", "app"]);
    assert_eq!(
        pg.hooks.master.as_ref().unwrap().as_slice(),
        ["/usr/lib/vipd/group-master.sh", "pg"]
    );
    assert_eq!(config.instances["db"].sync_group.as_deref(), Some("pg"));
    assert_eq!(config.instances["app"].sync_group.as_deref(), Some("pg"));
    // Same vrid on another interface is a different virtual router.
    assert_eq!(config.instances["other"].sync_group, None);
}

#[test]
fn same_vrid_in_both_families_is_allowed() {
    parse(&format!(
        "\n{}{}",
        instance("v4", "eth0", 51, "192.0.2.50/24"),
        instance("v6", "eth0", 51, "2001:db8::50/64")
    ));
}

#[test]
fn empty_hook_array_means_no_hook() {
    let config = parse(&MINIMAL.replace(
        "vrid = 51",
        "vrid = 51\nnotify_master = []\nnotify = [\"/usr/lib/vipd/notify.sh\"]",
    ));
    let hooks = &config.instances["web"].hooks;
    assert_eq!(hooks.master, None);
    assert_eq!(
        hooks.notify.as_ref().unwrap().program(),
        "/usr/lib/vipd/notify.sh"
    );
}

#[test]
fn listing_shows_effective_values() {
    let listing = parse(MINIMAL).to_string();
    let has = |expected: &str| listing.contains(expected);
    assert_listed(
        &listing,
        has,
        &[
            "instance web: vrid 51 on eth0, VRRPv3 IPv4",
            "priority         100",
            "advert_interval  1.00s",
            "advertise to     multicast 224.0.0.18",
            "garp             5 at once, 5 more after 5s",
        ],
    );
}

proptest! {
    #[test]
    fn vrid_and_priority_accepted_exactly_in_range(vrid in -5i64..300, priority in -5i64..300) {
        let text = format!(
            "[instances.web]\ninterface = \"eth0\"\nvrid = {vrid}\npriority = {priority}\nvirtual_ips = [\"192.0.2.1\"]\n"
        );
        let result = config::parse(&text, "p.toml");
        let ok = (1..=255).contains(&vrid) && (1..=255).contains(&priority);
        prop_assert_eq!(result.is_ok(), ok);
        if let Ok(config) = result {
            prop_assert_eq!(i64::from(config.instances["web"].vrid), vrid);
            prop_assert_eq!(i64::from(config.instances["web"].priority), priority);
        }
    }

    #[test]
    fn v3_interval_accepted_exactly_when_whole_centiseconds(ms in 0u64..42_000) {
        let text = format!(
            "[instances.web]\ninterface = \"eth0\"\nvrid = 1\nadvert_interval = \"{ms}ms\"\nvirtual_ips = [\"192.0.2.1\"]\n"
        );
        let result = config::parse(&text, "p.toml");
        prop_assert_eq!(result.is_ok(), ms % 10 == 0 && (10..=40_950).contains(&ms));
    }

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,200}") {
        let _ = config::parse(&text, "p.toml");
    }
}

#[test]
fn fast_takeover_is_opt_in_and_listed() {
    let base = instance("db", "eth0", 51, "192.0.2.50/24");
    assert!(!parse(&base).instances["db"].fast_takeover);
    let config = parse(&format!("{base}fast_takeover = true\n"));
    assert!(config.instances["db"].fast_takeover);
    let listing = config.instances["db"].to_string();
    assert!(listing.contains("fast takeover"), "{listing}");
}

#[test]
fn leadership_and_etcd_defaults() {
    let config = parse(&format!(
        "[etcd]\nendpoints = [\"http://192.0.2.11:2379\", \"https://192.0.2.12:2379\"]\n{}leadership = {{ key = \"/vipd/web\" }}\n",
        instance("web", "eth0", 51, "192.0.2.50/24")
    ));
    let etcd = config.etcd.expect("[etcd]");
    assert_eq!(etcd.endpoints.len(), 2);
    assert_eq!(etcd.dial_timeout, Duration::from_secs(1));
    assert_eq!(etcd.request_timeout, Duration::from_secs(1));
    assert_eq!(etcd.credentials, None);
    let lock = config.instances["web"]
        .leadership
        .clone()
        .expect("leadership");
    assert_eq!(lock.key, "/vipd/web");
    assert_eq!(lock.ttl, Duration::from_secs(5));
    assert_eq!(lock.on_etcd_loss, config::OnEtcdLoss::StepDown);
}

#[test]
fn follow_patroni_instances_take_no_vrrp_keys() {
    let config = parse(
        "[etcd]\nendpoints = [\"http://192.0.2.11:2379\"]\n\
         [instances.pg]\ninterface = \"eth0\"\nvirtual_ips = [\"192.0.2.60/24\"]\n\
         follow_patroni = { leader_key = \"/service/pg/leader\", member = \"pg-a\", rest_url = \"http://192.0.2.11:8008/\" }\n",
    );
    assert!(config.instances.is_empty());
    let pg = &config.followers["pg"];
    assert_eq!(pg.leader_key, "/service/pg/leader");
    assert_eq!(pg.member, "pg-a");
    let rest = pg.rest_url.as_ref().expect("rest_url");
    assert_eq!(rest.authority, "192.0.2.11:8008");
    assert_eq!(rest.url, "http://192.0.2.11:8008");
    assert_eq!(
        config.all_vips(),
        vec!["192.0.2.60".parse::<IpAddr>().unwrap()]
    );
}
