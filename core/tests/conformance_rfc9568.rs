//! RFC 9568 (VRRPv3) requirements that no other test pinned down, found while
//! writing docs/conformance.md. Each test names the clause it checks; the
//! table in docs/conformance.md points here.

mod common;

use std::time::Duration;

use common::{at, hear, ip};

use vipd_core::protocol::{
    Action, DropReason, Event, Health, Instance, Params, Report, State, Time,
};
use vipd_core::wire::{Advert, AdvertRepr, Centis, Error, IpEnvelope, Version};

fn params(me: &str, vips: &[&str]) -> Params {
    common::params(Version::V3, me, vips)
}

fn advert(priority: u8, interval: Centis, vips: &[&str]) -> AdvertRepr {
    common::advert(Version::V3, priority, interval, vips)
}

/// An instance at `me` that became master through its Master_Down_Timer.
fn master(me: &str, priority: u8, vips: &[&str]) -> (Instance, Time) {
    let mut inst = Instance::new(params(me, vips), Health::up(priority));
    inst.handle(Time::ZERO, Event::Startup);
    let due = inst.poll_timeout().unwrap();
    inst.handle(due, Event::Timer);
    assert_eq!(inst.state(), State::Master);
    (inst, due)
}

// ---- 6.4.3: "the primary IPvX address of the sender is greater than the local
// primary IPvX address (based on an unsigned integer comparison of the IPvX
// addresses in network byte order)" --------------------------------------------

/// Pairs (lower, higher) whose textual order is the opposite of their numeric
/// order, so a string or host-byte-order comparison would get them wrong.
const V4_PAIRS: &[(&str, &str)] = &[
    ("192.0.2.9", "192.0.2.10"),
    ("192.0.2.200", "198.51.100.1"),
    ("192.0.2.255", "192.0.3.0"),
];
const V6_PAIRS: &[(&str, &str)] = &[
    ("fe80::9", "fe80::10"),
    ("fe80::ffff", "fe80::1:0"),
    ("fe80::ff:fe00:1", "fe80::100:0:0:0"),
];

#[test]
fn s6_4_3_equal_priority_tie_break_is_unsigned_network_order_ipv4_and_ipv6() {
    for &(lower, higher) in V4_PAIRS.iter().chain(V6_PAIRS) {
        let vip = if lower.contains(':') {
            "2001:db8::50"
        } else {
            "192.0.2.50"
        };
        // The lower address, as master, yields to the higher one...
        let (mut inst, t) = master(lower, 100, &[vip]);
        hear(
            &mut inst,
            t,
            higher,
            &advert(100, Centis::ONE_SECOND, &[vip]),
        );
        assert_eq!(
            inst.state(),
            State::Backup,
            "{lower} must yield to {higher}"
        );
        // ...and the higher one, as master, keeps the role.
        let (mut inst, t) = master(higher, 100, &[vip]);
        hear(
            &mut inst,
            t,
            lower,
            &advert(100, Centis::ONE_SECOND, &[vip]),
        );
        assert_eq!(
            inst.state(),
            State::Master,
            "{higher} must not yield to {lower}"
        );
    }
}

// ---- 6.4.2: Backup, ADVERTISEMENT with Preempt_Mode False ----------------------

#[test]
fn s6_4_2_backup_without_preempt_learns_a_lower_masters_interval() {
    // "If Preempt_Mode is False, or if the Priority in the ADVERTISEMENT is
    // greater than or equal to the local Priority, then: Set
    // Active_Adver_Interval to the Max Advertise Interval contained in the
    // ADVERTISEMENT, Recompute the Skew_Time, Recompute the
    // Active_Down_Interval, Set the Active_Down_Timer".
    let mut p = params("192.0.2.10", &["192.0.2.50"]);
    p.preempt = false;
    let mut inst = Instance::new(p, Health::up(200));
    inst.handle(at(0.0), Event::Startup);
    let actions = hear(
        &mut inst,
        at(1.0),
        "192.0.2.20",
        &advert(100, Centis(50), &["192.0.2.50"]),
    );
    assert!(actions.is_empty());
    assert_eq!(inst.master_adver_interval(), Centis(50));
    // 3 * 0.5 s + (256 - 200) * 0.5 s / 256 (our priority, their interval).
    assert_eq!(
        inst.poll_timeout(),
        Some(at(1.0) + Duration::from_millis(1500) + Duration::from_nanos(109_375_000))
    );
}

// ---- 6.4.1: Initialize, non-owner --------------------------------------------

#[test]
fn s6_4_1_startup_resets_the_learned_interval_to_our_own() {
    // "Set Active_Adver_Interval to Advertisement_Interval" on Startup, even
    // after an earlier run learned another master's interval.
    let mut inst = Instance::new(params("192.0.2.10", &["192.0.2.50"]), Health::up(100));
    inst.handle(at(0.0), Event::Startup);
    hear(
        &mut inst,
        at(1.0),
        "192.0.2.20",
        &advert(200, Centis(300), &["192.0.2.50"]),
    );
    assert_eq!(inst.master_adver_interval(), Centis(300));
    inst.handle(at(2.0), Event::Shutdown);
    inst.handle(at(3.0), Event::Startup);
    assert_eq!(inst.state(), State::Backup);
    assert_eq!(inst.master_adver_interval(), Centis::ONE_SECOND);
    assert_eq!(
        inst.poll_timeout(),
        Some(at(3.0) + Duration::from_micros(3_609_375))
    );
}

// ---- 6.4.3: Active, ADVERTISEMENT from a lower priority ------------------------

#[test]
fn s6_4_3_lower_priority_advert_does_not_change_the_adver_timer_interval() {
    // "Discard the ADVERTISEMENT, Send an ADVERTISEMENT immediately": the
    // answer carries our own interval and priority, whatever the other sent.
    let (mut inst, t) = master("192.0.2.10", 150, &["192.0.2.50"]);
    let actions = hear(
        &mut inst,
        t,
        "192.0.2.20",
        &advert(100, Centis(30), &["192.0.2.50"]),
    );
    let sent: Vec<_> = actions
        .iter()
        .filter_map(|a| match a {
            Action::SendAdvert(adv) => Some((adv.priority, adv.max_advert_interval)),
            _ => None,
        })
        .collect();
    assert_eq!(sent, vec![(150, Centis::ONE_SECOND)]);
    assert_eq!(inst.master_adver_interval(), Centis::ONE_SECOND);
    assert_eq!(inst.poll_timeout(), Some(t + Duration::from_secs(1)));
}

// ---- 5.2.5 / 7.1: an advertisement without addresses ---------------------------

#[test]
fn s5_2_5_count_zero_is_ignored_even_from_an_owner() {
    let (mut inst, t) = master("192.0.2.10", 100, &["192.0.2.50"]);
    let owner = advert(255, Centis::ONE_SECOND, &[]);
    hear(&mut inst, t, "192.0.2.20", &owner);
    assert_eq!(inst.state(), State::Master);
}

#[test]
fn s5_2_5_count_zero_from_a_non_owner_is_dropped() {
    let (mut inst, t) = master("192.0.2.10", 100, &["192.0.2.50"]);
    let actions = hear(
        &mut inst,
        t,
        "192.0.2.20",
        &advert(200, Centis::ONE_SECOND, &[]),
    );
    assert_eq!(
        actions,
        vec![Action::Report(Report::Dropped {
            from: ip("192.0.2.20"),
            reason: DropReason::NoAddresses
        })]
    );
    assert_eq!(inst.state(), State::Master);
}

// ---- 5.2.8 checksum: the IPv4 form vipd sends and accepts -----------------------

/// The Internet checksum of the concatenation of `parts`.
fn internet_checksum(parts: &[&[u8]]) -> u16 {
    let bytes: Vec<u8> = parts.concat();
    let mut sum: u32 = 0;
    for chunk in bytes.chunks(2) {
        let word = u16::from_be_bytes([chunk[0], *chunk.get(1).unwrap_or(&0)]);
        sum += u32::from(word);
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

#[test]
fn s5_2_8_ipv4_checksum_includes_the_pseudo_header_as_the_deployed_base_does() {
    // RFC 9568 5.2.8 reads, for IPv4, as the VRRP message alone; keepalived
    // 2.2.7 and FRR 8.4.4 include the IPv4 pseudo-header (RFC 5798's reading),
    // and so does vipd: it sends that form and accepts only that form. This
    // test pins the choice (docs/conformance.md, "Deviations").
    let src = ip("192.0.2.10");
    let dst = ip("224.0.0.18");
    let repr = advert(100, Centis::ONE_SECOND, &["192.0.2.50"]);
    let bytes = repr.to_bytes(src, dst).unwrap();
    let mut zeroed = bytes.clone();
    zeroed[6] = 0;
    zeroed[7] = 0;
    let len = u16::try_from(bytes.len()).unwrap();
    let pseudo: Vec<u8> = [
        &[192, 0, 2, 10][..],
        &[224, 0, 0, 18],
        &[0, 112],
        &len.to_be_bytes(),
    ]
    .concat();
    let with_pseudo = internet_checksum(&[&pseudo, &zeroed]);
    let message_only = internet_checksum(&[&zeroed]);
    assert_ne!(with_pseudo, message_only);
    assert_eq!(u16::from_be_bytes([bytes[6], bytes[7]]), with_pseudo);

    // The message-only form is refused as a bad checksum.
    let mut other = zeroed.clone();
    other[6..8].copy_from_slice(&message_only.to_be_bytes());
    assert_eq!(
        AdvertRepr::parse(&Advert::new_unchecked(&other[..]), src, dst),
        Err(Error::BadChecksum)
    );
}

// ---- 5.1.2.3 / 7.1: "A VRRP Router receiving a packet with the Hop Limit not
// equal to 255 MUST discard the packet" ------------------------------------------

#[test]
fn s5_1_2_3_ipv6_hop_limit_other_than_255_is_refused() {
    let src = ip("fe80::1");
    let dst = ip("ff02::12");
    let bytes = advert(100, Centis::ONE_SECOND, &["2001:db8::50"])
        .to_bytes(src, dst)
        .unwrap();
    for hop_limit in [0u8, 1, 64, 254] {
        let envelope = IpEnvelope {
            src,
            dst,
            ttl: hop_limit,
            payload: &bytes,
        };
        assert_eq!(envelope.check_ttl(), Err(Error::BadTtl(hop_limit)));
    }
    let envelope = IpEnvelope {
        src,
        dst,
        ttl: 255,
        payload: &bytes,
    };
    assert_eq!(envelope.check_ttl(), Ok(()));
    assert!(envelope.advert().is_ok());
}
