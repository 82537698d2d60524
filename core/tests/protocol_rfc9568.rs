//! One test per transition of RFC 9568 section 6.4 (and the RFC 3768 receive
//! rules vipd keeps for v2), driven with a virtual clock.

mod common;

use std::time::Duration;

use common::{at, hear, ip, secs};

use vipd_core::protocol::{
    Action, DropReason, Event, Health, Instance, Params, Reason, Report, State, Time, Transition,
};
use vipd_core::wire::{AdvertRepr, Auth, Centis, Version};

const ME: &str = "192.0.2.10";
const PEER_HIGH: &str = "192.0.2.20";
const PEER_LOW: &str = "192.0.2.5";
const VIP: &str = "192.0.2.50";

fn params(version: Version) -> Params {
    common::params(version, ME, &[VIP])
}

fn instance(priority: u8) -> Instance {
    Instance::new(params(Version::V3), Health::up(priority))
}

fn advert(priority: u8, interval: Centis) -> AdvertRepr {
    common::advert(Version::V3, priority, interval, &[VIP])
}

/// An advert of `priority` at the usual 1 s interval from `from`.
fn hear_priority(inst: &mut Instance, now: Time, from: &str, priority: u8) -> Vec<Action> {
    hear(inst, now, from, &advert(priority, Centis::ONE_SECOND))
}

/// Priority 100, but in Fault: its interface is down.
fn link_down() -> Health {
    Health {
        priority: 100,
        fault: Some(vipd_core::protocol::Fault::InterfaceDown {
            interface: "eth0".into(),
        }),
    }
}

/// A priority-150 backup started at t=0 with `preempt_delay` seconds.
fn preempt_delayed(preempt_delay: f64) -> Instance {
    let mut p = params(Version::V3);
    p.preempt_delay = secs(preempt_delay);
    let mut inst = Instance::new(p, Health::up(150));
    inst.handle(at(0.0), Event::Startup);
    inst
}

/// A lower master (priority 100) heard every second of `seconds` is
/// accepted each time: the Master_Down_Timer restarts from its advert.
fn assert_tolerated(inst: &mut Instance, seconds: std::ops::Range<u32>, mdi: Duration) {
    for t in seconds {
        hear_priority(inst, at(f64::from(t)), PEER_HIGH, 100);
        assert_eq!(
            inst.poll_timeout(),
            Some(at(f64::from(t)) + mdi),
            "lower master tolerated at {t} s"
        );
    }
}

/// The instance became Master by preempting PEER_HIGH at priority 100.
fn assert_preempted_lower_master(inst: &Instance, actions: &[Action]) {
    assert_eq!(inst.state(), State::Master);
    assert_eq!(
        transitions(actions)[0].reason,
        Reason::Preempted {
            master: ip(PEER_HIGH),
            priority: 100
        }
    );
}

/// What a master of priority `mine` does on hearing PEER_HIGH as a master
/// of lower priority `theirs`: report it, advertise at once, announce.
fn answer_to_lower_master(theirs: u8, mine: u8) -> Vec<Action> {
    vec![
        Action::Report(Report::LowerPriorityMaster {
            from: ip(PEER_HIGH),
            priority: theirs,
        }),
        Action::SendAdvert(advert(mine, Centis::ONE_SECOND)),
        Action::Announce,
    ]
}

/// Starts `priority` at t=0 and makes it master through its Master_Down_Timer.
fn master(priority: u8) -> (Instance, Time) {
    let mut inst = instance(priority);
    inst.handle(Time::ZERO, Event::Startup);
    let due = inst.poll_timeout().unwrap();
    inst.handle(due, Event::Timer);
    assert_eq!(inst.state(), State::Master);
    (inst, due)
}

fn transitions(actions: &[Action]) -> Vec<&Transition> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Transition(t) => Some(t),
            _ => None,
        })
        .collect()
}

fn sent_priorities(actions: &[Action]) -> Vec<u8> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::SendAdvert(adv) => Some(adv.priority),
            _ => None,
        })
        .collect()
}

// ---- 6.4.1 Initialize -------------------------------------------------------

#[test]
fn initialize_startup_non_owner_enters_backup_and_arms_master_down_timer() {
    let mut inst = instance(100);
    let actions = inst.handle(at(1.0), Event::Startup);
    assert_eq!(inst.state(), State::Backup);
    // Master_Down_Interval = 3 * 1 s + (256 - 100) * 1 s / 256 = 3.609375 s.
    assert_eq!(inst.poll_timeout(), Some(at(1.0) + secs(3.609375)));
    assert!(
        sent_priorities(&actions).is_empty(),
        "a backup must not advertise"
    );
    let t = transitions(&actions);
    assert_eq!(t.len(), 1);
    assert_eq!(
        (t[0].from, t[0].to, &t[0].reason),
        (State::Initialize, State::Backup, &Reason::Startup)
    );
}

#[test]
fn initialize_startup_owner_becomes_master_at_once() {
    let mut inst = instance(255);
    let actions = inst.handle(at(0.0), Event::Startup);
    assert_eq!(inst.state(), State::Master);
    assert_eq!(
        actions[0],
        Action::SendAdvert(advert(255, Centis::ONE_SECOND))
    );
    assert_eq!(actions[1], Action::AddVips);
    assert_eq!(actions[2], Action::Announce);
    assert_eq!(transitions(&actions)[0].reason, Reason::AddressOwner);
    assert_eq!(
        inst.poll_timeout(),
        Some(at(1.0)),
        "Adver_Timer = Advertisement_Interval"
    );
}

#[test]
fn initialize_startup_while_faulted_enters_fault_without_timers() {
    let mut inst = Instance::new(params(Version::V3), link_down());
    let actions = inst.handle(at(0.0), Event::Startup);
    assert_eq!(inst.state(), State::Fault);
    assert_eq!(inst.poll_timeout(), None);
    assert!(sent_priorities(&actions).is_empty());
}

// ---- 6.4.2 Backup ------------------------------------------------------------

#[test]
fn backup_shutdown_cancels_master_down_timer() {
    let mut inst = instance(100);
    inst.handle(at(0.0), Event::Startup);
    let actions = inst.handle(at(1.0), Event::Shutdown);
    assert_eq!(inst.state(), State::Stopped);
    assert_eq!(inst.poll_timeout(), None);
    assert!(
        sent_priorities(&actions).is_empty(),
        "a backup has nothing to resign"
    );
    assert_eq!(transitions(&actions)[0].to, State::Stopped);
}

#[test]
fn backup_master_down_actions_come_in_rfc_order() {
    let mut inst = instance(100);
    inst.handle(at(0.0), Event::Startup);
    let due = inst.poll_timeout().unwrap();
    let actions = inst.handle(due, Event::Timer);
    assert_eq!(
        actions[0],
        Action::SendAdvert(advert(100, Centis::ONE_SECOND))
    );
    assert_eq!(actions[1], Action::AddVips);
    assert_eq!(actions[2], Action::Announce);
    assert!(matches!(
        &actions[3],
        Action::Transition(Transition {
            from: State::Backup,
            to: State::Master,
            reason: Reason::MasterDown { .. },
            ..
        })
    ));
    assert_eq!(inst.state(), State::Master);
    assert_eq!(
        inst.poll_timeout(),
        Some(due + secs(1.0)),
        "Adver_Timer = Advertisement_Interval"
    );
}

#[test]
fn backup_timer_event_before_deadline_changes_nothing() {
    let mut inst = instance(100);
    inst.handle(at(0.0), Event::Startup);
    let due = inst.poll_timeout().unwrap();
    let actions = inst.handle(at(3.0), Event::Timer);
    assert!(actions.is_empty());
    assert_eq!(inst.state(), State::Backup);
    assert_eq!(inst.poll_timeout(), Some(due));
}

#[test]
fn backup_priority_zero_sets_master_down_timer_to_skew_time() {
    let mut inst = instance(100);
    inst.handle(at(0.0), Event::Startup);
    hear_priority(&mut inst, at(1.0), PEER_HIGH, 200);
    hear_priority(&mut inst, at(1.5), PEER_HIGH, 0);
    // Skew_Time = (256 - 100) * 1 s / 256 = 0.609375 s.
    assert_eq!(inst.poll_timeout(), Some(at(1.5) + secs(0.609375)));
    let actions = inst.handle(inst.poll_timeout().unwrap(), Event::Timer);
    assert_eq!(inst.state(), State::Master);
    assert_eq!(
        transitions(&actions)[0].reason,
        Reason::MasterResigned {
            from: ip(PEER_HIGH)
        }
    );
}

#[test]
fn backup_higher_priority_resets_timer_and_learns_the_masters_interval() {
    let mut inst = instance(100);
    inst.handle(at(0.0), Event::Startup);
    let actions = hear(&mut inst, at(2.0), PEER_HIGH, &advert(200, Centis(200)));
    assert!(actions.is_empty());
    assert_eq!(inst.master_adver_interval(), Centis(200));
    // 3 * 2 s + (256 - 100) * 2 s / 256 = 7.21875 s.
    assert_eq!(inst.poll_timeout(), Some(at(2.0) + secs(7.21875)));
}

#[test]
fn backup_equal_priority_resets_timer() {
    let mut inst = instance(100);
    inst.handle(at(0.0), Event::Startup);
    hear_priority(&mut inst, at(2.0), PEER_LOW, 100);
    assert_eq!(inst.poll_timeout(), Some(at(2.0) + secs(3.609375)));
}

#[test]
fn backup_lower_priority_with_preempt_is_discarded_so_the_backup_preempts() {
    let mut inst = instance(150);
    inst.handle(at(0.0), Event::Startup);
    let due = inst.poll_timeout().unwrap();
    hear_priority(&mut inst, at(1.0), PEER_HIGH, 100);
    assert_eq!(
        inst.poll_timeout(),
        Some(due),
        "a lower-priority master must not reset the timer"
    );
    hear(&mut inst, at(2.0), PEER_HIGH, &advert(100, Centis(300)));
    assert_eq!(
        inst.master_adver_interval(),
        Centis::ONE_SECOND,
        "nor teach its interval"
    );
    let actions = inst.handle(due, Event::Timer);
    assert_preempted_lower_master(&inst, &actions);
}

#[test]
fn backup_lower_priority_without_preempt_resets_timer() {
    let mut p = params(Version::V3);
    p.preempt = false;
    let mut inst = Instance::new(p, Health::up(150));
    inst.handle(at(0.0), Event::Startup);
    hear_priority(&mut inst, at(2.0), PEER_HIGH, 100);
    assert_eq!(
        inst.poll_timeout(),
        Some(at(2.0) + inst.master_down_interval())
    );
}

#[test]
fn backup_preempt_delay_tolerates_a_lower_master_until_it_expires() {
    let mut inst = preempt_delayed(10.0);
    let mdi = inst.master_down_interval();
    assert_tolerated(&mut inst, 1..10, mdi);
    // At 10 s the delay since start-up is over: the lower master is now discarded.
    hear_priority(&mut inst, at(10.0), PEER_HIGH, 100);
    assert_eq!(inst.poll_timeout(), Some(at(9.0) + mdi));
    inst.handle(at(9.0) + mdi, Event::Timer);
    assert_eq!(inst.state(), State::Master);
}

#[test]
fn backup_v2_interval_mismatch_is_dropped() {
    let mut inst = Instance::new(params(Version::V2), Health::up(100));
    inst.handle(at(0.0), Event::Startup);
    let due = inst.poll_timeout();
    let mut adv = advert(200, Centis(200));
    adv.version = Version::V2;
    let actions = hear(&mut inst, at(1.0), PEER_HIGH, &adv);
    assert_eq!(
        actions,
        vec![Action::Report(Report::Dropped {
            from: ip(PEER_HIGH),
            reason: DropReason::IntervalMismatch
        })]
    );
    assert_eq!(inst.poll_timeout(), due);
}

#[test]
fn backup_v2_keeps_its_own_interval_when_a_master_is_heard() {
    let mut inst = Instance::new(params(Version::V2), Health::up(100));
    inst.handle(at(0.0), Event::Startup);
    let mut adv = advert(200, Centis::ONE_SECOND);
    adv.version = Version::V2;
    assert!(hear(&mut inst, at(1.0), PEER_HIGH, &adv).is_empty());
    assert_eq!(inst.poll_timeout(), Some(at(1.0) + secs(3.609375)));
}

// ---- 6.4.3 Master ------------------------------------------------------------

#[test]
fn master_shutdown_sends_priority_zero_and_removes_vips() {
    let (mut inst, t) = master(100);
    let actions = inst.handle(t + secs(0.5), Event::Shutdown);
    assert_eq!(
        actions[0],
        Action::SendAdvert(advert(0, Centis::ONE_SECOND))
    );
    assert_eq!(actions[1], Action::RemoveVips);
    assert_eq!(inst.state(), State::Stopped);
    assert_eq!(inst.poll_timeout(), None, "Adver_Timer cancelled");
}

#[test]
fn master_adver_timer_fires_sends_advert_and_rearms() {
    let (mut inst, t) = master(100);
    let due = inst.poll_timeout().unwrap();
    assert_eq!(due, t + secs(1.0));
    let actions = inst.handle(due, Event::Timer);
    assert_eq!(
        actions,
        vec![Action::SendAdvert(advert(100, Centis::ONE_SECOND))]
    );
    assert_eq!(inst.poll_timeout(), Some(due + secs(1.0)));
}

#[test]
fn master_priority_zero_received_sends_advert_and_resets_adver_timer() {
    let (mut inst, t) = master(100);
    let now = t + secs(0.3);
    let actions = hear_priority(&mut inst, now, PEER_HIGH, 0);
    assert_eq!(
        actions,
        vec![Action::SendAdvert(advert(100, Centis::ONE_SECOND))]
    );
    assert_eq!(inst.poll_timeout(), Some(now + secs(1.0)));
    assert_eq!(inst.state(), State::Master);
}

#[test]
fn master_higher_priority_steps_down_and_learns_interval() {
    let (mut inst, t) = master(100);
    let now = t + secs(0.3);
    let actions = hear(&mut inst, now, PEER_LOW, &advert(101, Centis(50)));
    assert_eq!(actions[0], Action::RemoveVips);
    assert_eq!(
        transitions(&actions)[0].reason,
        Reason::HigherPriority {
            from: ip(PEER_LOW),
            priority: 101
        }
    );
    assert_eq!(inst.state(), State::Backup);
    assert_eq!(inst.master_adver_interval(), Centis(50));
    // 3 * 0.5 s + 156 * 0.5 s / 256 = 1.8046875 s.
    assert_eq!(inst.poll_timeout(), Some(now + secs(1.8046875)));
}

#[test]
fn master_equal_priority_from_higher_address_steps_down() {
    let (mut inst, t) = master(100);
    let actions = hear_priority(&mut inst, t, PEER_HIGH, 100);
    assert_eq!(inst.state(), State::Backup);
    assert_eq!(
        transitions(&actions)[0].reason,
        Reason::HigherAddress {
            from: ip(PEER_HIGH),
            priority: 100
        }
    );
}

#[test]
fn master_equal_priority_from_lower_address_keeps_the_role_and_answers() {
    let (mut inst, t) = master(100);
    let actions = hear_priority(&mut inst, t, PEER_LOW, 100);
    assert_eq!(inst.state(), State::Master);
    assert_eq!(sent_priorities(&actions), vec![100]);
}

#[test]
fn master_lower_priority_is_reported_and_answered_with_advert_and_announcement() {
    let (mut inst, t) = master(150);
    let actions = hear_priority(&mut inst, t, PEER_HIGH, 100);
    assert_eq!(inst.state(), State::Master);
    assert_eq!(actions, answer_to_lower_master(100, 150));
}

// ---- Fault, the stopped state, and restarting ------------------------------

#[test]
fn master_entering_fault_resigns_and_removes_vips_then_recovers_to_backup() {
    let (mut inst, t) = master(100);
    let sick = link_down();
    let actions = inst.handle(t, Event::Health(&sick));
    assert_eq!(sent_priorities(&actions), vec![0]);
    assert!(actions.contains(&Action::RemoveVips));
    assert_eq!(inst.state(), State::Fault);
    assert_eq!(inst.poll_timeout(), None);
    assert_eq!(
        transitions(&actions)[0].reason,
        Reason::Fault(vipd_core::protocol::Fault::InterfaceDown {
            interface: "eth0".into()
        })
    );
    // Adverts are ignored while in Fault.
    assert!(hear_priority(&mut inst, t + secs(1.0), PEER_LOW, 50).is_empty());
    assert_eq!(inst.state(), State::Fault);

    let actions = inst.handle(t + secs(2.0), Event::Health(&Health::up(100)));
    assert_eq!(inst.state(), State::Backup);
    assert_eq!(transitions(&actions)[0].reason, Reason::FaultCleared);
    assert_eq!(inst.poll_timeout(), Some(t + secs(2.0) + secs(3.609375)));
}

#[test]
fn stopped_instance_can_start_again() {
    let (mut inst, t) = master(100);
    inst.handle(t, Event::Shutdown);
    inst.handle(t + secs(1.0), Event::Startup);
    assert_eq!(inst.state(), State::Backup);
}

#[test]
fn priority_change_is_advertised_by_the_master() {
    let (mut inst, t) = master(150);
    inst.handle(t, Event::Health(&Health::up(120)));
    let actions = inst.handle(inst.poll_timeout().unwrap(), Event::Timer);
    assert_eq!(sent_priorities(&actions), vec![120]);
}

// ---- Receive validation (RFC 9568 7.1, RFC 3768 7.1) -------------------------

/// keepalived's unicast_peer: an instance with peers hears only them, and the
/// decision is the core's, so the simulator and the clause tests see it too.
#[test]
fn a_unicast_instance_drops_adverts_from_strangers() {
    let mut p = params(Version::V3);
    p.unicast_peers = vec![ip(PEER_LOW)];
    let mut inst = Instance::new(p, Health::up(100));
    inst.handle(at(0.0), Event::Startup);
    let due = inst.poll_timeout();
    let out = hear_priority(&mut inst, at(1.0), PEER_HIGH, 200);
    assert!(
        matches!(
            out.as_slice(),
            [Action::Report(Report::Dropped {
                reason: DropReason::UnknownPeer,
                ..
            })]
        ),
        "{out:?}"
    );
    assert_eq!(
        inst.poll_timeout(),
        due,
        "a stranger's advert moves no timer"
    );
    let out = hear_priority(&mut inst, at(1.0), PEER_LOW, 200);
    assert!(out.is_empty(), "a configured peer is heard: {out:?}");
    assert_ne!(inst.poll_timeout(), due);
}

#[test]
fn own_adverts_wrong_vrid_and_version_are_dropped() {
    let mut inst = instance(100);
    inst.handle(at(0.0), Event::Startup);
    let due = inst.poll_timeout();
    let dropped = |actions: Vec<Action>| match actions.as_slice() {
        [Action::Report(Report::Dropped { reason, .. })] => Some(*reason),
        _ => None,
    };
    assert_eq!(
        dropped(hear_priority(&mut inst, at(1.0), ME, 200)),
        Some(DropReason::OwnAdvert)
    );
    let mut other = advert(200, Centis::ONE_SECOND);
    other.vrid = 52;
    assert_eq!(
        dropped(hear(&mut inst, at(1.0), PEER_HIGH, &other)),
        Some(DropReason::WrongVrid)
    );
    let mut v2 = advert(200, Centis::ONE_SECOND);
    v2.version = Version::V2;
    assert_eq!(
        dropped(hear(&mut inst, at(1.0), PEER_HIGH, &v2)),
        Some(DropReason::VersionMismatch)
    );
    assert_eq!(inst.poll_timeout(), due);
}

#[test]
fn v2_password_mismatch_is_dropped() {
    let mut p = params(Version::V2);
    p.auth = Auth::simple("secret");
    let mut inst = Instance::new(p, Health::up(100));
    inst.handle(at(0.0), Event::Startup);
    let mut adv = advert(200, Centis::ONE_SECOND);
    adv.version = Version::V2;
    adv.auth = Auth::simple("other");
    let actions = hear(&mut inst, at(1.0), PEER_HIGH, &adv);
    assert_eq!(
        actions,
        vec![Action::Report(Report::Dropped {
            from: ip(PEER_HIGH),
            reason: DropReason::AuthMismatch
        })]
    );
    adv.auth = Auth::simple("secret");
    assert!(hear(&mut inst, at(1.0), PEER_HIGH, &adv).is_empty());
    assert_eq!(inst.poll_timeout(), Some(at(1.0) + secs(3.609375)));
}

#[test]
fn address_mismatch_is_dropped_unless_sent_by_the_owner() {
    let (mut inst, t) = master(100);
    let mut foreign = advert(200, Centis::ONE_SECOND);
    foreign.addresses = vec![ip("192.0.2.99")];
    let actions = hear(&mut inst, t, PEER_HIGH, &foreign);
    assert_eq!(
        actions,
        vec![Action::Report(Report::Dropped {
            from: ip(PEER_HIGH),
            reason: DropReason::AddressMismatch
        })]
    );
    assert_eq!(inst.state(), State::Master);
    foreign.priority = 255;
    hear(&mut inst, t, PEER_HIGH, &foreign);
    assert_eq!(
        inst.state(),
        State::Backup,
        "RFC 3768 7.1: the owner's advert is processed"
    );
}

#[test]
fn address_order_does_not_matter() {
    let mut p = params(Version::V3);
    p.virtual_ips = vec![ip("192.0.2.50"), ip("192.0.2.51")];
    let mut inst = Instance::new(p, Health::up(100));
    inst.handle(at(0.0), Event::Startup);
    let mut adv = advert(200, Centis::ONE_SECOND);
    adv.addresses = vec![ip("192.0.2.51"), ip("192.0.2.50")];
    assert!(hear(&mut inst, at(1.0), PEER_HIGH, &adv).is_empty());
    assert_eq!(inst.heard_master().map(|h| h.address), Some(ip(PEER_HIGH)));
}

// ---- issue 15: preempt_delay after Fault, the owner answering, new priority --

/// keepalived restarts preempt_delay when an instance leaves FAULT: a
/// recovered top node tolerates the lower master again for the whole delay.
#[test]
fn leaving_fault_restarts_the_preempt_delay() {
    let mut inst = preempt_delayed(60.0);
    let sick = Health {
        priority: 150,
        fault: Some(vipd_core::protocol::Fault::CheckFailing { check: "pg".into() }),
    };
    inst.handle(at(100.0), Event::Health(&sick));
    inst.handle(at(200.0), Event::Health(&Health::up(150)));
    assert_eq!(inst.state(), State::Backup);
    let mdi = inst.master_down_interval();
    assert_tolerated(&mut inst, 201..260, mdi);
    hear_priority(&mut inst, at(260.0), PEER_HIGH, 100);
    assert_eq!(
        inst.poll_timeout(),
        Some(at(259.0) + mdi),
        "discarded from 260 s"
    );
}

/// An address owner that is master answers a lower-priority master at once
/// (send its advert, announce), as other masters do, so a healed split brain
/// ends after one hop rather than at its next periodic advert.
#[test]
fn master_owner_answers_a_lower_priority_master_at_once() {
    let mut inst = instance(255);
    inst.handle(at(0.0), Event::Startup);
    assert_eq!(inst.state(), State::Master);
    let actions = hear_priority(&mut inst, at(0.5), PEER_HIGH, 254);
    assert_eq!(inst.state(), State::Master);
    assert_eq!(actions, answer_to_lower_master(254, 255));
    assert_eq!(inst.poll_timeout(), Some(at(1.5)), "Adver_Timer restarted");
    // Everything else is still ignored by the owner: another owner, a resignation.
    for priority in [255, 0] {
        let actions = hear_priority(&mut inst, at(0.7), PEER_HIGH, priority);
        assert_eq!(
            actions,
            vec![Action::Report(Report::Dropped {
                from: ip(PEER_HIGH),
                reason: DropReason::LocalOwner
            })],
            "priority {priority}"
        );
    }
}

/// A backup whose priority changes recomputes its Master_Down_Timer with the
/// new Skew_Time, still counted from the last advert it accepted.
#[test]
fn backup_priority_change_recomputes_master_down_timer_from_the_last_advert() {
    let mut inst = instance(100);
    inst.handle(at(0.0), Event::Startup);
    hear_priority(&mut inst, at(1.0), PEER_HIGH, 250);
    inst.handle(at(1.5), Event::Health(&Health::up(200)));
    // 3 s + (256 - 200) / 256 s after the advert at 1 s.
    assert_eq!(inst.poll_timeout(), Some(at(1.0) + secs(3.21875)));
    inst.handle(at(2.0), Event::Health(&Health::up(50)));
    assert_eq!(inst.poll_timeout(), Some(at(1.0) + secs(3.8046875)));
    // Counting from start-up when no advert was heard.
    let mut quiet = instance(100);
    quiet.handle(at(0.0), Event::Startup);
    quiet.handle(at(1.0), Event::Health(&Health::up(200)));
    assert_eq!(quiet.poll_timeout(), Some(at(3.21875)));
    // After a priority-0 advert it is Skew_Time of the new priority.
    hear_priority(&mut quiet, at(1.5), PEER_HIGH, 0);
    quiet.handle(at(1.6), Event::Health(&Health::up(100)));
    assert_eq!(quiet.poll_timeout(), Some(at(1.5) + secs(0.609375)));
}

/// 6.4.3: "Reset the Adver_Timer to Advertisement_Interval". vipd resets it
/// from the deadline, not from when the timer was handled, so lateness never
/// accumulates from one advert to the next.
#[test]
fn a_late_adver_timer_keeps_the_next_advert_on_its_grid() {
    let mut inst = instance(255);
    inst.handle(at(0.0), Event::Startup);
    assert_eq!(inst.state(), State::Master);
    assert_eq!(inst.poll_timeout(), Some(at(1.0)));
    // Handled 0.7 ms late: the advert goes now, the next one at 2 s.
    let late = at(1.0) + Duration::from_micros(700);
    let actions = inst.handle(late, Event::Timer);
    assert!(
        matches!(actions.as_slice(), [Action::SendAdvert(_)]),
        "{actions:?}"
    );
    assert_eq!(inst.poll_timeout(), Some(at(2.0)));
    // Handled 2.5 intervals late: one advert, then back on the grid at 5 s.
    let actions = inst.handle(at(4.5), Event::Timer);
    assert!(
        matches!(actions.as_slice(), [Action::SendAdvert(_)]),
        "{actions:?}"
    );
    assert_eq!(inst.poll_timeout(), Some(at(5.0)));
}

// Beyond the RFC: what vipd does that RFC 9568 neither asks nor forbids.

/// A master whose effective priority changes sends an extra advert at once;
/// its Adver_Timer stays on the grid.
#[test]
fn a_master_whose_priority_changes_advertises_at_once() {
    let mut inst = instance(150);
    inst.handle(at(0.0), Event::Startup);
    let due = inst.poll_timeout().unwrap();
    inst.handle(due, Event::Timer);
    assert_eq!(inst.state(), State::Master);
    let next = inst.poll_timeout();
    let actions = inst.handle(due + secs(0.3), Event::Health(&Health::up(90)));
    assert_eq!(
        actions,
        [Action::SendAdvert(advert(90, Centis::ONE_SECOND))]
    );
    assert_eq!(inst.poll_timeout(), next, "the grid does not move");
    // An unchanged priority sends nothing extra.
    assert!(
        inst.handle(due + secs(0.4), Event::Health(&Health::up(90)))
            .is_empty()
    );
}

/// With `fast_takeover`, a preempting backup takes over on hearing the lower
/// master instead of waiting for its Master_Down_Timer.
#[test]
fn fast_takeover_preempts_a_lower_master_at_once() {
    let mut p = params(Version::V3);
    p.fast_takeover = true;
    let mut inst = Instance::new(p, Health::up(150));
    inst.handle(at(0.0), Event::Startup);
    hear_priority(&mut inst, at(1.0), PEER_HIGH, 200);
    assert_eq!(
        inst.poll_timeout(),
        Some(at(1.0) + inst.master_down_interval()),
        "a higher master is followed as usual"
    );
    hear_priority(&mut inst, at(2.0), PEER_HIGH, 100);
    assert_eq!(inst.poll_timeout(), Some(at(2.0)), "due at once");
    let actions = inst.handle(at(2.0), Event::Timer);
    assert_preempted_lower_master(&inst, &actions);
}

/// Fast takeover still waits for `preempt_delay`, and needs preemption.
#[test]
fn fast_takeover_keeps_preempt_delay_and_preempt() {
    let mut p = params(Version::V3);
    p.fast_takeover = true;
    p.preempt_delay = secs(10.0);
    let mut inst = Instance::new(p.clone(), Health::up(150));
    inst.handle(at(0.0), Event::Startup);
    let mdi = inst.master_down_interval();
    assert_tolerated(&mut inst, 1..10, mdi);
    hear_priority(&mut inst, at(10.0), PEER_HIGH, 100);
    assert_eq!(inst.poll_timeout(), Some(at(10.0)), "the delay is over");

    p.preempt = false;
    p.preempt_delay = Duration::ZERO;
    let mut inst = Instance::new(p, Health::up(150));
    inst.handle(at(0.0), Event::Startup);
    hear_priority(&mut inst, at(2.0), PEER_HIGH, 100);
    assert_eq!(inst.poll_timeout(), Some(at(2.0) + mdi));
}

// ---- a stalled daemon (vipd's rule, not the RFC's) ---------------------------

#[test]
fn a_master_stalled_past_two_intervals_steps_aside_without_announcing() {
    let (mut inst, _) = master(150);
    let due = inst.poll_timeout().unwrap();
    // SIGSTOP, a paused VM: the advert timer is read 3.5 s late.
    let woke = due + secs(3.5);
    let actions = inst.handle(woke, Event::Timer);
    assert_eq!(inst.state(), State::Backup);
    assert_eq!(
        transitions(&actions)[0].reason,
        Reason::Stalled { late: secs(3.5) }
    );
    assert!(actions.contains(&Action::RemoveVips));
    assert!(
        !actions
            .iter()
            .any(|a| matches!(a, Action::SendAdvert(_) | Action::Announce)),
        "nothing announced on waking: {actions:?}"
    );
    // The backup that took over meanwhile (priority 100) is heard; with
    // preemption the usual rule moves the role back after
    // Master_Down_Interval, announcing it then.
    hear_priority(&mut inst, woke + secs(0.2), PEER_HIGH, 100);
    let back = inst.poll_timeout().unwrap();
    let actions = inst.handle(back, Event::Timer);
    assert_eq!(inst.state(), State::Master);
    assert!(actions.contains(&Action::Announce));
}

#[test]
fn a_master_late_by_less_than_two_intervals_carries_on() {
    let (mut inst, _) = master(150);
    let due = inst.poll_timeout().unwrap();
    let actions = inst.handle(due + secs(1.5), Event::Timer);
    assert_eq!(inst.state(), State::Master);
    assert_eq!(sent_priorities(&actions), vec![150]);
}

#[test]
fn a_stalled_address_owner_carries_on() {
    let (mut inst, _) = master(255);
    let due = inst.poll_timeout().unwrap();
    let actions = inst.handle(due + secs(10.0), Event::Timer);
    assert_eq!(inst.state(), State::Master);
    assert_eq!(sent_priorities(&actions), vec![255]);
}

#[test]
fn a_backup_whose_timer_is_read_late_listens_one_more_interval_first() {
    let mut inst = instance(100);
    inst.handle(Time::ZERO, Event::Startup);
    hear_priority(&mut inst, at(1.0), PEER_HIGH, 150);
    let due = inst.poll_timeout().unwrap();
    let woke = due + secs(5.0);
    let actions = inst.handle(woke, Event::Timer);
    assert_eq!(inst.state(), State::Backup);
    assert_eq!(
        actions,
        vec![Action::Report(Report::Stalled { late: secs(5.0) })]
    );
    // The master's advert that waited in the socket is read now: it lives.
    let heard = woke + secs(0.001);
    hear_priority(&mut inst, heard, PEER_HIGH, 150);
    assert_eq!(inst.state(), State::Backup);
    assert_eq!(
        inst.poll_timeout(),
        Some(heard + inst.master_down_interval()),
        "the live master's advert restarted the Master_Down_Timer"
    );
    // Without it, the backup takes over one interval after waking.
    let mut lone = instance(100);
    lone.handle(Time::ZERO, Event::Startup);
    let due = lone.poll_timeout().unwrap();
    lone.handle(due + secs(5.0), Event::Timer);
    let next = lone.poll_timeout().unwrap();
    assert_eq!(next, due + secs(6.0));
    lone.handle(next, Event::Timer);
    assert_eq!(lone.state(), State::Master);
}
