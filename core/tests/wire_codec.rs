//! Byte-exact codec tests against hand-built vectors laid out from the RFCs
//! (RFC 3768, RFC 9568, RFC 826/5227, RFC 4861). Checksums in the vectors
//! were computed independently of the codec, and the malformed variants
//! recompute them with this file's own checksum so each test hits exactly
//! the check it names.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use vipd_core::wire::{
    Advert, AdvertRepr, Auth, Centis, Error, Family, GarpDefect, GarpRepr, NaDefect,
    UnsolicitedNaRepr, Version, check_auth, parse_ethernet, parse_ipv4,
};

// ---------------------------------------------------------------- helpers

/// RFC 1071 Internet checksum over the concatenation of `parts`.
fn internet_checksum(parts: &[&[u8]]) -> u16 {
    let bytes: Vec<u8> = parts.concat();
    let mut sum: u32 = bytes
        .chunks(2)
        .map(|w| u32::from(w[0]) << 8 | u32::from(*w.get(1).unwrap_or(&0)))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

fn ip4(a: u8, b: u8, c: u8, d: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(a, b, c, d))
}

fn ip6(s: &str) -> IpAddr {
    IpAddr::V6(s.parse().unwrap())
}

fn pseudo_header(src: IpAddr, dst: IpAddr, protocol: u8, len: usize) -> Vec<u8> {
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => [
            &s.octets()[..],
            &d.octets(),
            &[0, protocol],
            &(len as u16).to_be_bytes(),
        ]
        .concat(),
        (IpAddr::V6(s), IpAddr::V6(d)) => [
            &s.octets()[..],
            &d.octets(),
            &(len as u32).to_be_bytes(),
            &[0, 0, 0, protocol],
        ]
        .concat(),
        _ => panic!("mixed families"),
    }
}

/// Recomputes bytes 6-7 of a VRRP message after a test has altered it.
fn fix_vrrp_checksum(msg: &mut [u8], src: IpAddr, dst: IpAddr) {
    msg[6..8].fill(0);
    let sum = if msg[0] >> 4 == 2 {
        internet_checksum(&[msg])
    } else {
        internet_checksum(&[&pseudo_header(src, dst, 112, msg.len()), msg])
    };
    msg[6..8].copy_from_slice(&sum.to_be_bytes());
}

fn parse(msg: &[u8], src: IpAddr, dst: IpAddr) -> Result<AdvertRepr, Error> {
    AdvertRepr::parse(&Advert::new_checked(msg)?, src, dst)
}

const V4_GROUP: IpAddr = IpAddr::V4(Ipv4Addr::new(224, 0, 0, 18));

// ---------------------------------------------------------------- vectors

const V2_SRC: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 2));

/// v2, VRID 51, priority 150, two addresses, simple password "secret", 1 s.
const V2_SIMPLE_AUTH: [u8; 24] = [
    0x21, 51, 150, 2, // version 2 | type 1, VRID, priority, count
    1, 1, 0x87, 0x66, // auth type 1 (simple), interval 1 s, checksum
    192, 0, 2, 10, // 192.0.2.10
    192, 0, 2, 11, // 192.0.2.11
    b's', b'e', b'c', b'r', b'e', b't', 0, 0, // password, NUL-padded
];

fn v2_simple_auth_repr() -> AdvertRepr {
    AdvertRepr {
        version: Version::V2,
        vrid: 51,
        priority: 150,
        max_advert_interval: Centis(100),
        auth: Auth::Simple(*b"secret\0\0"),
        addresses: vec![ip4(192, 0, 2, 10), ip4(192, 0, 2, 11)],
    }
}

/// v2, VRID 9, priority 0 (master resigning), no auth, 3 s.
const V2_PRIORITY_ZERO: [u8; 20] = [
    0x21, 9, 0, 1, // version 2 | type 1, VRID, priority 0, count
    0, 3, 0x1c, 0xc0, // auth type 0, interval 3 s, checksum
    192, 0, 2, 50, // 192.0.2.50
    0, 0, 0, 0, 0, 0, 0, 0, // auth data, unused
];

const V3_V4_SRC: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 3));

/// v3 over IPv4 from 192.0.2.3 to 224.0.0.18: VRID 1, priority 100, 1.00 s.
const V3_IPV4: [u8; 12] = [
    0x31, 1, 100, 1, // version 3 | type 1, VRID, priority, count
    0x00, 0x64, 0x05, 0xa2, // reserved 0 | interval 100 cs, checksum (pseudo-header)
    192, 0, 2, 100, // 192.0.2.100
];

fn v3_ipv4_repr() -> AdvertRepr {
    AdvertRepr {
        version: Version::V3,
        vrid: 1,
        priority: 100,
        max_advert_interval: Centis(100),
        auth: Auth::None,
        addresses: vec![ip4(192, 0, 2, 100)],
    }
}

/// v3 over IPv6 from fe80::2 to ff02::12: VRID 2, priority 200, 0.50 s.
const V3_IPV6: [u8; 40] = [
    0x31, 2, 200, 2, // version 3 | type 1, VRID, priority, count
    0x00, 0x32, 0xdb, 0x5d, // reserved 0 | interval 50 cs, checksum (pseudo-header)
    0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, // fe80::1
    0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0x00, // 2001:db8::100
];

fn v6_src() -> IpAddr {
    ip6("fe80::2")
}

fn v6_group() -> IpAddr {
    ip6("ff02::12")
}

fn v3_ipv6_repr() -> AdvertRepr {
    AdvertRepr {
        version: Version::V3,
        vrid: 2,
        priority: 200,
        max_advert_interval: Centis(50),
        auth: Auth::None,
        addresses: vec![ip6("fe80::1"), ip6("2001:db8::100")],
    }
}

fn assert_round_trip(bytes: &[u8], src: IpAddr, dst: IpAddr, expected: &AdvertRepr) {
    let repr = parse(bytes, src, dst).expect("valid vector must parse");
    assert_eq!(&repr, expected);
    assert_eq!(repr.buffer_len(), bytes.len());
    assert_eq!(repr.to_bytes(src, dst).unwrap(), bytes);
}

// ---------------------------------------------------------------- VRRP round trips

#[test]
fn v2_with_simple_auth_round_trips() {
    assert_round_trip(&V2_SIMPLE_AUTH, V2_SRC, V4_GROUP, &v2_simple_auth_repr());
}

#[test]
fn v2_priority_zero_round_trips() {
    let expected = AdvertRepr {
        version: Version::V2,
        vrid: 9,
        priority: 0,
        max_advert_interval: Centis::from_secs(3),
        auth: Auth::None,
        addresses: vec![ip4(192, 0, 2, 50)],
    };
    assert_round_trip(&V2_PRIORITY_ZERO, V2_SRC, V4_GROUP, &expected);
}

#[test]
fn v3_ipv4_round_trips() {
    assert_round_trip(&V3_IPV4, V3_V4_SRC, V4_GROUP, &v3_ipv4_repr());
}

#[test]
fn v3_ipv6_round_trips() {
    assert_round_trip(&V3_IPV6, v6_src(), v6_group(), &v3_ipv6_repr());
}

#[test]
fn v2_checksum_ignores_the_ip_addresses() {
    // v2 sums the VRRP message only, so a unicast peer parses the same bytes.
    let other_dst = ip4(192, 0, 2, 99);
    assert_eq!(
        parse(&V2_SIMPLE_AUTH, V2_SRC, other_dst),
        Ok(v2_simple_auth_repr())
    );
}

#[test]
fn v3_checksum_covers_the_pseudo_header() {
    let unicast_dst = ip4(192, 0, 2, 99);
    assert_eq!(
        parse(&V3_IPV4, V3_V4_SRC, unicast_dst),
        Err(Error::BadChecksum)
    );
    assert_eq!(
        parse(&V3_IPV6, ip6("fe80::3"), v6_group()),
        Err(Error::BadChecksum)
    );
    // And emitting for another destination changes only the checksum.
    let unicast = v3_ipv4_repr().to_bytes(V3_V4_SRC, unicast_dst).unwrap();
    assert_eq!(unicast[..6], V3_IPV4[..6]);
    assert_ne!(unicast[6..8], V3_IPV4[6..8]);
    assert_eq!(parse(&unicast, V3_V4_SRC, unicast_dst), Ok(v3_ipv4_repr()));
}

#[test]
fn view_accessors_read_the_rfc_fields() {
    let v2 = Advert::new_checked(&V2_SIMPLE_AUTH[..]).unwrap();
    assert_eq!(
        (v2.version(), v2.msg_type(), v2.vrid(), v2.priority()),
        (2, 1, 51, 150)
    );
    assert_eq!(
        (v2.addr_count(), v2.auth_type(), v2.v2_interval_secs()),
        (2, 1, 1)
    );
    assert_eq!(v2.checksum(), 0x8766);
    assert_eq!(
        v2.address_bytes(Family::Ipv4),
        &[192, 0, 2, 10, 192, 0, 2, 11]
    );
    assert_eq!(v2.auth_data(), b"secret\0\0");
    assert_eq!(v2.expected_len(Family::Ipv4), 24);

    let v3 = Advert::new_checked(&V3_IPV6[..]).unwrap();
    assert_eq!(
        (v3.version(), v3.v3_interval_centis(), v3.v3_reserved()),
        (3, 50, 0)
    );
    assert_eq!(v3.address_bytes(Family::Ipv6), &V3_IPV6[8..]);
    assert_eq!(v3.expected_len(Family::Ipv6), 40);
}

#[test]
fn view_setters_build_the_vector() {
    let mut buf = [0u8; 12];
    let mut p = Advert::new_unchecked(&mut buf[..]);
    p.set_version_and_type(3, 1);
    p.set_vrid(1);
    p.set_priority(100);
    p.set_addr_count(1);
    p.set_v3_interval_centis(100);
    p.address_bytes_mut(Family::Ipv4)
        .copy_from_slice(&[192, 0, 2, 100]);
    p.set_checksum(0x05a2);
    assert_eq!(buf, V3_IPV4);
}

#[test]
fn v3_reserved_bits_are_ignored_on_receive() {
    let mut msg = V3_IPV4;
    msg[4] |= 0xf0;
    fix_vrrp_checksum(&mut msg, V3_V4_SRC, V4_GROUP);
    assert_eq!(parse(&msg, V3_V4_SRC, V4_GROUP), Ok(v3_ipv4_repr()));
}

// ---------------------------------------------------------------- VRRP rejections

#[test]
fn short_buffer_is_truncated() {
    assert_eq!(
        parse(&V3_IPV4[..7], V3_V4_SRC, V4_GROUP),
        Err(Error::Truncated)
    );
    assert_eq!(parse(&[], V3_V4_SRC, V4_GROUP), Err(Error::Truncated));
}

#[test]
fn bad_version_is_rejected() {
    let mut msg = V3_IPV4;
    msg[0] = 0x41;
    assert_eq!(parse(&msg, V3_V4_SRC, V4_GROUP), Err(Error::BadVersion(4)));
    msg[0] = 0x11;
    assert_eq!(parse(&msg, V3_V4_SRC, V4_GROUP), Err(Error::BadVersion(1)));
}

#[test]
fn bad_type_is_rejected() {
    let mut msg = V3_IPV4;
    msg[0] = 0x32;
    assert_eq!(parse(&msg, V3_V4_SRC, V4_GROUP), Err(Error::BadType(2)));
}

#[test]
fn corrupted_byte_fails_the_checksum() {
    let mut msg = V2_SIMPLE_AUTH;
    msg[11] ^= 0x01; // an address bit
    assert_eq!(parse(&msg, V2_SRC, V4_GROUP), Err(Error::BadChecksum));
    let mut msg = V3_IPV6;
    msg[2] = 201; // priority
    assert_eq!(parse(&msg, v6_src(), v6_group()), Err(Error::BadChecksum));
}

#[test]
fn count_must_match_length() {
    // Count says 3 addresses, buffer holds 2.
    let mut msg = V2_SIMPLE_AUTH;
    msg[3] = 3;
    assert_eq!(
        parse(&msg, V2_SRC, V4_GROUP),
        Err(Error::AddressCountMismatch)
    );
    // Count says 1 address, buffer holds 2.
    msg[3] = 1;
    assert_eq!(
        parse(&msg, V2_SRC, V4_GROUP),
        Err(Error::AddressCountMismatch)
    );
    // Trailing garbage after a well-formed v3 message.
    let longer = [&V3_IPV4[..], &[0, 0, 0, 0]].concat();
    assert_eq!(
        parse(&longer, V3_V4_SRC, V4_GROUP),
        Err(Error::AddressCountMismatch)
    );
    // IPv6 addresses read with an IPv4 source: 40 bytes is not 8 + 2 * 4.
    assert_eq!(
        parse(&V3_IPV6, V3_V4_SRC, V4_GROUP),
        Err(Error::AddressCountMismatch)
    );
}

#[test]
fn zero_interval_is_rejected() {
    let mut v2 = V2_PRIORITY_ZERO;
    v2[5] = 0;
    fix_vrrp_checksum(&mut v2, V2_SRC, V4_GROUP);
    assert_eq!(parse(&v2, V2_SRC, V4_GROUP), Err(Error::ZeroInterval));

    let mut v3 = V3_IPV4;
    v3[4] = 0xf0; // reserved bits set, interval itself zero
    v3[5] = 0;
    fix_vrrp_checksum(&mut v3, V3_V4_SRC, V4_GROUP);
    assert_eq!(parse(&v3, V3_V4_SRC, V4_GROUP), Err(Error::ZeroInterval));
}

#[test]
fn unknown_auth_type_is_rejected() {
    let mut msg = V2_SIMPLE_AUTH;
    msg[4] = 2; // IP Authentication Header, removed from VRRPv2 in RFC 3768
    fix_vrrp_checksum(&mut msg, V2_SRC, V4_GROUP);
    assert_eq!(
        parse(&msg, V2_SRC, V4_GROUP),
        Err(Error::UnknownAuthType(2))
    );
}

#[test]
fn families_must_agree() {
    assert_eq!(
        parse(&V2_PRIORITY_ZERO, v6_src(), v6_group()),
        Err(Error::FamilyMismatch)
    );
    assert_eq!(
        parse(&V3_IPV4, V3_V4_SRC, v6_group()),
        Err(Error::FamilyMismatch)
    );
    let mut v2 = v2_simple_auth_repr();
    v2.addresses = vec![ip6("2001:db8::1")];
    assert_eq!(
        v2.to_bytes(v6_src(), v6_group()),
        Err(Error::FamilyMismatch)
    );
    let mut v3 = v3_ipv4_repr();
    v3.addresses.push(ip6("2001:db8::1"));
    assert_eq!(v3.to_bytes(V3_V4_SRC, V4_GROUP), Err(Error::FamilyMismatch));
}

#[test]
fn v2_auth_mismatch_is_detected() {
    let repr = parse(&V2_SIMPLE_AUTH, V2_SRC, V4_GROUP).unwrap();
    assert_eq!(check_auth(&repr, &Auth::simple("secret")), Ok(()));
    assert_eq!(
        check_auth(&repr, &Auth::simple("secreT")),
        Err(Error::AuthMismatch)
    );
    assert_eq!(check_auth(&repr, &Auth::None), Err(Error::AuthMismatch));
    let unauthenticated = parse(&V2_PRIORITY_ZERO, V2_SRC, V4_GROUP).unwrap();
    assert_eq!(
        check_auth(&unauthenticated, &Auth::simple("secret")),
        Err(Error::AuthMismatch)
    );
    assert_eq!(check_auth(&unauthenticated, &Auth::None), Ok(()));
}

#[test]
fn v3_ignores_configured_auth() {
    let repr = parse(&V3_IPV4, V3_V4_SRC, V4_GROUP).unwrap();
    assert_eq!(check_auth(&repr, &Auth::simple("secret")), Ok(()));
}

#[test]
fn simple_password_is_truncated_to_eight_bytes() {
    // keepalived sends only the first 8 bytes of a longer password.
    assert_eq!(Auth::simple("secret-and-more"), Auth::Simple(*b"secret-a"));
    assert_eq!(Auth::simple("secret"), Auth::Simple(*b"secret\0\0"));
}

// ---------------------------------------------------------------- VRRP emit errors

#[test]
fn v2_interval_must_be_whole_seconds_on_emit() {
    let mut repr = v2_simple_auth_repr();
    repr.max_advert_interval = Centis(150);
    assert_eq!(
        repr.to_bytes(V2_SRC, V4_GROUP),
        Err(Error::IntervalNotWholeSeconds)
    );
    repr.max_advert_interval = Centis(0);
    assert_eq!(repr.to_bytes(V2_SRC, V4_GROUP), Err(Error::ZeroInterval));
    repr.max_advert_interval = Centis::from_secs(255);
    assert_eq!(repr.to_bytes(V2_SRC, V4_GROUP).unwrap()[5], 255);
    repr.max_advert_interval = Centis(256 * 100);
    assert_eq!(
        repr.to_bytes(V2_SRC, V4_GROUP),
        Err(Error::IntervalOutOfRange)
    );
}

#[test]
fn v3_interval_must_fit_twelve_bits_on_emit() {
    let mut repr = v3_ipv4_repr();
    repr.max_advert_interval = Centis(4096);
    assert_eq!(
        repr.to_bytes(V3_V4_SRC, V4_GROUP),
        Err(Error::IntervalOutOfRange)
    );
    repr.max_advert_interval = Centis(0);
    assert_eq!(repr.to_bytes(V3_V4_SRC, V4_GROUP), Err(Error::ZeroInterval));
    repr.max_advert_interval = Centis::V3_MAX;
    let bytes = repr.to_bytes(V3_V4_SRC, V4_GROUP).unwrap();
    assert_eq!(bytes[4..6], [0x0f, 0xff]);
}

#[test]
fn emit_rejects_what_the_header_cannot_carry() {
    let mut repr = v3_ipv4_repr();
    repr.auth = Auth::simple("x");
    assert_eq!(repr.to_bytes(V3_V4_SRC, V4_GROUP), Err(Error::AuthNotInV3));
    let mut repr = v3_ipv4_repr();
    repr.addresses = (0..=255)
        .map(|i| ip4(10, 0, 0, i))
        .chain([ip4(10, 0, 1, 0)])
        .collect();
    assert_eq!(
        repr.to_bytes(V3_V4_SRC, V4_GROUP),
        Err(Error::TooManyAddresses)
    );
    let mut small = [0u8; 11];
    let r = v3_ipv4_repr().emit(
        &mut Advert::new_unchecked(&mut small[..]),
        V3_V4_SRC,
        V4_GROUP,
    );
    assert_eq!(r, Err(Error::BufferTooSmall));
}

// ---------------------------------------------------------------- IP / Ethernet envelope

/// Ethernet (VMAC 00:00:5e:00:01:01 to 01:00:5e:00:00:12) + IPv4 (TTL 255,
/// protocol 112) + V3_IPV4, zero-padded to the 60-byte Ethernet minimum.
fn v3_ipv4_frame() -> Vec<u8> {
    let eth = [
        0x01, 0x00, 0x5e, 0, 0, 0x12, 0x00, 0x00, 0x5e, 0, 1, 1, 0x08, 0x00,
    ];
    let ip = [
        0x45, 0xc0, 0x00, 0x20, // version 4, IHL 5, DSCP CS6, total length 32
        0, 0, 0, 0, // id, flags, fragment offset
        255, 112, 0x18, 0x98, // TTL, protocol VRRP, header checksum
        192, 0, 2, 3, // source
        224, 0, 0, 18, // destination
    ];
    let mut frame = [&eth[..], &ip, &V3_IPV4].concat();
    frame.resize(60, 0);
    frame
}

fn fix_ipv4_header_checksum(ip: &mut [u8]) {
    ip[10..12].fill(0);
    let sum = internet_checksum(&[&ip[..20]]);
    ip[10..12].copy_from_slice(&sum.to_be_bytes());
}

#[test]
fn ipv4_envelope_yields_addresses_ttl_and_payload() {
    let frame = v3_ipv4_frame();
    let env = parse_ipv4(&frame[14..]).unwrap();
    assert_eq!((env.src, env.dst, env.ttl), (V3_V4_SRC, V4_GROUP, 255));
    assert_eq!(
        env.payload, &V3_IPV4,
        "padding must be trimmed by total length"
    );
    assert_eq!(env.check_ttl(), Ok(()));
    assert_eq!(env.advert(), Ok(v3_ipv4_repr()));
}

#[test]
fn ipv4_envelope_rejections() {
    let frame = v3_ipv4_frame();
    let ip = &frame[14..46];
    assert_eq!(parse_ipv4(&ip[..19]), Err(Error::Truncated));
    assert_eq!(
        parse_ipv4(&ip[..31]),
        Err(Error::Truncated),
        "total length beyond buffer"
    );

    let mut udp = ip.to_vec();
    udp[9] = 17;
    fix_ipv4_header_checksum(&mut udp);
    assert_eq!(parse_ipv4(&udp), Err(Error::NotVrrp(17)));

    let mut routed = ip.to_vec();
    routed[8] = 254;
    fix_ipv4_header_checksum(&mut routed);
    assert_eq!(
        parse_ipv4(&routed).unwrap().check_ttl(),
        Err(Error::BadTtl(254))
    );

    let mut garbled = ip.to_vec();
    garbled[0] = 0x43; // IHL 3 words: shorter than the fixed header
    fix_ipv4_header_checksum(&mut garbled);
    assert_eq!(parse_ipv4(&garbled), Err(Error::BadIpHeader));

    let mut v6_nibble = ip.to_vec();
    v6_nibble[0] = 0x65;
    fix_ipv4_header_checksum(&mut v6_nibble);
    assert_eq!(parse_ipv4(&v6_nibble), Err(Error::BadIpHeader));

    let mut fragment = ip.to_vec();
    fragment[6] = 0x20; // More Fragments
    fix_ipv4_header_checksum(&mut fragment);
    assert_eq!(parse_ipv4(&fragment), Err(Error::BadIpHeader));

    let mut corrupt = ip.to_vec();
    corrupt[15] ^= 1;
    assert_eq!(parse_ipv4(&corrupt), Err(Error::BadIpChecksum));
}

#[test]
fn ethernet_ipv4_frame_unwraps() {
    let frame = v3_ipv4_frame();
    let env = parse_ethernet(&frame).unwrap();
    assert_eq!(env.src_mac, [0x00, 0x00, 0x5e, 0, 1, 1]);
    assert_eq!(env.dst_mac, [0x01, 0x00, 0x5e, 0, 0, 0x12]);
    assert_eq!(env.ip.payload, &V3_IPV4);
    assert_eq!(env.ip.advert(), Ok(v3_ipv4_repr()));
}

#[test]
fn ethernet_ipv6_frame_unwraps() {
    let eth = [
        0x33, 0x33, 0, 0, 0, 0x12, 0x00, 0x00, 0x5e, 0, 2, 2, 0x86, 0xdd,
    ];
    let ip = [
        &[0x60, 0, 0, 0, 0x00, 0x28, 112, 255][..], // version 6, payload 40, next header VRRP, hop limit
        &[0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2], // fe80::2
        &[0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x12], // ff02::12
    ]
    .concat();
    let frame = [&eth[..], &ip, &V3_IPV6].concat();
    let env = parse_ethernet(&frame).unwrap();
    assert_eq!(
        (env.ip.src, env.ip.dst, env.ip.ttl),
        (v6_src(), v6_group(), 255)
    );
    assert_eq!(env.ip.advert(), Ok(v3_ipv6_repr()));

    assert_eq!(
        parse_ethernet(&frame[..frame.len() - 1]),
        Err(Error::Truncated)
    );
    let mut not_vrrp = frame.clone();
    not_vrrp[14 + 6] = 58;
    assert_eq!(parse_ethernet(&not_vrrp), Err(Error::NotVrrp(58)));
}

#[test]
fn ethernet_rejects_other_ethertypes() {
    assert_eq!(
        parse_ethernet(&garp_frame()),
        Err(Error::UnexpectedEtherType(0x0806))
    );
    assert_eq!(parse_ethernet(&[0u8; 13]), Err(Error::Truncated));
}

// ---------------------------------------------------------------- gratuitous ARP

const OUR_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0xaa];

fn garp_frame() -> Vec<u8> {
    [
        &[0xff; 6][..],                  // Ethernet destination: broadcast
        &OUR_MAC,                        // Ethernet source
        &[0x08, 0x06],                   // EtherType ARP
        &[0, 1, 0x08, 0x00, 6, 4, 0, 1], // Ethernet/IPv4, lengths 6/4, op 1 (request)
        &OUR_MAC,                        // sender hardware address
        &[192, 0, 2, 100],               // sender protocol address: the VIP
        &[0; 6],                         // target hardware address: unknown
        &[192, 0, 2, 100],               // target protocol address: the VIP again
    ]
    .concat()
}

fn garp_repr() -> GarpRepr {
    GarpRepr {
        sender_mac: OUR_MAC,
        ip: Ipv4Addr::new(192, 0, 2, 100),
    }
}

#[test]
fn garp_round_trips() {
    let frame = garp_frame();
    assert_eq!(GarpRepr::parse_frame(&frame), Ok(garp_repr()));
    assert_eq!(garp_repr().to_frame(), frame);
    assert_eq!(garp_repr().frame_len(), 42);
}

#[test]
fn garp_with_ethernet_padding_parses() {
    let mut frame = garp_frame();
    frame.resize(60, 0);
    assert_eq!(GarpRepr::parse_frame(&frame), Ok(garp_repr()));
}

#[test]
fn garp_target_mac_is_ignored() {
    // RFC 5227 says receivers ignore it; keepalived sends ff:ff:ff:ff:ff:ff.
    let mut broadcast_target = garp_frame();
    broadcast_target[32..38].copy_from_slice(&[0xff; 6]);
    assert_eq!(GarpRepr::parse_frame(&broadcast_target), Ok(garp_repr()));
    assert_eq!(garp_repr().to_frame()[32..38], [0; 6], "we send zeroes");
}

#[test]
fn garp_rejections() {
    let parse = |f: &[u8]| GarpRepr::parse_frame(f);
    let frame = garp_frame();
    assert_eq!(parse(&frame[..41]), Err(Error::Truncated));

    let mut reply = frame.clone();
    reply[21] = 2;
    assert_eq!(
        parse(&reply),
        Err(Error::NotGratuitous(GarpDefect::NotRequest))
    );

    let mut who_has = frame.clone();
    who_has[41] = 1; // asks for 192.0.2.1: an ordinary request
    assert_eq!(
        parse(&who_has),
        Err(Error::NotGratuitous(GarpDefect::SenderNotTarget))
    );

    let mut unicast = frame.clone();
    unicast[..6].copy_from_slice(&[0x02, 0, 0, 0, 0, 0xbb]);
    assert_eq!(
        parse(&unicast),
        Err(Error::NotGratuitous(GarpDefect::NotBroadcast))
    );

    let mut spoofed = frame.clone();
    spoofed[11] = 0xbb;
    assert_eq!(
        parse(&spoofed),
        Err(Error::NotGratuitous(GarpDefect::SourceMacMismatch))
    );

    let mut ipv6_proto = frame.clone();
    ipv6_proto[16..18].copy_from_slice(&[0x86, 0xdd]);
    assert_eq!(
        parse(&ipv6_proto),
        Err(Error::NotGratuitous(GarpDefect::NotEthernetIpv4))
    );

    let mut ipv4 = frame.clone();
    ipv4[12..14].copy_from_slice(&[0x08, 0x00]);
    assert_eq!(parse(&ipv4), Err(Error::UnexpectedEtherType(0x0800)));
}

#[test]
fn garp_emit_needs_room() {
    assert_eq!(
        garp_repr().emit_frame(&mut [0u8; 41]),
        Err(Error::BufferTooSmall)
    );
    let mut big = [0x55u8; 64];
    garp_repr().emit_frame(&mut big).unwrap();
    assert_eq!(big[..42], garp_frame()[..]);
    assert_eq!(big[42..], [0x55; 22], "bytes past the frame are untouched");
}

// ---------------------------------------------------------------- unsolicited NA

const NA_TARGET: &str = "2001:db8::100";

/// Ethernet to 33:33:00:00:00:01 + IPv6 fe80::aa -> ff02::1, hop limit 255 +
/// NA (Override, optionally Router) for 2001:db8::100 with a TLLA option.
fn na_frame() -> Vec<u8> {
    [
        &[0x33, 0x33, 0, 0, 0, 1][..], // Ethernet destination: all-nodes
        &OUR_MAC,
        &[0x86, 0xdd],
        &[0x60, 0, 0, 0, 0x00, 0x20, 58, 255], // payload 32, ICMPv6, hop limit 255
        &[0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xaa], // fe80::aa
        &[0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1], // ff02::1
        &[136, 0, 0xa6, 0x11],                 // type NA, code 0, checksum
        &[0xa0, 0, 0, 0],                      // Router | Override, Solicited clear
        &[
            0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0x00,
        ], // target
        &[2, 1],                               // option: Target Link-Layer Address, 1 x 8 bytes
        &OUR_MAC,
    ]
    .concat()
}

fn na_repr() -> UnsolicitedNaRepr {
    UnsolicitedNaRepr {
        src_mac: OUR_MAC,
        src_ip: "fe80::aa".parse().unwrap(),
        target: NA_TARGET.parse().unwrap(),
        router: true,
    }
}

/// Recomputes the ICMPv6 checksum of an NA frame after a test altered it.
fn fix_icmpv6_checksum(frame: &mut [u8]) {
    let payload_len = usize::from(u16::from_be_bytes([frame[18], frame[19]]));
    let src = IpAddr::V6(Ipv6Addr::from(
        <[u8; 16]>::try_from(&frame[22..38]).unwrap(),
    ));
    let dst = IpAddr::V6(Ipv6Addr::from(
        <[u8; 16]>::try_from(&frame[38..54]).unwrap(),
    ));
    let icmp = &mut frame[54..54 + payload_len];
    icmp[2..4].fill(0);
    let sum = internet_checksum(&[&pseudo_header(src, dst, 58, icmp.len()), icmp]);
    icmp[2..4].copy_from_slice(&sum.to_be_bytes());
}

#[test]
fn na_round_trips() {
    let frame = na_frame();
    assert_eq!(UnsolicitedNaRepr::parse_frame(&frame), Ok(na_repr()));
    assert_eq!(na_repr().to_frame(), frame);
    assert_eq!(na_repr().frame_len(), 86);
}

#[test]
fn na_without_router_flag_round_trips() {
    let repr = UnsolicitedNaRepr {
        router: false,
        ..na_repr()
    };
    let mut expected = na_frame();
    expected[58] = 0x20; // Override only
    fix_icmpv6_checksum(&mut expected);
    assert_eq!(repr.to_frame(), expected);
    assert_eq!(UnsolicitedNaRepr::parse_frame(&expected), Ok(repr));
}

#[test]
fn na_skips_unknown_options() {
    let mut frame = na_frame();
    frame[19] += 8; // payload length
    frame.extend_from_slice(&[14, 1, 1, 2, 3, 4, 5, 6]); // a Nonce option
    fix_icmpv6_checksum(&mut frame);
    assert_eq!(UnsolicitedNaRepr::parse_frame(&frame), Ok(na_repr()));
}

#[test]
fn na_rejections() {
    let parse = |f: &[u8]| UnsolicitedNaRepr::parse_frame(f);
    let frame = na_frame();
    assert_eq!(parse(&frame[..85]), Err(Error::Truncated));

    let mut forwarded = frame.clone();
    forwarded[21] = 254; // hop limit is not in the pseudo-header
    assert_eq!(parse(&forwarded), Err(Error::BadTtl(254)));

    let mut corrupt = frame.clone();
    corrupt[77] ^= 1; // last target byte
    assert_eq!(parse(&corrupt), Err(Error::BadChecksum));

    let mut solicited = frame.clone();
    solicited[58] = 0xe0;
    fix_icmpv6_checksum(&mut solicited);
    assert_eq!(
        parse(&solicited),
        Err(Error::NotUnsolicitedNa(NaDefect::Solicited))
    );

    let mut no_override = frame.clone();
    no_override[58] = 0x80;
    fix_icmpv6_checksum(&mut no_override);
    assert_eq!(
        parse(&no_override),
        Err(Error::NotUnsolicitedNa(NaDefect::NoOverride))
    );

    let mut no_option = frame[..78].to_vec();
    no_option[19] = 24;
    fix_icmpv6_checksum(&mut no_option);
    assert_eq!(parse(&no_option), Err(Error::MissingLinkLayerOption));

    let mut zero_len_option = frame.clone();
    zero_len_option[79] = 0;
    fix_icmpv6_checksum(&mut zero_len_option);
    assert_eq!(parse(&zero_len_option), Err(Error::BadNdOption));

    let mut overlong_option = frame.clone();
    overlong_option[79] = 40; // 320 bytes: also overflowed pnet's option walker
    fix_icmpv6_checksum(&mut overlong_option);
    assert_eq!(parse(&overlong_option), Err(Error::BadNdOption));

    let mut other_mac = frame.clone();
    other_mac[85] = 0xbb;
    fix_icmpv6_checksum(&mut other_mac);
    assert_eq!(
        parse(&other_mac),
        Err(Error::NotUnsolicitedNa(NaDefect::LinkLayerMismatch))
    );

    let mut unicast = frame.clone();
    unicast[53] = 2; // ff02::2, all-routers
    fix_icmpv6_checksum(&mut unicast);
    assert_eq!(
        parse(&unicast),
        Err(Error::NotUnsolicitedNa(NaDefect::NotAllNodes))
    );

    let mut solicitation = frame.clone();
    solicitation[54] = 135;
    fix_icmpv6_checksum(&mut solicitation);
    assert_eq!(
        parse(&solicitation),
        Err(Error::NotUnsolicitedNa(NaDefect::NotNeighborAdvert))
    );

    let mut udp = frame.clone();
    udp[20] = 17;
    assert_eq!(
        parse(&udp),
        Err(Error::NotUnsolicitedNa(NaDefect::NotIcmpv6))
    );
}

#[test]
fn parse_into_reuses_one_repr_for_every_advert() {
    let mut repr = v3_ipv6_repr();
    let capacity = repr.addresses.capacity();
    let v4 = Advert::new_checked(&V3_IPV4[..]).unwrap();
    AdvertRepr::parse_into(&v4, V3_V4_SRC, V4_GROUP, &mut repr).unwrap();
    assert_eq!(repr, v3_ipv4_repr());
    assert_eq!(repr.addresses.capacity(), capacity, "no new allocation");
    let v6 = Advert::new_checked(&V3_IPV6[..]).unwrap();
    AdvertRepr::parse_into(&v6, v6_src(), v6_group(), &mut repr).unwrap();
    assert_eq!(repr, v3_ipv6_repr());
}
