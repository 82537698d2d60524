//! Unsolicited neighbour advertisements (Ethernet, IPv6, ICMPv6 with
//! options). Whatever parses as one must emit the same announcement back.
//!
//! Input: one flag byte (bit 0: repair the ICMPv6 checksum), then the frame.
#![no_main]

use std::net::IpAddr;

use libfuzzer_sys::fuzz_target;
use vipd_core::wire::UnsolicitedNaRepr;

mod checksum;

fuzz_target!(|data: &[u8]| {
    let Some((&flags, frame)) = data.split_first() else {
        return;
    };
    let mut frame = frame.to_vec();
    if flags & 1 != 0 && frame.len() >= 54 {
        let ip = &mut frame[14..];
        let src = IpAddr::from(<[u8; 16]>::try_from(&ip[8..24]).unwrap());
        let dst = IpAddr::from(<[u8; 16]>::try_from(&ip[24..40]).unwrap());
        let end = (40 + usize::from(u16::from_be_bytes([ip[4], ip[5]]))).min(ip.len());
        checksum::repair_upper(&mut ip[40..end], 2, src, dst, Some(58));
    }
    if let Ok(na) = UnsolicitedNaRepr::parse_frame(&frame) {
        let again = UnsolicitedNaRepr::parse_frame(&na.to_frame()).expect("an emitted NA parses");
        assert_eq!(again, na);
    }
});
