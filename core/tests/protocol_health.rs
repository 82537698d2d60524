//! Effective priority with keepalived's semantics for tracked checks and interfaces.

use vipd_core::protocol::{CheckTracker, HealthTracker};

/// The fault reason as operators read it, if any.
fn fault(t: &HealthTracker) -> Option<String> {
    t.health().fault.as_ref().map(ToString::to_string)
}

/// What moves the priority now, as `status` lists it.
fn adjustments(t: &HealthTracker) -> Vec<String> {
    t.adjustments().iter().map(|a| a.to_string()).collect()
}

#[test]
fn positive_weight_counts_while_healthy_negative_while_failing() {
    let mut t = HealthTracker::new(100, "eth0")
        .with_check(CheckTracker::new("bonus", 20, 1, 1))
        .with_check(CheckTracker::new("malus", -30, 1, 1));
    t.check_result("bonus", true);
    t.check_result("malus", true);
    assert_eq!(
        t.health().priority,
        120,
        "bonus healthy: +20, malus healthy: 0"
    );
    t.check_result("malus", false);
    assert_eq!(t.health().priority, 90, "malus failing: -30");
    t.check_result("bonus", false);
    assert_eq!(t.health().priority, 70, "bonus failing: no longer added");
    assert_eq!(t.health().fault, None);
}

#[test]
fn fall_and_rise_need_consecutive_results() {
    let mut t = HealthTracker::new(100, "eth0").with_check(CheckTracker::new("pg", -50, 2, 3));
    assert!(t.check_result("pg", true), "the first result settles it");
    assert!(!t.check_result("pg", false));
    assert!(!t.check_result("pg", false));
    assert!(
        !t.check_result("pg", true),
        "a success resets the failure streak"
    );
    assert!(!t.check_result("pg", false));
    assert!(!t.check_result("pg", false));
    assert_eq!(t.health().priority, 100);
    assert!(
        t.check_result("pg", false),
        "third consecutive failure flips it"
    );
    assert_eq!(t.health().priority, 50);
    assert!(!t.check_result("pg", true));
    assert!(t.check_result("pg", true), "rise = 2");
    assert_eq!(t.health().priority, 100);
}

#[test]
fn weight_zero_check_failing_means_fault() {
    let mut t = HealthTracker::new(100, "eth0").with_check(CheckTracker::new("pg", 0, 1, 1));
    t.check_result("pg", false);
    assert_eq!(fault(&t).as_deref(), Some("check pg failing"));
    t.check_result("pg", true);
    assert_eq!(t.health().fault, None);
}

#[test]
fn own_interface_down_is_fault_and_tracked_interfaces_apply_weights() {
    let mut t = HealthTracker::new(100, "eth0")
        .with_interface("eth1", -20)
        .with_interface("eth2", 0)
        .with_interface("eth3", 15);
    assert_eq!(t.health().priority, 115);
    assert!(t.link("eth1", false));
    assert_eq!(t.health().priority, 95);
    assert!(t.link("eth3", false));
    assert_eq!(t.health().priority, 80);
    assert!(
        !t.link("lo", false),
        "untracked interfaces are not relevant"
    );
    t.link("eth2", false);
    assert_eq!(fault(&t).as_deref(), Some("tracked interface eth2 down"));
    t.link("eth2", true);
    t.link("eth0", false);
    assert_eq!(fault(&t).as_deref(), Some("interface eth0 down"));
}

#[test]
fn result_is_clamped_to_1_through_254() {
    let mut t = HealthTracker::new(240, "eth0").with_check(CheckTracker::new("up", 50, 1, 1));
    t.check_result("up", true);
    assert_eq!(t.health().priority, 254);
    let mut low = HealthTracker::new(10, "eth0").with_check(CheckTracker::new("down", -100, 1, 1));
    low.check_result("down", false);
    assert_eq!(low.health().priority, 1);
    t.set_base_priority(200);
    assert_eq!(t.health().priority, 250);
}

#[test]
fn address_owner_is_not_adjusted_but_can_fault() {
    let mut t = HealthTracker::new(255, "eth0")
        .with_check(CheckTracker::new("malus", -100, 1, 1))
        .with_check(CheckTracker::new("vital", 0, 1, 1));
    t.check_result("malus", false);
    assert_eq!(t.health().priority, 255);
    t.check_result("vital", false);
    assert!(t.health().fault.is_some());
}

#[test]
fn init_fail_check_starts_failing_and_needs_rise_successes() {
    let mut t = HealthTracker::new(100, "eth0")
        .with_check(CheckTracker::new("pg", -30, 2, 1).starting_failed());
    assert_eq!(t.health().priority, 70);
    t.check_result("pg", true);
    assert_eq!(t.health().priority, 70);
    t.check_result("pg", true);
    assert_eq!(t.health().priority, 100);
}

#[test]
fn adjustments_explain_the_effective_priority() {
    let mut t = HealthTracker::new(100, "eth0")
        .with_check(CheckTracker::new("pg", -30, 1, 1))
        .with_interface("eth1", 10);
    t.check_result("pg", false);
    let lines = adjustments(&t);
    assert_eq!(lines, vec!["check pg -30", "interface eth1 +10"]);
}

#[test]
fn tracked_file_adds_value_times_weight() {
    let mut t = HealthTracker::new(100, "eth0")
        .with_file("maintenance", 1)
        .with_file("load", -10);
    assert_eq!(t.health().priority, 100, "files start at value 0");
    assert!(t.file_value("maintenance", 30));
    assert_eq!(t.health().priority, 130);
    assert!(t.file_value("load", 2));
    assert_eq!(t.health().priority, 110, "2 x -10");
    assert!(t.file_value("maintenance", -5));
    assert_eq!(t.health().priority, 75, "a negative value lowers it");
    assert!(
        !t.file_value("other", 3),
        "untracked files are not relevant"
    );
    assert_eq!(t.health().fault, None);
    let lines = adjustments(&t);
    assert_eq!(lines, vec!["file maintenance -5", "file load -20"]);
}

#[test]
fn tracked_file_with_weight_zero_faults_on_any_non_zero_value() {
    let mut t = HealthTracker::new(100, "eth0").with_file("maintenance", 0);
    t.file_value("maintenance", 3);
    assert_eq!(
        fault(&t).as_deref(),
        Some("tracked file maintenance value 3")
    );
    t.file_value("maintenance", -1);
    assert!(t.health().fault.is_some());
    t.file_value("maintenance", 0);
    assert_eq!(t.health(), vipd_core::protocol::Health::up(100));
}

#[test]
fn tracked_file_value_and_product_are_limited_and_below_minus_253_faults() {
    let mut t = HealthTracker::new(100, "eth0").with_file("f", 1);
    t.file_value("f", 1_000_000);
    assert_eq!(
        t.health().priority,
        254,
        "value limited to 254, sum clamped"
    );
    assert_eq!(t.adjustments()[0].delta, 253, "product limited to 253");
    t.file_value("f", -253);
    assert_eq!(
        t.health().priority,
        1,
        "-253 still only lowers the priority"
    );
    assert_eq!(t.health().fault, None);
    t.file_value("f", -254);
    assert_eq!(
        fault(&t).as_deref(),
        Some("tracked file f value -254 x weight 1 is below -253")
    );
    let mut w = HealthTracker::new(100, "eth0").with_file("f", 100);
    w.file_value("f", -3);
    assert!(w.health().fault.is_some(), "-300 is below -253");
    w.file_value("f", 2);
    assert_eq!(w.health().priority, 254, "+200, clamped to 254");
}

#[test]
fn address_owner_ignores_file_and_process_weights_but_faults() {
    let mut t = HealthTracker::new(255, "eth0")
        .with_file("f", -50)
        .with_process("db", -100)
        .with_process("vital", 0);
    t.file_value("f", 1);
    t.process_up("db", false);
    assert_eq!(t.health(), vipd_core::protocol::Health::up(255));
    t.process_up("vital", false);
    assert_eq!(fault(&t).as_deref(), Some("process vital not running"));
}

#[test]
fn tracked_process_weights_follow_up_and_down() {
    let mut t = HealthTracker::new(100, "eth0")
        .with_process("postgres", -60)
        .with_process("haproxy", 10)
        .with_process("sshd", 0);
    assert_eq!(t.health().priority, 110, "processes start up");
    assert!(t.process_up("postgres", false));
    assert_eq!(t.health().priority, 50);
    t.process_up("haproxy", false);
    assert_eq!(t.health().priority, 40);
    assert_eq!(t.health().fault, None);
    assert!(!t.process_up("nginx", false));
    t.process_up("sshd", false);
    assert_eq!(fault(&t).as_deref(), Some("process sshd not running"));
    t.process_up("sshd", true);
    t.process_up("postgres", true);
    let lines = adjustments(&t);
    assert!(lines.is_empty(), "{lines:?}");
}

#[test]
fn adjustments_list_checks_interfaces_files_then_processes() {
    let mut t = HealthTracker::new(100, "eth0")
        .with_process("db", -40)
        .with_file("maint", -1)
        .with_interface("eth1", -5)
        .with_check(CheckTracker::new("pg", -30, 1, 1));
    t.check_result("pg", false);
    t.link("eth1", false);
    t.file_value("maint", 7);
    t.process_up("db", false);
    let lines = adjustments(&t);
    assert_eq!(
        lines,
        vec![
            "check pg -30",
            "interface eth1 -5",
            "file maint -7",
            "process db -40"
        ]
    );
    assert_eq!(t.health().priority, 18);
}

// ---- keepalived's initial state of a check (issue 15, item 15) --------------

#[test]
fn a_check_counts_for_nothing_until_its_first_result() {
    let t = HealthTracker::new(100, "eth0")
        .with_check(CheckTracker::new("bonus", 50, 1, 1))
        .with_check(CheckTracker::new("malus", -30, 1, 1));
    assert_eq!(
        t.health().priority,
        100,
        "neither +50 nor -30 before the first result"
    );
    assert_eq!(t.health().fault, None);
}

#[test]
fn one_success_is_enough_to_be_healthy_at_first() {
    let mut t = HealthTracker::new(100, "eth0").with_check(CheckTracker::new("pg", 50, 3, 3));
    assert!(
        t.check_result("pg", true),
        "rise 3, yet the first success counts"
    );
    assert_eq!(t.health().priority, 150);
}

#[test]
fn the_first_failure_counts_as_a_full_fall() {
    let mut t = HealthTracker::new(100, "eth0").with_check(CheckTracker::new("pg", -50, 3, 3));
    assert!(
        t.check_result("pg", false),
        "fall 3, yet the first failure counts"
    );
    assert_eq!(t.health().priority, 50);
    // Once it has a state, rise applies as usual.
    assert!(!t.check_result("pg", true));
    assert!(!t.check_result("pg", true));
    assert!(t.check_result("pg", true));
    assert_eq!(t.health().priority, 100);
}

#[test]
fn a_weight_zero_check_holds_the_instance_in_fault_until_it_reports() {
    let mut t = HealthTracker::new(100, "eth0").with_check(CheckTracker::new("vital", 0, 2, 2));
    assert_eq!(
        fault(&t).as_deref(),
        Some("check vital has not reported yet")
    );
    t.check_result("vital", true);
    assert_eq!(t.health().fault, None);
}

#[test]
fn a_restarted_node_with_its_service_down_does_not_advertise_the_bonus() {
    // The example: base 100, +50 while healthy, fall 3. Restarted
    // with the service down, it must not advertise 150 before a result.
    let mut t = HealthTracker::new(100, "eth0").with_check(CheckTracker::new("svc", 50, 2, 3));
    assert_eq!(t.health().priority, 100);
    t.check_result("svc", false);
    assert_eq!(t.health().priority, 100);
}

#[test]
fn reload_carries_a_healthy_or_pending_check_over() {
    let mut healthy = CheckTracker::new("pg", 20, 3, 3);
    healthy.record(true);
    let carried = CheckTracker::new("pg", 20, 3, 3).carrying(&healthy);
    let t = HealthTracker::new(100, "eth0").with_check(carried);
    assert_eq!(t.health().priority, 120);

    let pending = CheckTracker::new("pg", 0, 1, 1);
    let carried = CheckTracker::new("pg", 0, 1, 1).carrying(&pending);
    let t = HealthTracker::new(100, "eth0").with_check(carried);
    assert!(
        t.health().fault.is_some(),
        "still waiting for a first result"
    );
}
