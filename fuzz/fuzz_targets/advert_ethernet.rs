//! A whole Ethernet frame carrying VRRP over IPv4 or IPv6 (`parse_ethernet`,
//! as `vipd watch` and the capture fixtures use it), checksums repaired on
//! request so the advert parser behind the envelope is reached.
//!
//! Input: one flag byte (bit 0: repair the IPv4 header checksum, bit 1:
//! repair the VRRP checksum), then the frame.
#![no_main]

use std::net::IpAddr;

use libfuzzer_sys::fuzz_target;
use vipd_core::wire;

mod checksum;

fuzz_target!(|data: &[u8]| {
    let Some((&flags, frame)) = data.split_first() else {
        return;
    };
    let mut frame = frame.to_vec();
    repair(&mut frame, flags);
    let Ok(envelope) = wire::parse_ethernet(&frame) else {
        return;
    };
    let _ = envelope.ip.check_ttl();
    if let Ok(advert) = envelope.ip.advert() {
        let bytes = advert
            .to_bytes(envelope.ip.src, envelope.ip.dst)
            .expect("a parsed advert emits");
        assert!(!bytes.is_empty());
    }
});

fn repair(frame: &mut [u8], flags: u8) {
    if frame.len() < 14 {
        return;
    }
    let ethertype = u16::from_be_bytes([frame[12], frame[13]]);
    let ip = &mut frame[14..];
    match ethertype {
        0x0800 if ip.len() >= 20 => {
            let header_len = usize::from(ip[0] & 0x0f) * 4;
            let total = usize::from(u16::from_be_bytes([ip[2], ip[3]])).min(ip.len());
            if flags & 2 != 0 && header_len >= 20 && total > header_len {
                let src = IpAddr::from(<[u8; 4]>::try_from(&ip[12..16]).unwrap());
                let dst = IpAddr::from(<[u8; 4]>::try_from(&ip[16..20]).unwrap());
                checksum::repair_vrrp(&mut ip[header_len..total], src, dst);
            }
            if flags & 1 != 0 {
                checksum::repair_ipv4_header(ip);
            }
        }
        0x86dd if ip.len() >= 40 && flags & 2 != 0 => {
            let src = IpAddr::from(<[u8; 16]>::try_from(&ip[8..24]).unwrap());
            let dst = IpAddr::from(<[u8; 16]>::try_from(&ip[24..40]).unwrap());
            let end = (40 + usize::from(u16::from_be_bytes([ip[4], ip[5]]))).min(ip.len());
            checksum::repair_vrrp(&mut ip[40..end], src, dst);
        }
        _ => {}
    }
}
