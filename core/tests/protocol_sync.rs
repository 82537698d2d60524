//! Sync groups: members move to Master, Backup and Fault together.

mod common;

use std::time::Duration;

use common::ip;

use vipd_core::protocol::{
    Action, Event, GroupId, Health, Instance, InstanceId, LeaseAction, LeaseEvent, LeaseSettings,
    Member, Node, OnEtcdLoss, Output, Params, Report, State, SyncGroup, Time,
};
use vipd_core::wire::{AdvertRepr, Centis, Version};

/// The one virtual IP of virtual router `vrid`: 192.0.2.`vrid`.
fn vip(vrid: u8) -> String {
    format!("192.0.2.{vrid}")
}

fn member(name: &str, vrid: u8, priority: u8) -> Member {
    let params = Params {
        vrid,
        ..common::params(Version::V3, "192.0.2.10", &[&vip(vrid)])
    };
    Member {
        name: name.into(),
        instance: Instance::new(params, Health::up(priority)),
    }
}

/// Sync group "pg" of the instances at `members`.
fn pg(members: [usize; 2]) -> SyncGroup {
    SyncGroup {
        name: "pg".into(),
        members: members.map(InstanceId).to_vec(),
        leadership: None,
    }
}

/// Two instances (db: vrid 51, app: vrid 52) in group "pg", plus a free one.
fn node() -> Node {
    Node::new(
        vec![
            member("db", 51, 100),
            member("app", 52, 100),
            member("other", 53, 100),
        ],
        vec![pg([0, 1])],
    )
}

/// [`node`] after start-up: every instance BACKUP.
fn started() -> Node {
    let mut n = node();
    n.handle_all(Time::ZERO, Event::Startup);
    n
}

/// [`started`], then silence until every instance is MASTER; and when.
fn all_master() -> (Node, Time) {
    let mut n = started();
    let due = n.poll_timeout().unwrap();
    n.handle_timeout(due);
    (n, due)
}

/// Healthy but for a failing check, which is a fault.
fn failing(check: &str) -> Health {
    Health {
        priority: 100,
        fault: Some(vipd_core::protocol::Fault::CheckFailing {
            check: check.into(),
        }),
    }
}

/// When instance `index` next needs the clock.
fn due(node: &Node, index: usize) -> Time {
    node.instance(InstanceId(index)).poll_timeout().unwrap()
}

fn states(node: &Node) -> Vec<State> {
    node.members().iter().map(|m| m.instance.state()).collect()
}

fn group_transitions(out: &[Output]) -> Vec<(State, State)> {
    out.iter()
        .filter_map(|o| match o {
            Output::Group(_, t) => Some((t.from, t.to)),
            _ => None,
        })
        .collect()
}

fn advert(vrid: u8, priority: u8) -> AdvertRepr {
    AdvertRepr {
        vrid,
        ..common::advert(Version::V3, priority, Centis::ONE_SECOND, &[&vip(vrid)])
    }
}

#[test]
fn start_up_reports_the_group_in_backup_once() {
    let mut n = node();
    let out = n.handle_all(Time::ZERO, Event::Startup);
    assert_eq!(states(&n), vec![State::Backup; 3]);
    assert_eq!(
        group_transitions(&out),
        vec![(State::Initialize, State::Backup)]
    );
}

#[test]
fn a_member_becoming_master_pulls_the_others_to_master() {
    let mut n = started();
    // db keeps hearing nobody; app hears a master, so only db's timer expires.
    let db_due = due(&n, 0);
    n.handle(
        Time::ZERO + Duration::from_secs(1),
        InstanceId(1),
        Event::Advert {
            src: ip("192.0.2.20"),
            advert: &advert(52, 90),
        },
    );
    let out = n.handle(db_due, InstanceId(0), Event::Timer);
    assert_eq!(states(&n)[..2], [State::Master, State::Master]);
    assert_eq!(
        n.instance(InstanceId(2)).state(),
        State::Backup,
        "instances outside the group stay put"
    );
    assert!(out.contains(&Output::Instance(InstanceId(1), Action::AddVips)));
    assert_eq!(
        group_transitions(&out),
        vec![(State::Backup, State::Master)]
    );
}

#[test]
fn a_member_stepping_down_takes_the_others_down_without_a_resignation() {
    let (mut n, due) = all_master();
    assert_eq!(states(&n), vec![State::Master; 3]);
    let out = n.handle(
        due,
        InstanceId(0),
        Event::Advert {
            src: ip("192.0.2.20"),
            advert: &advert(51, 200),
        },
    );
    assert_eq!(
        states(&n),
        vec![State::Backup, State::Backup, State::Master]
    );
    let resigned = out.iter().any(
        |o| matches!(o, Output::Instance(InstanceId(_), Action::SendAdvert(a)) if a.priority == 0),
    );
    assert!(
        !resigned,
        "members pulled to BACKUP do not resign with priority 0 (keepalived does not): {out:?}"
    );
    assert!(out.contains(&Output::Instance(InstanceId(1), Action::RemoveVips)));
    assert_eq!(
        group_transitions(&out),
        vec![(State::Master, State::Backup)]
    );
}

#[test]
fn a_faulted_member_holds_the_whole_group_in_fault_until_it_recovers() {
    let (mut n, due) = all_master();
    let sick = Health {
        priority: 100,
        fault: Some(vipd_core::protocol::Fault::InterfaceDown {
            interface: "eth1".into(),
        }),
    };
    let out = n.set_health(due, InstanceId(1), &sick);
    assert_eq!(states(&n), vec![State::Fault, State::Fault, State::Master]);
    assert!(out.contains(&Output::Instance(InstanceId(0), Action::RemoveVips)));
    assert_eq!(group_transitions(&out), vec![(State::Master, State::Fault)]);

    let later = due + Duration::from_secs(5);
    let out = n.set_health(later, InstanceId(1), &Health::up(100));
    assert_eq!(
        states(&n),
        vec![State::Backup, State::Backup, State::Master]
    );
    assert_eq!(group_transitions(&out), vec![(State::Fault, State::Backup)]);
}

#[test]
fn two_faulted_members_keep_the_group_down_until_both_recover() {
    let mut n = started();
    n.set_health(Time::ZERO, InstanceId(0), &failing("a"));
    n.set_health(Time::ZERO, InstanceId(1), &failing("b"));
    let t = Time::ZERO + Duration::from_secs(1);
    n.set_health(t, InstanceId(0), &Health::up(100));
    assert_eq!(
        states(&n)[..2],
        [State::Fault, State::Fault],
        "app is still sick: db is held"
    );
    n.set_health(t, InstanceId(1), &Health::up(100));
    assert_eq!(states(&n)[..2], [State::Backup, State::Backup]);
}

#[test]
fn a_rebuilt_node_keeps_states_and_reports_no_group_transition() {
    let (n, due) = all_master();
    assert_eq!(n.group_state(GroupId(0)), State::Master);
    // A reload takes the node apart and puts it back together.
    let (members, group_states) = n.into_parts();
    let mut n = Node::with_group_states(members, vec![pg([0, 1])], &group_states);
    assert_eq!(states(&n), vec![State::Master; 3]);
    let later = due + Duration::from_secs(1);
    let out = n.handle_timeout(later);
    assert!(group_transitions(&out).is_empty(), "{out:?}");
    assert_eq!(n.group_state(GroupId(0)), State::Master);
}

/// Another node below our address (192.0.2.10), so no yielding to it.
const LOWER_PEER: &str = "192.0.2.5";

fn hear_from(n: &mut Node, now: Time, index: usize, from: &str, priority: u8) -> Vec<Output> {
    let vrid = n.instance(InstanceId(index)).params().vrid;
    n.handle(
        now,
        InstanceId(index),
        Event::Advert {
            src: ip(from),
            advert: &advert(vrid, priority),
        },
    )
}

fn hear(n: &mut Node, now: Time, index: usize, priority: u8) -> Vec<Output> {
    hear_from(n, now, index, LOWER_PEER, priority)
}

/// An advert every second from the start until just before `until`.
fn hear_every_second(n: &mut Node, until: Time, index: usize, from: &str, priority: u8) {
    let mut t = Time::ZERO;
    while t + Duration::from_secs(1) < until {
        t = t + Duration::from_secs(1);
        hear_from(n, t, index, from, priority);
    }
}

fn transitions_of(out: &[Output]) -> usize {
    out.iter()
        .filter(|o| {
            matches!(
                o,
                Output::Instance(InstanceId(0 | 1), Action::Transition(_))
            )
        })
        .count()
}

/// keepalived moves a group to MASTER only when every member wants to; a
/// member whose timer runs out while another member still follows a live,
/// better master stays BACKUP and re-arms its timer (prefer BACKUP over
/// thrashing).
#[test]
fn a_member_that_times_out_waits_while_another_follows_a_better_master() {
    let mut n = started();
    let db_due = due(&n, 0);
    // app keeps hearing a better master; db hears nobody.
    hear_every_second(&mut n, db_due, 1, LOWER_PEER, 200);
    let out = n.handle_timeout(db_due);
    assert_eq!(transitions_of(&out), 0, "{out:?}");
    assert_eq!(states(&n)[..2], [State::Backup, State::Backup]);
    let mdi = n.instance(InstanceId(0)).master_down_interval();
    assert_eq!(
        n.instance(InstanceId(0)).poll_timeout(),
        Some(db_due + mdi),
        "re-armed on the grid"
    );
    assert!(n.instance(InstanceId(0)).wants_master());
    // The better master goes silent: when app's timer runs out, every member
    // wants MASTER and the group moves together.
    let app_due = due(&n, 1);
    let out = n.handle_timeout(app_due);
    assert_eq!(states(&n)[..2], [State::Master, State::Master]);
    assert_eq!(
        group_transitions(&out),
        vec![(State::Backup, State::Master)]
    );
}

/// The same with the better master at a higher address: the group is split
/// between wanting MASTER and following that address, so it yields to it for
/// HOLD_INTERVALS advert intervals from the last such moment, then moves.
#[test]
fn a_split_group_yields_to_a_higher_address_before_moving() {
    let mut n = started();
    let db_due = due(&n, 0);
    hear_every_second(&mut n, db_due, 1, "192.0.2.20", 200);
    n.handle_timeout(db_due);
    assert!(n.instance(InstanceId(0)).wants_master());
    let app_due = due(&n, 1);
    let out = n.handle_timeout(app_due);
    assert_eq!(transitions_of(&out), 0, "held: {out:?}");
    assert!(n.instance(InstanceId(1)).wants_master());
    let hold_ends = db_due + vipd_core::protocol::node::HOLD_INTERVALS * Duration::from_secs(1);
    let out = n.handle_timeout(hold_ends);
    assert_eq!(states(&n)[..2], [State::Master, State::Master], "{out:?}");
    assert_eq!(
        group_transitions(&out),
        vec![(State::Backup, State::Master)]
    );
}

/// Accepting a master's advert clears a member's wish to become MASTER.
#[test]
fn accepting_a_master_clears_the_wish_to_become_master() {
    let mut n = started();
    let db_due = due(&n, 0);
    hear(&mut n, Time::ZERO + Duration::from_secs(1), 1, 200);
    n.handle_timeout(db_due);
    assert!(n.instance(InstanceId(0)).wants_master());
    hear(&mut n, db_due + Duration::from_millis(10), 0, 200);
    assert!(!n.instance(InstanceId(0)).wants_master());
}

/// keepalived passes priority 0 to a sync group's generic notify hook.
#[test]
fn group_transitions_carry_priority_zero() {
    let mut n = node();
    let out = n.handle_all(Time::ZERO, Event::Startup);
    let due = n.poll_timeout().unwrap();
    let out2 = n.handle_timeout(due);
    let priorities: Vec<u8> = out
        .iter()
        .chain(&out2)
        .filter_map(|o| match o {
            Output::Group(_, t) => Some(t.priority),
            _ => None,
        })
        .collect();
    assert_eq!(priorities, vec![0, 0]);
}

/// A reload that removes the group releases the members it held in FAULT.
#[test]
fn removing_a_group_releases_the_members_it_held_in_fault() {
    let mut n = started();
    n.set_health(Time::ZERO, InstanceId(0), &failing("pg"));
    assert_eq!(states(&n)[..2], [State::Fault, State::Fault]);
    let (members, group_states) = n.into_parts();
    let mut n = Node::with_group_states(members, Vec::new(), &group_states);
    let later = Time::ZERO + Duration::from_secs(1);
    let out = n.regroup(later);
    assert_eq!(states(&n)[..2], [State::Fault, State::Backup], "{out:?}");
    assert!(out.iter().any(|o| matches!(
        o,
        Output::Instance(InstanceId(1), Action::Transition(t)) if t.to == State::Backup
    )));
}

/// The same when a member is moved out of its group.
#[test]
fn moving_a_member_out_of_its_group_releases_it() {
    let mut n = started();
    n.set_health(Time::ZERO, InstanceId(0), &failing("pg"));
    let (members, group_states) = n.into_parts();
    let mut n = Node::with_group_states(members, vec![pg([0, 2])], &group_states);
    let out = n.regroup(Time::ZERO + Duration::from_secs(1));
    assert_eq!(
        states(&n),
        vec![State::Fault, State::Backup, State::Fault],
        "{out:?}"
    );
}

// ---- a leadership lock on the group -----------------------------------------

/// Group "pg" of db and app, needing a lock in etcd.
fn locked_pg() -> SyncGroup {
    SyncGroup {
        leadership: Some(LeaseSettings {
            key: "/vipd/pg".into(),
            ttl: Duration::from_secs(5),
            on_etcd_loss: OnEtcdLoss::StepDown,
        }),
        ..pg([0, 1])
    }
}

/// [`node`], with group "pg" needing a lock in etcd.
fn locked_node() -> Node {
    let members = vec![
        member("db", 51, 100),
        member("app", 52, 100),
        member("other", 53, 100),
    ];
    let mut n = Node::new(members, vec![locked_pg()]);
    n.handle_all(Time::ZERO, Event::Startup);
    n
}

fn group_leases(out: &[Output]) -> Vec<LeaseAction> {
    out.iter()
        .filter_map(|o| match o {
            Output::GroupLease(GroupId(0), action) => Some(*action),
            _ => None,
        })
        .collect()
}

/// Position of the first output matching `wanted`.
fn position(out: &[Output], wanted: impl Fn(&Output) -> bool) -> usize {
    out.iter().position(wanted).expect("output present")
}

/// A locked group whose members timed out, asked, and was granted at `at`.
fn locked_master() -> (Node, Time) {
    let mut n = locked_node();
    let due = n.poll_timeout().unwrap();
    let out = n.handle_timeout(due);
    assert_eq!(group_leases(&out), vec![LeaseAction::Acquire(1)]);
    let granted = LeaseEvent::Granted {
        attempt: 1,
        sent: due,
        ttl: Duration::from_secs(5),
        revision: 7,
    };
    let at = due + Duration::from_millis(5);
    n.handle_group_lease(at, GroupId(0), granted);
    (n, at)
}

#[test]
fn a_locked_group_asks_for_its_lock_and_moves_whole_only_when_granted() {
    let mut n = locked_node();
    let due = n.poll_timeout().unwrap();
    let out = n.handle_timeout(due);
    assert_eq!(states(&n)[..2], [State::Backup, State::Backup]);
    assert_eq!(group_leases(&out), vec![LeaseAction::Acquire(1)]);
    assert_eq!(
        n.instance(InstanceId(2)).state(),
        State::Master,
        "an instance outside the group needs no lock"
    );
    let granted = LeaseEvent::Granted {
        attempt: 1,
        sent: due,
        ttl: Duration::from_secs(5),
        revision: 7,
    };
    let out = n.handle_group_lease(due + Duration::from_millis(5), GroupId(0), granted);
    assert_eq!(states(&n)[..2], [State::Master, State::Master]);
    for m in 0..2 {
        let fence = position(
            &out,
            |o| matches!(o, Output::Instance(InstanceId(i), Action::Lease(LeaseAction::Fence(Some(_)))) if *i == m),
        );
        let add = position(&out, |o| {
            *o == Output::Instance(InstanceId(m), Action::AddVips)
        });
        assert!(
            fence < add,
            "member {m}: its addresses are fenced before they exist"
        );
    }
    assert_eq!(
        group_transitions(&out),
        vec![(State::Backup, State::Master)]
    );
}

#[test]
fn a_refused_locked_group_stays_backup_and_says_who_holds_the_lock() {
    let mut n = locked_node();
    let due = n.poll_timeout().unwrap();
    n.handle_timeout(due);
    let denied = LeaseEvent::Denied {
        attempt: 1,
        holder: "db-b",
    };
    let out = n.handle_group_lease(due + Duration::from_millis(5), GroupId(0), denied);
    assert_eq!(states(&n)[..2], [State::Backup, State::Backup]);
    let told = out.iter().any(|o| {
        matches!(o, Output::Instance(_, Action::Report(Report::LeadershipHeldBy { holder })) if holder == "db-b")
    });
    assert!(told, "{out:?}");
}

#[test]
fn a_locked_group_releases_its_lock_only_after_every_member_stepped_down() {
    let (mut n, at) = locked_master();
    // A better master for db: db steps down, app follows, then the lock goes.
    let out = hear(&mut n, at + Duration::from_millis(100), 0, 200);
    assert_eq!(states(&n)[..2], [State::Backup, State::Backup]);
    assert_eq!(group_leases(&out), vec![LeaseAction::Release(1)]);
    let release = position(&out, |o| matches!(o, Output::GroupLease(..)));
    let report = position(&out, |o| matches!(o, Output::Group(..)));
    for m in 0..2 {
        let removed = position(&out, |o| {
            *o == Output::Instance(InstanceId(m), Action::RemoveVips)
        });
        assert!(
            removed < release,
            "member {m}'s addresses go before the lock"
        );
    }
    assert!(
        report < release,
        "the group's hooks are queued before the release"
    );
}

#[test]
fn a_locked_group_not_renewed_in_time_resigns_whole() {
    let (mut n, _) = locked_master();
    // No renewal answered: the node's next deadline is the lock's.
    let deadline = n.group_lock(GroupId(0)).unwrap().deadline().unwrap();
    assert!(n.poll_timeout().unwrap() <= deadline);
    let mut out = Vec::new();
    while states(&n)[..2] != [State::Backup, State::Backup] {
        let due = n.poll_timeout().unwrap();
        assert!(due <= deadline, "resigned by the lock's deadline");
        out.extend(n.handle_timeout(due));
    }
    for m in 0..2 {
        let resigned = out.iter().any(|o| {
            matches!(o, Output::Instance(InstanceId(i), Action::SendAdvert(a)) if *i == m && a.priority == 0)
        });
        assert!(resigned, "member {m} resigns with priority 0");
    }
    assert_eq!(group_leases(&out), vec![LeaseAction::Release(1)]);
}

#[test]
fn a_reload_keeps_a_locked_groups_lock_and_its_members_master() {
    let (n, at) = locked_master();
    let (members, kept) = n.into_parts();
    let mut n = Node::with_group_states(members, vec![locked_pg()], &kept);
    let out = n.regroup(at + Duration::from_millis(10));
    assert_eq!(group_leases(&out), vec![], "nothing asked or released");
    assert_eq!(states(&n)[..2], [State::Master, State::Master]);
    assert!(n.group_lock(GroupId(0)).unwrap().lets_act(at));
}

#[test]
fn a_locked_group_asks_for_a_freed_lock_only_when_every_member_wants_master() {
    let mut n = locked_node();
    // app follows a live master; only db's timer runs out.
    hear(&mut n, Time::ZERO + Duration::from_millis(500), 1, 200);
    let db_due = due(&n, 0);
    n.handle(db_due, InstanceId(0), Event::Timer);
    assert!(n.instance(InstanceId(0)).wants_master());
    let freed = LeaseEvent::Holder {
        holder: None,
        revision: 9,
    };
    let out = n.handle_group_lease(db_due, GroupId(0), freed);
    assert_eq!(group_leases(&out), vec![], "half a group does not ask");
}

/// A group following a higher address's group that resigns (its members'
/// priority-0 adverts a few milliseconds apart) moves at Skew_Time: a
/// resigned master is not a live one to yield to.
#[test]
fn a_group_takes_over_at_skew_time_when_a_higher_address_group_resigns() {
    let mut n = started();
    let higher = "192.0.2.20";
    hear_every_second(&mut n, Time::ZERO + Duration::from_secs(3), 0, higher, 200);
    hear_every_second(&mut n, Time::ZERO + Duration::from_secs(3), 1, higher, 200);
    let t = Time::ZERO + Duration::from_millis(2500);
    hear_from(&mut n, t, 0, higher, 0);
    hear_from(&mut n, t + Duration::from_millis(3), 1, higher, 0);
    let skew = n.instance(InstanceId(0)).skew_time();
    let mut now = t;
    while states(&n)[..2] != [State::Master, State::Master] {
        now = n.poll_timeout().unwrap();
        n.handle_timeout(now);
    }
    assert!(
        now <= t + skew + Duration::from_millis(3),
        "master at {now}, skew ends at {}",
        t + skew
    );
}
