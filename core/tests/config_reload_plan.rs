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

#[test]
fn a_redefined_check_restarts_and_retracks_only_its_trackers() {
    let p = plan(
        &parse(BASE),
        &edit("weight = -30", "weight = -30\ninterval = \"5s\""),
    );
    assert_eq!(p.checks_stopped, BTreeSet::from(["pg".to_owned()]));
    assert_eq!(p.checks_started, BTreeSet::from(["pg".to_owned()]));
    assert!(!p.poller_restarts);
    assert_eq!(p.retrack, BTreeSet::from(["db".to_owned()]));
    assert_eq!(p.describe(), ["instance db: tracked definitions updated"]);
}

#[test]
fn a_default_weight_alone_restarts_no_check() {
    // The weight reaches db through its track_checks entry; pg runs as before.
    let p = plan(&parse(BASE), &edit("weight = -30", "weight = -50"));
    assert!(p.checks_stopped.is_empty() && p.checks_started.is_empty());
    assert!(!p.watchers_changed);
    assert_eq!(p.describe(), ["instance db updated (health)"]);
}

#[test]
fn an_untracked_check_never_runs() {
    let p = plan(&parse(BASE), &edit("track_checks = [\"pg\"]\n", ""));
    assert_eq!(p.checks_stopped, BTreeSet::from(["pg".to_owned()]));
    assert!(p.checks_started.is_empty());
}

#[test]
fn a_new_tracked_file_restarts_the_poller() {
    let new = parse(&format!(
        "[track_files.maint]\npath = \"/run/maint\"\n{BASE}"
    ));
    let p = plan(&parse(BASE), &new);
    assert!(p.poller_restarts && p.watchers_changed);
    assert!(p.retrack.is_empty(), "nobody tracks it yet: {p:?}");
}

#[test]
fn refusals_are_worded_for_operators() {
    let new = parse(&format!(
        "[global]\nmetrics_listen = \"127.0.0.1:9701\"\n{BASE}"
    ));
    assert_eq!(
        plan(&parse(BASE), &new).refusals(),
        ["metrics_listen changed: not applied by reload yet; restart vipd for it"]
    );
    assert!(plan(&parse(BASE), &parse(BASE)).refusals().is_empty());
}

#[test]
fn a_multicast_instance_cannot_join_a_unicast_only_socket() {
    let unicast = BASE.replace(
        "virtual_ips = [\"192.0.2.60/24\"]",
        "virtual_ips = [\"192.0.2.60/24\"]\nunicast_peers = [\"192.0.2.12\"]",
    );
    let unicast = unicast.replace(
        "virtual_ips = [\"192.0.2.50/24\"]",
        "virtual_ips = [\"192.0.2.50/24\"]\nunicast_peers = [\"192.0.2.12\"]",
    );
    let multicast_db = unicast.replacen("unicast_peers = [\"192.0.2.12\"]\n", "", 1);
    let p = plan(&parse(&unicast), &parse(&multicast_db));
    assert_eq!(
        p.refusals(),
        [
            "instance db: the VRRP socket on eth0 was opened for unicast only; restart vipd to add a multicast instance there"
        ]
    );
    // On a socket with a multicast instance already, it is fine.
    assert!(
        plan(&parse(BASE), &parse(&multicast_db))
            .refusals()
            .is_empty()
    );
}

#[test]
fn the_description_lists_every_change() {
    let mut text = BASE.replace("vrid = 52", "vrid = 53");
    text.push_str(
        "\n[instances.web]\ninterface = \"eth0\"\nvrid = 60\nvirtual_ips = [\"192.0.2.70/24\"]\n",
    );
    let p = plan(&parse(BASE), &parse(&text));
    assert_eq!(
        p.describe(),
        [
            "instance app restarted (vrid 52 -> 53)",
            "instance web added"
        ]
    );
    assert_eq!(p.starting().collect::<Vec<_>>(), ["app", "web"]);
    assert_eq!(p.resigning().collect::<Vec<_>>(), ["app"]);
    assert!(p.regroups());
    assert_eq!(plan(&parse(BASE), &parse(BASE)).describe(), ["no change"]);
}

#[test]
fn etcd_and_leadership_need_a_restart() {
    let etcd = "[etcd]\nendpoints = [\"http://192.0.2.11:2379\"]\n";
    let locked = |key: &str| {
        parse(&format!(
            "{etcd}{}",
            BASE.replacen(
                "vrid = 51\n",
                &format!("vrid = 51\nleadership = {{ key = \"{key}\" }}\n"),
                1
            )
        ))
    };
    let p = plan(&locked("/vipd/db"), &locked("/vipd/db"));
    assert!(p.is_noop(), "{p:?}");
    let p = plan(&locked("/vipd/db"), &locked("/vipd/other"));
    assert_eq!(p.needs_restart, vec!["instance db: leadership".to_owned()]);
    let p = plan(&parse(BASE), &locked("/vipd/db"));
    assert_eq!(
        p.needs_restart,
        vec!["[etcd]".to_owned(), "instance db: leadership".to_owned()]
    );
}
