//! RFC 3768 (VRRPv2) requirements that no other test pinned down, found while
//! writing docs/conformance.md. Each test names the clause it checks; the
//! table in docs/conformance.md points here.

mod common;

use std::time::Duration;

use common::{at, ip};

use vipd_core::protocol::{
    Action, DropReason, Event, Health, Instance, Params, Report, State, Time,
};
use vipd_core::wire::{AUTH_DATA_LEN, Advert, AdvertRepr, Auth, Centis, Version};

const ME: &str = "192.0.2.10";
const PEER: &str = "192.0.2.20";
const VIP: &str = "192.0.2.50";
const GROUP: &str = "224.0.0.18";

fn params(interval: Centis, auth: Auth) -> Params {
    Params {
        advert_interval: interval,
        auth,
        ..common::params(Version::V2, ME, &[VIP])
    }
}

fn v2(priority: u8, interval: Centis, auth: Auth) -> AdvertRepr {
    AdvertRepr {
        auth,
        ..common::advert(Version::V2, priority, interval, &[VIP])
    }
}

/// `inst` receives `adv` from PEER at `now`.
fn hear(inst: &mut Instance, now: Time, adv: &AdvertRepr) -> Vec<Action> {
    common::hear(inst, now, PEER, adv)
}

fn dropped(reason: DropReason) -> Vec<Action> {
    vec![Action::Report(Report::Dropped {
        from: ip(PEER),
        reason,
    })]
}

fn parse(bytes: &[u8]) -> AdvertRepr {
    AdvertRepr::parse(&Advert::new_unchecked(bytes), ip(ME), ip(GROUP)).unwrap()
}

// ---- 5.3.10 Authentication Data: "SHOULD be set to zero on transmission and
// ignored on reception" (no authentication configured) --------------------------

#[test]
fn s5_3_10_auth_data_is_zero_on_transmission_without_a_password() {
    let bytes = v2(100, Centis::ONE_SECOND, Auth::None)
        .to_bytes(ip(ME), ip(GROUP))
        .unwrap();
    assert_eq!(bytes[4], 0, "Auth Type 0");
    assert_eq!(&bytes[bytes.len() - AUTH_DATA_LEN..], &[0u8; AUTH_DATA_LEN]);
}

#[test]
fn s5_3_10_auth_data_is_ignored_on_reception_with_auth_type_zero() {
    let mut bytes = v2(100, Centis::ONE_SECOND, Auth::None)
        .to_bytes(ip(ME), ip(GROUP))
        .unwrap();
    let n = bytes.len();
    bytes[n - AUTH_DATA_LEN..].copy_from_slice(b"leftover");
    // Fix the checksum (v2: the message alone) so only the data differs.
    bytes[6] = 0;
    bytes[7] = 0;
    let mut sum: u32 = bytes
        .chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], c[1]])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    bytes[6..8].copy_from_slice(&(!(sum as u16)).to_be_bytes());
    let repr = parse(&bytes);
    assert_eq!(repr.auth, Auth::None);

    // And an instance without a password accepts it.
    let mut inst = Instance::new(params(Centis::ONE_SECOND, Auth::None), Health::up(100));
    inst.handle(at(0.0), Event::Startup);
    assert!(hear(&mut inst, at(1.0), &repr).is_empty());
}

// ---- 5.3.6 Auth Type: "A packet with unknown authentication type or that does
// not match the locally configured authentication method MUST be discarded" -----

#[test]
fn s5_3_6_auth_type_must_match_the_local_method_both_ways() {
    // Password configured, advert without authentication.
    let mut inst = Instance::new(
        params(Centis::ONE_SECOND, Auth::simple("s3cret")),
        Health::up(100),
    );
    inst.handle(at(0.0), Event::Startup);
    let due = inst.poll_timeout();
    let none = v2(200, Centis::ONE_SECOND, Auth::None);
    assert_eq!(
        hear(&mut inst, at(1.0), &none),
        dropped(DropReason::AuthMismatch)
    );
    assert_eq!(inst.poll_timeout(), due);

    // No password configured, advert with one.
    let mut inst = Instance::new(params(Centis::ONE_SECOND, Auth::None), Health::up(100));
    inst.handle(at(0.0), Event::Startup);
    let due = inst.poll_timeout();
    let simple = v2(200, Centis::ONE_SECOND, Auth::simple("s3cret"));
    assert_eq!(
        hear(&mut inst, at(1.0), &simple),
        dropped(DropReason::AuthMismatch)
    );
    assert_eq!(inst.poll_timeout(), due);
}

// ---- 7.1: "MUST verify that the Adver Interval in the packet is the same as
// the locally configured for this virtual router" (as master too) ---------------

#[test]
fn s7_1_interval_mismatch_is_discarded_by_a_master_too() {
    let mut inst = Instance::new(params(Centis::ONE_SECOND, Auth::None), Health::up(100));
    inst.handle(at(0.0), Event::Startup);
    let due = inst.poll_timeout().unwrap();
    inst.handle(due, Event::Timer);
    assert_eq!(inst.state(), State::Master);
    let higher = v2(200, Centis::from_secs(2), Auth::None);
    assert_eq!(
        hear(&mut inst, due, &higher),
        dropped(DropReason::IntervalMismatch)
    );
    assert_eq!(
        inst.state(),
        State::Master,
        "a mismatched advert must not make it step down"
    );
}

// ---- 6.1 Skew_Time: "((256 - Priority) / 256)" seconds; Master_Down_Interval:
// "(3 * Advertisement_Interval) + Skew_time" -------------------------------------

#[test]
fn s6_1_master_down_interval_with_one_second_adverts() {
    let mut inst = Instance::new(params(Centis::ONE_SECOND, Auth::None), Health::up(100));
    inst.handle(at(0.0), Event::Startup);
    // 3 s + (256 - 100) / 256 s.
    assert_eq!(inst.poll_timeout(), Some(at(3.609375)));
}

#[test]
fn s6_1_skew_time_does_not_scale_with_the_v2_interval() {
    let mut inst = Instance::new(params(Centis::from_secs(2), Auth::None), Health::up(100));
    inst.handle(at(0.0), Event::Startup);
    // 3 * 2 s + (256 - 100) / 256 s = 6.609375 s (vipd: 6 s + 1.21875 s).
    assert_eq!(inst.poll_timeout(), Some(at(6.609375)));
}

// ---- 7.1: "MUST verify that the VRID is configured on the receiving interface
// and the local router is not the IP Address owner (Priority equals 255)" --------

#[test]
fn s7_1_the_address_owner_discards_adverts() {
    let mut inst = Instance::new(params(Centis::ONE_SECOND, Auth::None), Health::up(255));
    inst.handle(at(0.0), Event::Startup);
    assert_eq!(inst.state(), State::Master);
    // Another router claiming ownership, from a higher address.
    hear(&mut inst, at(0.5), &v2(255, Centis::ONE_SECOND, Auth::None));
    assert_eq!(inst.state(), State::Master);
}

// ---- 6.4.2: Backup, Priority 0: "Set the Master_Down_Timer to Skew_Time" --------

#[test]
fn s6_4_2_priority_zero_sets_skew_time_in_v2() {
    let mut inst = Instance::new(params(Centis::ONE_SECOND, Auth::None), Health::up(100));
    inst.handle(at(0.0), Event::Startup);
    hear(&mut inst, at(1.0), &v2(200, Centis::ONE_SECOND, Auth::None));
    hear(&mut inst, at(1.5), &v2(0, Centis::ONE_SECOND, Auth::None));
    assert_eq!(inst.poll_timeout(), Some(at(1.5 + 0.609375)));
    inst.handle(at(1.5 + 0.609375), Event::Timer);
    assert_eq!(inst.state(), State::Master);
}

// ---- 6.4.3: Master, Shutdown: "Send an ADVERTISEMENT with Priority = 0" (v2
// keeps the configured password and interval) ------------------------------------

#[test]
fn s6_4_3_v2_shutdown_advert_keeps_auth_and_interval() {
    let auth = Auth::simple("s3cret");
    let mut inst = Instance::new(params(Centis::from_secs(2), auth), Health::up(100));
    inst.handle(at(0.0), Event::Startup);
    let due = inst.poll_timeout().unwrap();
    inst.handle(due, Event::Timer);
    let actions = inst.handle(due + Duration::from_millis(100), Event::Shutdown);
    assert_eq!(
        actions.first(),
        Some(&Action::SendAdvert(v2(0, Centis::from_secs(2), auth)))
    );
}
