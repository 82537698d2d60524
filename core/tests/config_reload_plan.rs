//! The reload plan: what a new configuration changes, instance by instance.

use std::collections::BTreeSet;

use vipd_core::config::reload::{Aspect, InstanceChange, plan};
use vipd_core::config::{self, Config};

const BASE: &str = r#"
[checks.pg]
command = ["/usr/lib/vipd/check-postgres.sh"]
weight = -30

[instances.db]
interface = "eth0"
vrid = 51
priority = 150
advert_interval = "1s"
virtual_ips = ["192.0.2.50/24"]
track_checks = ["pg"]
notify_master = ["/usr/lib/vipd/activate-primary.sh"]

[instances.app]
interface = "eth0"
vrid = 52
virtual_ips = ["192.0.2.60/24"]
"#;

fn parse(text: &str) -> Config {
    config::parse(text, "test.toml").unwrap_or_else(|d| panic!("{d}"))
}

/// BASE with one line replaced.
fn edit(from: &str, to: &str) -> Config {
    assert!(BASE.contains(from), "{from:?} not in BASE");
    parse(&BASE.replacen(from, to, 1))
}

fn change_of<'a>(p: &'a vipd_core::config::reload::Plan, name: &str) -> &'a InstanceChange {
    &p.instances.iter().find(|(n, _)| n == name).unwrap().1
}

fn update(aspects: &[Aspect]) -> InstanceChange {
    InstanceChange::Update(aspects.iter().copied().collect::<BTreeSet<_>>())
}

#[test]
fn the_same_file_changes_nothing() {
    let p = plan(&parse(BASE), &parse(BASE));
    assert!(p.is_noop(), "{p:?}");
    assert_eq!(change_of(&p, "db"), &InstanceChange::Unchanged);
}

#[test]
fn comments_and_order_do_not_matter() {
    let reordered = BASE.replace("[instances.app]", "# moved\n[instances.app]");
    assert!(plan(&parse(BASE), &parse(&reordered)).is_noop());
}

#[test]
fn priority_and_tracking_are_updated_in_place() {
    let p = plan(&parse(BASE), &edit("priority = 150", "priority = 90"));
    assert_eq!(change_of(&p, "db"), &update(&[Aspect::Health]));
    assert_eq!(change_of(&p, "app"), &InstanceChange::Unchanged);
    assert!(!p.is_noop());
}

#[test]
fn interval_and_preemption_are_updated_in_place() {
    let p = plan(
        &parse(BASE),
        &edit(
            "advert_interval = \"1s\"",
            "advert_interval = \"500ms\"\npreempt = false",
        ),
    );
    assert_eq!(change_of(&p, "db"), &update(&[Aspect::Protocol]));
}

#[test]
fn hooks_and_vips_are_updated_in_place() {
    let p = plan(
        &parse(BASE),
        &edit(
            "virtual_ips = [\"192.0.2.50/24\"]",
            "virtual_ips = [\"192.0.2.50/24\", \"192.0.2.51/24\"]\nnotify_backup = [\"/usr/lib/vipd/activate-standby.sh\"]",
        ),
    );
    assert_eq!(
        change_of(&p, "db"),
        &update(&[Aspect::VirtualIps, Aspect::Hooks])
    );
}

#[test]
fn vrid_interface_family_or_version_restart_the_instance() {
    for (from, to, reason) in [
        ("vrid = 51", "vrid = 61", "vrid 51 -> 61"),
        (
            "interface = \"eth0\"\nvrid = 51",
            "interface = \"eth1\"\nvrid = 51",
            "interface eth0 -> eth1",
        ),
        (
            "virtual_ips = [\"192.0.2.50/24\"]",
            "virtual_ips = [\"2001:db8::50/64\"]",
            "address family IPv4 -> IPv6",
        ),
        (
            "advert_interval = \"1s\"",
            "advert_interval = \"1s\"\nversion = 2",
            "VRRP version 3 -> 2",
        ),
        (
            "advert_interval = \"1s\"",
            "advert_interval = \"1s\"\nunicast_peers = [\"192.0.2.12\"]",
            "multicast <-> unicast",
        ),
    ] {
        let p = plan(&parse(BASE), &edit(from, to));
        match change_of(&p, "db") {
            InstanceChange::Restart(r) => assert_eq!(r.reasons, vec![reason.to_owned()], "{to}"),
            other => panic!("{to}: expected a restart, got {other:?}"),
        }
    }
}

#[test]
fn removed_and_added_instances() {
    let without_app = BASE.split("[instances.app]").next().unwrap().to_owned();
    let with_web = format!(
        "{BASE}\n[instances.web]\ninterface = \"eth0\"\nvrid = 53\nvirtual_ips = [\"192.0.2.70/24\"]\n"
    );
    let p = plan(&parse(BASE), &parse(&without_app));
    assert_eq!(change_of(&p, "app"), &InstanceChange::Removed);
    let p = plan(&parse(BASE), &parse(&with_web));
    assert_eq!(change_of(&p, "web"), &InstanceChange::Added);
    assert_eq!(change_of(&p, "db"), &InstanceChange::Unchanged);
}

#[test]
fn a_changed_check_restarts_the_watchers_only() {
    let p = plan(
        &parse(BASE),
        &edit("weight = -30", "weight = -30\ninterval = \"5s\""),
    );
    assert!(p.watchers_changed);
    assert_eq!(change_of(&p, "db"), &InstanceChange::Unchanged);
}

#[test]
fn a_changed_check_weight_reaches_the_instances_tracking_it() {
    // The weight is resolved into each instance's track_checks.
    let p = plan(&parse(BASE), &edit("weight = -30", "weight = -50"));
    assert_eq!(change_of(&p, "db"), &update(&[Aspect::Health]));
}

#[test]
fn global_listeners_need_a_restart() {
    let new = parse(&format!(
        "[global]\nmetrics_listen = \"127.0.0.1:9701\"\n{BASE}"
    ));
    let p = plan(&parse(BASE), &new);
    assert_eq!(p.needs_restart, vec!["metrics_listen".to_owned()]);
}
