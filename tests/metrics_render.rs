//! The Prometheus text rendered from a status snapshot.

use std::collections::BTreeMap;

use vipd::daemon::control::{
    CheckStatus, Counters, EtcdStatus, InstanceStatus, LeadershipStatus, MasterStatus,
    PriorityStatus, Status, TrackedFileStatus, TrackedProcessStatus,
};
use vipd::daemon::metrics::render;

fn status() -> Status {
    let counters = Counters {
        adverts_sent: 42,
        adverts_received: 7,
        adverts_dropped: BTreeMap::from([
            ("address_mismatch".to_owned(), 3),
            ("auth_mismatch".to_owned(), 1),
        ]),
        transitions: 2,
        transitions_to: BTreeMap::from([("BACKUP".to_owned(), 1), ("MASTER".to_owned(), 1)]),
        split_brain_events: 4,
        announcements: 10,
        hook_runs: 5,
        hook_failures: 1,
        hook_timeouts: 2,
        ..Counters::default()
    };
    Status {
        node: "db-a".into(),
        version: "0.1.0".into(),
        pid: 1,
        uptime_seconds: 10.0,
        instances: vec![InstanceStatus {
            name: "db".into(),
            interface: "eth0".into(),
            vrid: 51,
            version: 3,
            state: "MASTER".into(),
            priority: PriorityStatus {
                configured: 150,
                effective: 120,
                adjustments: vec!["check pg -30".into()],
            },
            fault: None,
            master: Some(MasterStatus {
                address: "192.0.2.12".into(),
                priority: 100,
                interval_ms: 1000,
                seconds_since_heard: 0.5,
            }),
            vips: vec!["192.0.2.50/24".into()],
            holds_vips: true,
            last_transition: None,
            counters,
            last_hook_failure: None,
            leadership: Some(LeadershipStatus {
                key: "/vipd/pair/db".into(),
                ttl_seconds: 5,
                on_etcd_loss: "step_down".into(),
                standing: "held".into(),
                holder: None,
                seconds_left: Some(2.5),
            }),
            follow_patroni: None,
        }],
        sync_groups: vec![],
        checks: vec![CheckStatus {
            name: "pg".into(),
            healthy: false,
            runs: 10,
            failures: 4,
            timeouts: 1,
            last_failure: None,
        }],
        invalid_packets: BTreeMap::from([("bad_checksum".to_owned(), 6)]),
        tracked_files: vec![TrackedFileStatus {
            name: "maintenance".into(),
            path: "/etc/vipd/maintenance".into(),
            value: -3,
            problem: None,
        }],
        tracked_processes: vec![TrackedProcessStatus {
            name: "postgres".into(),
            up: true,
            running: 4,
        }],
        etcd: Some(EtcdStatus {
            endpoints: vec!["http://192.0.2.11:2379".into()],
            connected: true,
            leader_known: true,
            seconds_since_success: Some(0.2),
            requests: 12,
            failures: 2,
        }),
    }
}

/// Asserts that each line of `lines` is a whole line of `text`.
fn has_lines(text: &str, lines: &str) {
    for line in lines.lines().filter(|l| !l.is_empty()) {
        assert!(
            text.lines().any(|l| l == line),
            "missing line {line:?} in:\n{text}"
        );
    }
}

#[test]
fn instance_state_priority_and_counters() {
    has_lines(
        &render(&status()),
        r#"
vipd_instance_state{vrrp_instance="db",state="MASTER"} 1
vipd_instance_state{vrrp_instance="db",state="BACKUP"} 0
vipd_instance_priority{vrrp_instance="db",kind="effective"} 120
vipd_instance_holds_vips{vrrp_instance="db"} 1
vipd_master_last_heard_seconds{vrrp_instance="db"} 0.5
vipd_transitions_total{vrrp_instance="db",to="MASTER"} 1
vipd_transitions_total{vrrp_instance="db",to="FAULT"} 0
vipd_adverts_sent_total{vrrp_instance="db"} 42
vipd_adverts_dropped_total{vrrp_instance="db",reason="auth_mismatch"} 1
vipd_hook_runs_total{vrrp_instance="db",outcome="ok"} 2
vipd_hook_runs_total{vrrp_instance="db",outcome="timeout"} 2
vipd_invalid_packets_total{reason="bad_checksum"} 6
vipd_foreign_adverts_total{vrrp_instance="db"} 3
vipd_split_brain_events_total{vrrp_instance="db"} 4
"#,
    );
}

#[test]
fn check_health_and_results() {
    has_lines(
        &render(&status()),
        r#"
vipd_check_healthy{check="pg"} 0
vipd_check_runs_total{check="pg",result="ok"} 6
vipd_check_runs_total{check="pg",result="failed"} 3
vipd_check_runs_total{check="pg",result="timeout"} 1
"#,
    );
}

#[test]
fn tracked_files_and_processes() {
    has_lines(
        &render(&status()),
        r#"
vipd_tracked_file_value{file="maintenance"} -3
vipd_tracked_process_up{process="postgres"} 1
vipd_tracked_process_running{process="postgres"} 4
"#,
    );
}

#[test]
fn every_metric_has_help_and_type() {
    let text = render(&status());
    let families: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .collect();
    assert!(families.len() >= 15, "{families:?}");
    for family in families {
        let name = family.split_whitespace().next().unwrap();
        assert!(
            text.contains(&format!("# HELP {name} ")),
            "no HELP for {name}"
        );
    }
}

/// The fixture plus a second instance in BACKUP that hears no master.
fn two_instances() -> Status {
    let mut status = status();
    let mut web = status.instances[0].clone();
    web.name = "web".into();
    web.state = "BACKUP".into();
    web.master = None;
    web.holds_vips = false;
    web.counters = Counters::default();
    status.instances.push(web);
    status
}

/// The text with each family's samples sorted: prometheus-client keeps a
/// family's samples in a hash map, so their order changes from one process
/// to the next; everything else (families, their order, HELP and TYPE lines,
/// every sample) is fixed.
fn samples_sorted(text: &str) -> String {
    let mut out = Vec::new();
    let mut samples = Vec::new();
    for line in text.lines() {
        if line.starts_with('#') {
            samples.sort_unstable();
            out.append(&mut samples);
            out.push(line);
        } else {
            samples.push(line);
        }
    }
    samples.sort_unstable();
    out.append(&mut samples);
    out.iter().map(|l| format!("{l}\n")).collect()
}

#[test]
fn whole_text_matches_the_golden_file() {
    let text = samples_sorted(&render(&two_instances()));
    let golden = include_str!("fixtures/metrics_render.prom");
    assert_eq!(text, golden, "rendered:\n{text}");
}
