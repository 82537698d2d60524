//! VRRPv3 over IPv6, both ways vipd meets it: as an IPv6 raw socket hands
//! it to the daemon (the payload alone, addresses from the socket and
//! ancillary data), and as a whole IPv6 packet (`parse_ipv6`, used by
//! `vipd watch` and the fixtures). Whatever parses must emit and parse back
//! to the same advert.
//!
//! Input: one flag byte (bit 0: whole-packet mode, bit 1: repair the VRRP
//! checksum); in socket mode then 16 bytes of source, 16 of destination and
//! the payload; in whole-packet mode the packet.
#![no_main]

use std::net::{IpAddr, Ipv6Addr};

use libfuzzer_sys::fuzz_target;
use vipd_core::wire::{self, Advert, AdvertRepr};

mod checksum;

fuzz_target!(|data: &[u8]| {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let mut bytes = rest.to_vec();
    if flags & 1 == 0 {
        if bytes.len() < 32 {
            return;
        }
        let src = address(&bytes[..16]);
        let dst = address(&bytes[16..32]);
        let payload = &mut bytes[32..];
        if flags & 2 != 0 {
            checksum::repair_vrrp(payload, src, dst);
        }
        check(payload, src, dst);
    } else {
        if flags & 2 != 0 && bytes.len() >= 40 {
            let src = address(&bytes[8..24]);
            let dst = address(&bytes[24..40]);
            let end = (40 + usize::from(u16::from_be_bytes([bytes[4], bytes[5]]))).min(bytes.len());
            checksum::repair_vrrp(&mut bytes[40..end], src, dst);
        }
        if let Ok(envelope) = wire::parse_ipv6(&bytes) {
            let _ = envelope.check_ttl();
            check(envelope.payload, envelope.src, envelope.dst);
        }
    }
});

fn address(bytes: &[u8]) -> IpAddr {
    IpAddr::V6(Ipv6Addr::from(<[u8; 16]>::try_from(bytes).unwrap()))
}

/// Parses as the receive loop does and checks the round trip.
fn check(payload: &[u8], src: IpAddr, dst: IpAddr) {
    let Ok(packet) = Advert::new_checked(payload) else {
        return;
    };
    let mut reused = AdvertRepr::blank(255);
    let into = AdvertRepr::parse_into(&packet, src, dst, &mut reused);
    let owned = AdvertRepr::parse(&packet, src, dst);
    assert_eq!(into.is_ok(), owned.is_ok(), "parse_into and parse disagree");
    if let Ok(advert) = owned {
        assert_eq!(advert, reused);
        let bytes = advert.to_bytes(src, dst).expect("a parsed advert emits");
        let again = AdvertRepr::parse(&Advert::new_checked(&bytes[..]).unwrap(), src, dst)
            .expect("an emitted advert parses");
        assert_eq!(again, advert);
    }
}
