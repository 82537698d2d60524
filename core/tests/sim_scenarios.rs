//! Fixed, readable scenarios on the simulator, with exact expected times.
//!
//! Unless said otherwise: VRRPv3 over IPv4, a 1 s advert interval and a fixed
//! 1 ms one-way delay, so every instant below can be computed by hand.

use std::time::Duration;

use vipd_core::protocol::timers::{master_down_interval, skew_time};
use vipd_core::protocol::{Health, InstanceId, Reason, State, SyncGroup, Time};
use vipd_core::sim::{Incident, InstanceSpec, Network, NodeSpec, Setup, Sim, check};
use vipd_core::wire::{Auth, Centis, Family, Version};

const INTERVAL: Centis = Centis::ONE_SECOND;
const DELAY: Duration = Duration::from_millis(1);

fn at(secs: f64) -> Time {
    Time::from_duration(Duration::from_secs_f64(secs))
}

fn mdi(priority: u8) -> Duration {
    master_down_interval(priority, INTERVAL)
}

fn config(nodes: Vec<NodeSpec>) -> Setup {
    Setup {
        version: Version::V3,
        family: Family::Ipv4,
        auth: Auth::None,
        nodes,
        network: Network::fixed(DELAY),
        seed: 1,
    }
}

fn node(priority: u8) -> NodeSpec {
    NodeSpec::single(InstanceSpec::new(priority, INTERVAL))
}

/// Runs to `until` and checks the invariants every scenario must keep.
fn run(sim: &mut Sim, until: Time) {
    sim.run_until(until);
    check::vips_follow_state(sim.timeline(), 0)
        .unwrap_or_else(|v| panic!("{v}\n{}", sim.timeline()));
}

#[test]
fn two_nodes_elect_the_higher_priority() {
    let mut sim = Sim::new(config(vec![node(100), node(200)]));
    run(&mut sim, at(20.0));
    let view = sim.timeline().view(0);
    // n1's Master_Down_Timer (3 s + 56/256 s) runs out first; its advert
    // reaches n0 long before n0's own timer (3 s + 156/256 s).
    assert_eq!(
        view.became_master(1, Time::ZERO),
        Some(Time::ZERO + mdi(200))
    );
    assert_eq!(view.became_master(0, Time::ZERO), None);
    assert_eq!(view.masters_at(at(20.0)), vec![1]);
    assert_eq!(view.vip_holders_at(at(20.0)), vec![1]);
}

#[test]
fn ipv6_and_vrrpv2_elect_the_same_way() {
    for (version, family, auth) in [
        (Version::V3, Family::Ipv6, Auth::None),
        (Version::V2, Family::Ipv4, Auth::simple("secret")),
    ] {
        let mut cfg = config(vec![node(100), node(200), node(150)]);
        (cfg.version, cfg.family, cfg.auth) = (version, family, auth);
        let mut sim = Sim::new(cfg);
        run(&mut sim, at(20.0));
        let view = sim.timeline().view(0);
        assert_eq!(
            view.became_master(1, Time::ZERO),
            Some(Time::ZERO + mdi(200)),
            "{version:?} {family:?}"
        );
        assert_eq!(view.masters_at(at(20.0)), vec![1]);
    }
}

#[test]
fn master_crash_backup_takes_over_at_last_advert_plus_master_down_interval() {
    let mut sim = Sim::new(config(vec![node(100), node(200)]));
    sim.schedule(at(10.5), Incident::Crash(1));
    run(&mut sim, at(20.0));
    let view = sim.timeline().view(0);
    let last = view.last_advert(1, at(10.5)).unwrap();
    let (sent, arrivals) = (last.at, last.arrivals);
    // Adverts at MDI(200) + k seconds: the last one before the crash.
    assert_eq!(sent, Time::ZERO + mdi(200) + Duration::from_secs(7));
    assert_eq!(arrivals, &[(0, sent + DELAY)]);
    assert_eq!(
        view.became_master(0, at(10.5)),
        Some(sent + DELAY + mdi(100))
    );
    let takeover = view
        .transitions()
        .find(|(_, n, t)| *n == 0 && t.to == State::Master)
        .unwrap()
        .2;
    assert!(
        matches!(takeover.reason, Reason::MasterDown { .. }),
        "{:?}",
        takeover.reason
    );
}

#[test]
fn graceful_stop_backup_takes_over_after_skew_time() {
    let mut sim = Sim::new(config(vec![node(100), node(200)]));
    sim.schedule(at(10.5), Incident::Shutdown(1));
    run(&mut sim, at(20.0));
    let view = sim.timeline().view(0);
    assert_eq!(
        view.last_advert(1, at(10.5)).map(|s| (s.at, s.priority)),
        Some((at(10.5), 0))
    );
    // Skew_Time(100) = 156/256 s after the priority-0 advert arrives.
    assert_eq!(
        view.became_master(0, at(10.5)),
        Some(at(10.5) + DELAY + skew_time(100, INTERVAL))
    );
    assert_eq!(view.state_at(1, at(20.0)), Some(State::Stopped));
    assert_eq!(view.vip_holders_at(at(20.0)), vec![0]);
}

#[test]
fn three_nodes_fail_in_turn_and_are_elected_in_priority_order() {
    let mut sim = Sim::new(config(vec![node(100), node(200), node(150)]));
    sim.schedule(at(10.0), Incident::Crash(1));
    sim.schedule(at(20.0), Incident::Crash(2));
    run(&mut sim, at(30.0));
    let view = sim.timeline().view(0);
    let order: Vec<usize> = view
        .transitions()
        .filter(|(_, _, t)| t.to == State::Master)
        .map(|(_, n, _)| n)
        .collect();
    assert_eq!(order, vec![1, 2, 0]);
    for t in [9.0, 19.0, 29.0] {
        assert_eq!(view.masters_at(at(t)).len(), 1, "one master at {t} s");
    }
    // n2 (150) beats n0 (100) because its Skew_Time is shorter.
    let last_of_1 = view.last_advert(1, at(10.0)).unwrap().at;
    assert_eq!(
        view.became_master(2, at(10.0)),
        Some(last_of_1 + DELAY + mdi(150))
    );
}

#[test]
fn preempt_off_keeps_the_old_master_when_a_higher_one_returns() {
    let low = node(100);
    let high = NodeSpec::single(InstanceSpec::new(200, INTERVAL).preempt(false));
    let mut sim = Sim::new(config(vec![low, high.boot_at(None)]));
    sim.schedule(at(10.0), Incident::Restart(1));
    run(&mut sim, at(30.0));
    let view = sim.timeline().view(0);
    assert_eq!(
        view.became_master(0, Time::ZERO),
        Some(Time::ZERO + mdi(100))
    );
    assert_eq!(view.became_master(1, Time::ZERO), None);
    assert_eq!(view.masters_at(at(30.0)), vec![0]);
}

#[test]
fn preempt_on_a_returning_higher_node_takes_over_after_its_master_down_interval() {
    let mut sim = Sim::new(config(vec![node(100), node(200).boot_at(None)]));
    sim.schedule(at(10.0), Incident::Restart(1));
    run(&mut sim, at(30.0));
    let view = sim.timeline().view(0);
    // It discards the lower master's adverts, so its start-up timer runs out.
    assert_eq!(view.became_master(1, at(10.0)), Some(at(10.0) + mdi(200)));
    assert_eq!(view.masters_at(at(30.0)), vec![1]);
    let step_down = view
        .transitions()
        .find(|(_, n, t)| *n == 0 && t.to == State::Backup && t.from == State::Master);
    assert_eq!(
        step_down.map(|(t, ..)| t),
        Some(at(10.0) + mdi(200) + DELAY)
    );
}

#[test]
fn preempt_delay_is_honoured() {
    let delay = Duration::from_secs(5);
    let high = NodeSpec::single(InstanceSpec::new(200, INTERVAL).preempt_delay(delay));
    let mut sim = Sim::new(config(vec![node(100), high.boot_at(None)]));
    sim.schedule(at(10.0), Incident::Restart(1));
    run(&mut sim, at(40.0));
    let view = sim.timeline().view(0);
    // Adverts from n0 that reach n1 before boot + delay are accepted; the
    // Master_Down_Timer runs from the last of them.
    let last_accepted = view
        .arrivals(0, 1)
        .filter(|&t| t < at(10.0) + delay)
        .last()
        .unwrap();
    let takeover = view.became_master(1, at(10.0)).unwrap();
    assert_eq!(takeover, last_accepted + mdi(200));
    assert!(takeover > at(15.0));
}

#[test]
fn equal_priorities_starting_together_go_to_the_higher_address() {
    let mut sim = Sim::new(config(vec![node(100), node(100)]));
    run(&mut sim, at(10.0));
    let view = sim.timeline().view(0);
    // Both timers expire together; each hears the other as master and the
    // lower address (n0, 192.0.2.10) steps down (RFC 9568 6.4.3 (1050)).
    assert_eq!(
        view.became_master(0, Time::ZERO),
        Some(Time::ZERO + mdi(100))
    );
    assert_eq!(
        view.became_master(1, Time::ZERO),
        Some(Time::ZERO + mdi(100))
    );
    assert_eq!(view.masters_at(at(10.0)), vec![1]);
    check::overlaps_within(&view, Time::ZERO, at(10.0), DELAY).unwrap();
}

#[test]
fn equal_priority_backup_does_not_displace_a_running_master() {
    // RFC 9568 6.4.2 (650): a backup accepts an advert of equal priority, so
    // the higher address wins only when both are master at once.
    let mut sim = Sim::new(config(vec![node(100), node(100).boot_at(Some(at(5.0)))]));
    run(&mut sim, at(20.0));
    assert_eq!(sim.timeline().view(0).masters_at(at(20.0)), vec![0]);
}

#[test]
fn a_healed_partition_keeps_the_better_master() {
    let mut sim = Sim::new(config(vec![node(100), node(200), node(150)]));
    sim.schedule(at(10.0), Incident::Partition(vec![vec![1]]));
    sim.schedule(at(20.0), Incident::Heal);
    run(&mut sim, at(30.0));
    let view = sim.timeline().view(0);
    assert_eq!(
        view.masters_at(at(19.0)),
        vec![1, 2],
        "each side elected its own master"
    );
    assert_eq!(view.masters_at(at(30.0)), vec![1]);
    let healed = view
        .transitions()
        .find(|(t, n, tr)| *t >= at(20.0) && *n == 2 && tr.to == State::Backup);
    assert!(healed.is_some_and(|(t, ..)| t <= at(21.0) + DELAY * 2));
}

#[test]
fn a_lower_priority_moves_the_role_with_preemption() {
    let mut sim = Sim::new(config(vec![node(100), node(200)]));
    sim.schedule(
        at(10.0),
        Incident::Health {
            node: 1,
            instance: 0,
            health: Health::up(50),
        },
    );
    run(&mut sim, at(30.0));
    let view = sim.timeline().view(0);
    assert_eq!(view.masters_at(at(30.0)), vec![0]);
    // n0 discards the first advert at priority 50, so its timer runs out
    // MDI(100) after the last priority-200 advert reached it.
    let last_200 = view
        .adverts()
        .filter(|s| s.node == 1 && s.priority == 200)
        .last()
        .unwrap()
        .at;
    assert_eq!(
        view.became_master(0, at(10.0)),
        Some(last_200 + DELAY + mdi(100))
    );
}

#[test]
fn runs_are_reproducible_from_the_seed() {
    let make = |seed| {
        let mut cfg = config(vec![node(100), node(200), node(150)]);
        cfg.network = Network {
            base_delay: DELAY,
            jitter: Duration::from_millis(2),
            loss: 0.2,
        };
        cfg.seed = seed;
        let mut sim = Sim::new(cfg);
        sim.schedule(at(10.0), Incident::Crash(1));
        sim.run_until(at(30.0));
        sim.timeline().clone()
    };
    assert_eq!(make(7), make(7));
    assert_ne!(make(7), make(8));
}

/// Two instances (VRIDs 51 and 52) in one sync group on every node.
fn grouped(priority: u8) -> NodeSpec {
    let second = InstanceSpec {
        vrid: 52,
        ..InstanceSpec::new(priority, INTERVAL)
    };
    NodeSpec {
        instances: vec![InstanceSpec::new(priority, INTERVAL), second],
        sync_groups: vec![SyncGroup {
            name: "G".into(),
            members: vec![InstanceId(0), InstanceId(1)],
            leadership: None,
        }],
        boot_at: Some(Time::ZERO),
    }
}

#[test]
fn sync_group_members_fail_over_and_back_together() {
    let mut sim = Sim::new(config(vec![grouped(200), grouped(100)]));
    let sick = Health {
        priority: 200,
        fault: Some(vipd_core::protocol::Fault::CheckFailing { check: "c".into() }),
    };
    sim.schedule(
        at(10.0),
        Incident::Health {
            node: 0,
            instance: 1,
            health: sick,
        },
    );
    sim.schedule(
        at(20.0),
        Incident::Health {
            node: 0,
            instance: 1,
            health: Health::up(200),
        },
    );
    sim.run_until(at(40.0));
    for instance in 0..2 {
        check::vips_follow_state(sim.timeline(), instance).unwrap();
        let view = sim.timeline().view(instance);
        assert_eq!(view.masters_at(at(9.0)), vec![0], "instance {instance}");
        // The fault on instance 1 drags instance 0 into Fault with it; both
        // resign, so n1 takes both over after its Skew_Time.
        assert_eq!(
            view.state_at(0, at(15.0)),
            Some(State::Fault),
            "instance {instance}"
        );
        assert_eq!(
            view.became_master(1, at(10.0)),
            Some(at(10.0) + DELAY + skew_time(100, INTERVAL))
        );
        // Cleared at 20 s: back to Backup, then n0 preempts after its MDI.
        assert_eq!(
            view.became_master(0, at(20.0)),
            Some(at(20.0) + mdi(200)),
            "instance {instance}"
        );
        assert_eq!(view.masters_at(at(40.0)), vec![0], "instance {instance}");
    }
}

/// Regression: a backup whose effective priority becomes 255 (it now owns the
/// addresses) must take over even with preemption off, RFC 9568 6.1. It used
/// to accept the lower master's adverts forever (property `stable`, seed
/// 11515948107363807589).
#[test]
fn a_backup_that_becomes_address_owner_preempts_even_with_preempt_off() {
    let polite = NodeSpec::single(InstanceSpec::new(100, INTERVAL).preempt(false));
    let mut sim = Sim::new(config(vec![node(200), polite]));
    sim.schedule(
        at(10.0),
        Incident::Health {
            node: 1,
            instance: 0,
            health: Health::up(255),
        },
    );
    run(&mut sim, at(20.0));
    let view = sim.timeline().view(0);
    assert_eq!(view.masters_at(at(9.0)), vec![0]);
    // n0's adverts are discarded from 10 s on, so the timer armed by the last
    // advert before 10 s runs out; the new priority recomputed it with its
    // own Skew_Time, from that advert.
    let last = view.last_advert(0, at(10.0)).unwrap().at;
    assert_eq!(
        view.became_master(1, at(10.0)),
        Some(last + DELAY + mdi(255))
    );
    assert_eq!(view.masters_at(at(20.0)), vec![1]);
}

// ---- issue 15 ---------------------------------------------------------------

/// The example: priority 150 with a 60 s preempt_delay, in FAULT from
/// 100 s to 200 s while a priority-100 node is master. Leaving FAULT restarts
/// the delay (as keepalived does), so it takes over about 260 s, not 203.4 s.
#[test]
fn preempt_delay_restarts_when_leaving_fault() {
    let top =
        NodeSpec::single(InstanceSpec::new(150, INTERVAL).preempt_delay(Duration::from_secs(60)));
    let mut sim = Sim::new(config(vec![top, node(100)]));
    let health = |fault: Option<&str>| Incident::Health {
        node: 0,
        instance: 0,
        health: Health {
            priority: 150,
            fault: fault.map(|check| vipd_core::protocol::Fault::CheckFailing {
                check: check.into(),
            }),
        },
    };
    sim.schedule(at(100.0), health(Some("c")));
    sim.schedule(at(200.0), health(None));
    run(&mut sim, at(300.0));
    let view = sim.timeline().view(0);
    assert_eq!(view.masters_at(at(150.0)), vec![1]);
    let back = view.became_master(0, at(200.0)).expect("takes over again");
    // The delay ends at 260 s; the last advert accepted before then arrived
    // at 259 s + something, and one Master_Down_Interval later n0 preempts.
    let last = view
        .arrivals(1, 0)
        .filter(|&t| t < at(260.0))
        .last()
        .unwrap();
    assert_eq!(back, last + mdi(150), "{}", sim.timeline());
    assert!(back > at(260.0));
}

fn group_of(priorities: [u8; 2]) -> NodeSpec {
    let mut spec = grouped(priorities[0]);
    spec.instances[1].priority = priorities[1];
    spec
}

/// Instance transitions of every node and instance from `after` on.
fn transitions_after(sim: &Sim, after: Time) -> usize {
    (0..2)
        .map(|i| {
            sim.timeline()
                .view(i)
                .transitions()
                .filter(|(t, ..)| *t >= after)
                .count()
        })
        .sum()
}

/// Both VRIDs on exactly one node, and no instance transition from `calm` on.
fn settled_on_one_node(sim: &Sim, calm: Time, end: Time) -> usize {
    for instance in 0..2 {
        check::vips_follow_state(sim.timeline(), instance)
            .unwrap_or_else(|v| panic!("{v}\n{}", sim.timeline()));
    }
    assert_eq!(
        transitions_after(sim, calm),
        0,
        "transitions after {calm}:\n{}",
        sim.timeline()
    );
    let masters: Vec<Vec<usize>> = (0..2)
        .map(|i| sim.timeline().view(i).masters_at(end))
        .collect();
    assert_eq!(masters[0].len(), 1, "{masters:?}\n{}", sim.timeline());
    assert_eq!(masters[0], masters[1], "one node holds the whole group");
    masters[0][0]
}

/// Issue example: `{db, app}` at 150/150 on two nodes; node 0's app check and
/// node 1's db check fail (weight -60). Each node outranks the other on one
/// member: keepalived keeps the group where it is rather than moving it back
/// and forth (it used to move every ~3.4 s, forever).
#[test]
fn crossed_check_failures_do_not_make_sync_groups_thrash() {
    let mut sim = Sim::new(config(vec![grouped(150), grouped(150)]));
    for (node, instance) in [(0, 1), (1, 0)] {
        sim.schedule(
            at(10.0),
            Incident::Health {
                node,
                instance,
                health: Health::up(90),
            },
        );
    }
    sim.run_until(at(10.0));
    let before = transitions_after(&sim, Time::ZERO);
    sim.run_until(at(100.0));
    let during = transitions_after(&sim, at(10.0));
    assert!(
        during <= 4,
        "{during} transitions after 10 s (from {before} before)\n{}",
        sim.timeline()
    );
    settled_on_one_node(&sim, at(20.0), at(100.0));
}

/// Issue example: crossed priorities [200, 100] against [100, 200] from
/// boot. Some node must hold both VRIDs, and once it does nothing moves
/// (it used to be 652 transitions per 100 s, mostly with no master).
#[test]
fn crossed_priorities_settle_the_group_on_one_node() {
    let mut sim = Sim::new(config(vec![group_of([200, 100]), group_of([100, 200])]));
    sim.run_until(at(100.0));
    let total = transitions_after(&sim, Time::ZERO);
    // Boot (4), at most one clash of both groups (8), one group up (2).
    assert!(
        total <= 14,
        "{total} transitions in 100 s\n{}",
        sim.timeline()
    );
    settled_on_one_node(&sim, at(30.0), at(100.0));
}
