//! Sync groups: members move to Master, Backup and Fault together.

use std::net::IpAddr;
use std::time::Duration;

use vipd::protocol::{
    Action, Event, Health, Instance, Member, Node, Output, Params, State, SyncGroup, Time,
};
use vipd::wire::{AdvertRepr, Auth, Centis, Version};

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn member(name: &str, vrid: u8, priority: u8) -> Member {
    let params = Params {
        version: Version::V3,
        vrid,
        advert_interval: Centis::ONE_SECOND,
        preempt: true,
        preempt_delay: Duration::ZERO,
        primary_address: ip("192.0.2.10"),
        virtual_ips: vec![ip(&format!("192.0.2.{vrid}"))],
        auth: Auth::None,
    };
    Member {
        name: name.into(),
        instance: Instance::new(params, Health::up(priority)),
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
        vec![SyncGroup {
            name: "pg".into(),
            members: vec![0, 1],
        }],
    )
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
        version: Version::V3,
        vrid,
        priority,
        max_advert_interval: Centis::ONE_SECOND,
        auth: Auth::None,
        addresses: vec![ip(&format!("192.0.2.{vrid}"))],
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
    let mut n = node();
    n.handle_all(Time::ZERO, Event::Startup);
    // db keeps hearing nobody; app hears a master, so only db's timer expires.
    let db_due = n.instance(0).deadline().unwrap();
    n.handle(
        Time::ZERO + Duration::from_secs(1),
        1,
        Event::Advert {
            src: ip("192.0.2.20"),
            advert: &advert(52, 90),
        },
    );
    let out = n.handle(db_due, 0, Event::Timer);
    assert_eq!(states(&n)[..2], [State::Master, State::Master]);
    assert_eq!(
        n.instance(2).state(),
        State::Backup,
        "instances outside the group stay put"
    );
    assert!(out.contains(&Output::Instance(1, Action::AddVips)));
    assert_eq!(
        group_transitions(&out),
        vec![(State::Backup, State::Master)]
    );
}

#[test]
fn a_member_stepping_down_takes_the_others_down_with_a_resignation() {
    let mut n = node();
    n.handle_all(Time::ZERO, Event::Startup);
    let due = n.deadline().unwrap();
    n.poll(due);
    assert_eq!(states(&n), vec![State::Master; 3]);
    let out = n.handle(
        due,
        0,
        Event::Advert {
            src: ip("192.0.2.20"),
            advert: &advert(51, 200),
        },
    );
    assert_eq!(
        states(&n),
        vec![State::Backup, State::Backup, State::Master]
    );
    let resigned = out
        .iter()
        .any(|o| matches!(o, Output::Instance(1, Action::SendAdvert(a)) if a.priority == 0));
    assert!(
        resigned,
        "the follower resigns so its peer takes over after Skew_Time"
    );
    assert_eq!(
        group_transitions(&out),
        vec![(State::Master, State::Backup)]
    );
}

#[test]
fn a_faulted_member_holds_the_whole_group_in_fault_until_it_recovers() {
    let mut n = node();
    n.handle_all(Time::ZERO, Event::Startup);
    let due = n.deadline().unwrap();
    n.poll(due);
    let sick = Health {
        priority: 100,
        fault: Some("interface eth1 down".into()),
    };
    let out = n.set_health(due, 1, &sick);
    assert_eq!(states(&n), vec![State::Fault, State::Fault, State::Master]);
    assert!(out.contains(&Output::Instance(0, Action::RemoveVips)));
    assert_eq!(group_transitions(&out), vec![(State::Master, State::Fault)]);

    let later = due + Duration::from_secs(5);
    let out = n.set_health(later, 1, &Health::up(100));
    assert_eq!(
        states(&n),
        vec![State::Backup, State::Backup, State::Master]
    );
    assert_eq!(group_transitions(&out), vec![(State::Fault, State::Backup)]);
}

#[test]
fn two_faulted_members_keep_the_group_down_until_both_recover() {
    let mut n = node();
    n.handle_all(Time::ZERO, Event::Startup);
    let sick = |why: &str| Health {
        priority: 100,
        fault: Some(why.into()),
    };
    n.set_health(Time::ZERO, 0, &sick("check a failing"));
    n.set_health(Time::ZERO, 1, &sick("check b failing"));
    let t = Time::ZERO + Duration::from_secs(1);
    n.set_health(t, 0, &Health::up(100));
    assert_eq!(
        states(&n)[..2],
        [State::Fault, State::Fault],
        "app is still sick: db is held"
    );
    n.set_health(t, 1, &Health::up(100));
    assert_eq!(states(&n)[..2], [State::Backup, State::Backup]);
}

#[test]
fn a_rebuilt_node_keeps_states_and_reports_no_group_transition() {
    let mut n = node();
    n.handle_all(Time::ZERO, Event::Startup);
    let due = n.deadline().unwrap();
    n.poll(due);
    assert_eq!(n.group_state(0), State::Master);
    // A reload takes the node apart and puts it back together.
    let (members, group_states) = n.into_parts();
    let groups = vec![SyncGroup {
        name: "pg".into(),
        members: vec![0, 1],
    }];
    let mut n = Node::with_group_states(members, groups, &group_states);
    assert_eq!(states(&n), vec![State::Master; 3]);
    let later = due + Duration::from_secs(1);
    let out = n.poll(later);
    assert!(group_transitions(&out).is_empty(), "{out:?}");
    assert_eq!(n.group_state(0), State::Master);
}
