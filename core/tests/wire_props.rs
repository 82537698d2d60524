//! Property tests for the wire codec: no input makes a parser panic, and
//! every valid `Repr` survives emit -> parse unchanged.
//!
//! Case counts are set so the whole file runs in a few seconds under the
//! test profile.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use pnet_packet::ip::IpNextHeaderProtocols;
use pnet_packet::util;
use proptest::prelude::*;
use vipd_core::wire::{
    Advert, AdvertRepr, Auth, Centis, Family, GarpRepr, UnsolicitedNaRepr, Version, check_auth,
    parse_ethernet, parse_ipv4, parse_ipv6,
};

// ---------------------------------------------------------------- strategies

fn ipv4() -> impl Strategy<Value = Ipv4Addr> {
    any::<[u8; 4]>().prop_map(Ipv4Addr::from)
}

fn ipv6() -> impl Strategy<Value = Ipv6Addr> {
    any::<[u8; 16]>().prop_map(Ipv6Addr::from)
}

/// A valid advert with the source and destination it is sent between.
fn valid_advert() -> impl Strategy<Value = (AdvertRepr, IpAddr, IpAddr)> {
    let v2 = (
        any::<u8>(),
        any::<u8>(),
        1u16..=255,
        prop_oneof![Just(Auth::None), any::<[u8; 8]>().prop_map(Auth::Simple)],
        prop::collection::vec(ipv4().prop_map(IpAddr::V4), 0..12),
        ipv4(),
        ipv4(),
    )
        .prop_map(|(vrid, priority, secs, auth, addresses, src, dst)| {
            let repr = AdvertRepr {
                version: Version::V2,
                vrid,
                priority,
                max_advert_interval: Centis(secs * 100),
                auth,
                addresses,
            };
            (repr, IpAddr::V4(src), IpAddr::V4(dst))
        });
    let v3_v4 = (
        any::<u8>(),
        any::<u8>(),
        1u16..=4095,
        prop::collection::vec(ipv4().prop_map(IpAddr::V4), 0..12),
        ipv4(),
        ipv4(),
    )
        .prop_map(|(vrid, priority, centis, addresses, src, dst)| {
            (
                v3(vrid, priority, centis, addresses),
                IpAddr::V4(src),
                IpAddr::V4(dst),
            )
        });
    let v3_v6 = (
        any::<u8>(),
        any::<u8>(),
        1u16..=4095,
        prop::collection::vec(ipv6().prop_map(IpAddr::V6), 0..6),
        ipv6(),
        ipv6(),
    )
        .prop_map(|(vrid, priority, centis, addresses, src, dst)| {
            (
                v3(vrid, priority, centis, addresses),
                IpAddr::V6(src),
                IpAddr::V6(dst),
            )
        });
    prop_oneof![v2, v3_v4, v3_v6]
}

fn v3(vrid: u8, priority: u8, centis: u16, addresses: Vec<IpAddr>) -> AdvertRepr {
    AdvertRepr {
        version: Version::V3,
        vrid,
        priority,
        max_advert_interval: Centis(centis),
        auth: Auth::None,
        addresses,
    }
}

/// Source/destination pairs covering both families and the mixed (invalid) case.
fn endpoints() -> impl Strategy<Value = (IpAddr, IpAddr)> {
    prop_oneof![
        (ipv4(), ipv4()).prop_map(|(s, d)| (IpAddr::V4(s), IpAddr::V4(d))),
        (ipv6(), ipv6()).prop_map(|(s, d)| (IpAddr::V6(s), IpAddr::V6(d))),
        (ipv4(), ipv6()).prop_map(|(s, d)| (IpAddr::V4(s), IpAddr::V6(d))),
    ]
}

// ---------------------------------------------------------------- helpers

/// Every read-only thing a caller can do with untrusted bytes.
fn exercise_all_parsers(bytes: &[u8], src: IpAddr, dst: IpAddr) {
    let view = Advert::new_unchecked(bytes);
    let _ = (
        view.version(),
        view.msg_type(),
        view.vrid(),
        view.priority(),
        view.addr_count(),
    );
    let _ = (
        view.auth_type(),
        view.v2_interval_secs(),
        view.v3_interval_centis(),
    );
    let _ = (view.v3_reserved(), view.checksum(), view.auth_data());
    let _ = (
        view.address_bytes(Family::Ipv4),
        view.address_bytes(Family::Ipv6),
    );
    let _ = view.expected_len(Family::Ipv6);
    if let Ok(repr) = AdvertRepr::parse(&view, src, dst) {
        let _ = check_auth(&repr, &Auth::None);
        // Anything we accept we must be able to send back out.
        assert_eq!(repr.to_bytes(src, dst).as_deref(), Ok(bytes));
    }
    for envelope in [parse_ipv4(bytes), parse_ipv6(bytes)].into_iter().flatten() {
        let _ = (envelope.check_ttl(), envelope.advert());
    }
    if let Ok(frame) = parse_ethernet(bytes) {
        let _ = (frame.ip.check_ttl(), frame.ip.advert());
    }
    let _ = GarpRepr::parse_frame(bytes);
    let _ = UnsolicitedNaRepr::parse_frame(bytes);
}

/// Writes a correct ICMPv6 checksum into an NA frame whose IPv6 payload
/// length field is already right, so fuzzed bytes reach the option walker.
fn with_icmpv6_checksum(mut frame: Vec<u8>) -> Vec<u8> {
    let src = Ipv6Addr::from(<[u8; 16]>::try_from(&frame[22..38]).unwrap());
    let dst = Ipv6Addr::from(<[u8; 16]>::try_from(&frame[38..54]).unwrap());
    let sum = util::ipv6_checksum(
        &frame[54..],
        1,
        &[],
        &src,
        &dst,
        IpNextHeaderProtocols::Icmpv6,
    );
    frame[56..58].copy_from_slice(&sum.to_be_bytes());
    frame
}

// ---------------------------------------------------------------- properties

proptest! {
    #![proptest_config(ProptestConfig { cases: 50_000, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(
        bytes in prop::collection::vec(any::<u8>(), 0..600),
        (src, dst) in endpoints(),
    ) {
        exercise_all_parsers(&bytes, src, dst);
    }

    /// Plausible headers with random bodies get past the first checks.
    #[test]
    fn plausible_prefixes_never_panic(
        prefix in prop_oneof![
            Just(vec![0x21u8]), Just(vec![0x31]),
            Just(vec![0x45, 0, 0, 0x20]),
            Just(vec![0x60, 0, 0, 0, 0, 0x28, 112]),
            Just(vec![0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0x08, 0x06, 0, 1, 0x08, 0, 6, 4]),
            Just(vec![0x33, 0x33, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0x86, 0xdd, 0x60]),
            Just(vec![0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x08, 0x00, 0x45]),
        ],
        tail in prop::collection::vec(any::<u8>(), 0..600),
        (src, dst) in endpoints(),
    ) {
        let bytes = [prefix, tail].concat();
        exercise_all_parsers(&bytes, src, dst);
    }

    /// Random ND options behind a valid NA header and checksum.
    #[test]
    fn na_with_arbitrary_options_never_panics(
        options in prop::collection::vec(any::<u8>(), 0..200),
        declared_extra in 0usize..220,
    ) {
        let mut frame = UnsolicitedNaRepr {
            src_mac: [2, 0, 0, 0, 0, 1],
            src_ip: "fe80::1".parse().unwrap(),
            target: "2001:db8::1".parse().unwrap(),
            router: false,
        }
        .to_frame();
        frame.truncate(78); // drop our own TLLA option
        frame.extend_from_slice(&options);
        // Usually truthful, sometimes claiming more than is there.
        let declared = 24 + options.len().max(declared_extra.min(options.len() + 20));
        frame[18..20].copy_from_slice(&(declared as u16).to_be_bytes());
        let frame = with_icmpv6_checksum(frame);
        let _ = UnsolicitedNaRepr::parse_frame(&frame);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 5_000, ..ProptestConfig::default() })]

    #[test]
    fn valid_adverts_round_trip((repr, src, dst) in valid_advert()) {
        let bytes = repr.to_bytes(src, dst).unwrap();
        prop_assert_eq!(bytes.len(), repr.buffer_len());
        let view = Advert::new_checked(&bytes[..]).unwrap();
        prop_assert_eq!(AdvertRepr::parse(&view, src, dst), Ok(repr));
    }

    /// The checksum catches every single-bit error (and the earlier checks
    /// catch some first): a corrupted advert never parses.
    #[test]
    fn any_bit_flip_is_rejected((repr, src, dst) in valid_advert(), bit in any::<prop::sample::Index>()) {
        let mut bytes = repr.to_bytes(src, dst).unwrap();
        let bit = bit.index(bytes.len() * 8);
        bytes[bit / 8] ^= 1 << (bit % 8);
        let view = Advert::new_checked(&bytes[..]).unwrap();
        prop_assert!(AdvertRepr::parse(&view, src, dst).is_err());
    }

    #[test]
    fn garp_round_trips(sender_mac in any::<[u8; 6]>(), ip in ipv4(), padding in 0usize..30) {
        let repr = GarpRepr { sender_mac, ip };
        let mut frame = repr.to_frame();
        prop_assert_eq!(frame.len(), repr.frame_len());
        frame.resize(frame.len() + padding, 0);
        prop_assert_eq!(GarpRepr::parse_frame(&frame), Ok(repr));
    }

    #[test]
    fn na_round_trips(src_mac in any::<[u8; 6]>(), src_ip in ipv6(), target in ipv6(), router in any::<bool>()) {
        let repr = UnsolicitedNaRepr { src_mac, src_ip, target, router };
        let frame = repr.to_frame();
        prop_assert_eq!(frame.len(), repr.frame_len());
        prop_assert_eq!(UnsolicitedNaRepr::parse_frame(&frame), Ok(repr));
    }
}
