//! A datagram as an IPv4 raw VRRP socket hands it to the daemon (IP header
//! included): the envelope, the TTL check, then the v2 or v3 advert, parsed
//! into a reused buffer as the receive loop does. Whatever parses must emit
//! and parse back to the same advert.
//!
//! Input: one flag byte (bit 0: repair the IPv4 header checksum, bit 1:
//! repair the VRRP checksum), then the datagram.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vipd_core::wire::{self, Advert, AdvertRepr};

mod checksum;

fuzz_target!(|data: &[u8]| {
    let Some((&flags, packet)) = data.split_first() else {
        return;
    };
    let mut packet = packet.to_vec();
    if flags & 2 != 0 {
        repair_payload(&mut packet);
    }
    if flags & 1 != 0 {
        checksum::repair_ipv4_header(&mut packet);
    }
    let Ok(envelope) = wire::parse_ipv4(&packet) else {
        return;
    };
    let _ = envelope.check_ttl();
    let mut reused = AdvertRepr::blank(255);
    let into = envelope.advert_into(&mut reused);
    let owned = envelope.advert();
    assert_eq!(into.is_ok(), owned.is_ok(), "parse_into and parse disagree");
    if let Ok(advert) = owned {
        assert_eq!(advert, reused);
        let bytes = advert
            .to_bytes(envelope.src, envelope.dst)
            .expect("a parsed advert emits");
        let again = AdvertRepr::parse(
            &Advert::new_checked(&bytes[..]).unwrap(),
            envelope.src,
            envelope.dst,
        )
        .expect("an emitted advert parses");
        assert_eq!(again, advert);
    }
});

/// Repairs the VRRP checksum of the payload the IPv4 header points at.
fn repair_payload(packet: &mut [u8]) {
    if packet.len() < 20 {
        return;
    }
    let header_len = usize::from(packet[0] & 0x0f) * 4;
    let total = usize::from(u16::from_be_bytes([packet[2], packet[3]])).min(packet.len());
    if header_len < 20 || total <= header_len {
        return;
    }
    let src = std::net::IpAddr::from(<[u8; 4]>::try_from(&packet[12..16]).unwrap());
    let dst = std::net::IpAddr::from(<[u8; 4]>::try_from(&packet[16..20]).unwrap());
    checksum::repair_vrrp(&mut packet[header_len..total], src, dst);
}
