//! Checksum repair for the packet targets. A random mutation almost never
//! leaves a checksum valid, so without this the fuzzer would stop at the
//! checksum checks; a flag in the input says whether to repair.
#![allow(dead_code)]

use std::net::IpAddr;

/// The Internet checksum (RFC 1071) of `bytes`, an odd last byte padded
/// with zero.
pub fn internet(bytes: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    for pair in bytes.chunks(2) {
        let word = u16::from_be_bytes([pair[0], pair.get(1).copied().unwrap_or(0)]);
        sum += u32::from(word);
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// Rewrites an IPv4 header's checksum, if `packet` holds the whole header
/// its length field claims.
pub fn repair_ipv4_header(packet: &mut [u8]) {
    let Some(&first) = packet.first() else { return };
    let header_len = usize::from(first & 0x0f) * 4;
    if header_len < 20 || packet.len() < header_len {
        return;
    }
    packet[10..12].fill(0);
    let sum = internet(&packet[..header_len]);
    packet[10..12].copy_from_slice(&sum.to_be_bytes());
}

/// The pseudo-header that an upper-layer checksum covers (RFC 768 for IPv4,
/// RFC 8200 section 8.1 for IPv6), or none when the families differ.
pub fn pseudo_header(src: IpAddr, dst: IpAddr, protocol: u8, len: usize) -> Option<Vec<u8>> {
    let mut p = Vec::with_capacity(40);
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            p.extend_from_slice(&s.octets());
            p.extend_from_slice(&d.octets());
            p.extend_from_slice(&[0, protocol]);
            p.extend_from_slice(&(len as u16).to_be_bytes());
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            p.extend_from_slice(&s.octets());
            p.extend_from_slice(&d.octets());
            p.extend_from_slice(&(len as u32).to_be_bytes());
            p.extend_from_slice(&[0, 0, 0, protocol]);
        }
        _ => return None,
    }
    Some(p)
}

/// Rewrites the checksum at `offset` of an upper-layer `message`, with the
/// pseudo-header when `pseudo` is set.
pub fn repair_upper(
    message: &mut [u8],
    offset: usize,
    src: IpAddr,
    dst: IpAddr,
    pseudo: Option<u8>,
) {
    if message.len() < offset + 2 {
        return;
    }
    message[offset..offset + 2].fill(0);
    let mut covered = Vec::with_capacity(message.len() + 40);
    if let Some(protocol) = pseudo {
        match pseudo_header(src, dst, protocol, message.len()) {
            Some(p) => covered.extend_from_slice(&p),
            None => return,
        }
    }
    covered.extend_from_slice(message);
    let sum = internet(&covered);
    message[offset..offset + 2].copy_from_slice(&sum.to_be_bytes());
}

/// Rewrites a VRRP message's checksum: v3 covers a pseudo-header, v2 not.
pub fn repair_vrrp(message: &mut [u8], src: IpAddr, dst: IpAddr) {
    let Some(&first) = message.first() else {
        return;
    };
    let pseudo = (first >> 4 == 3).then_some(112);
    repair_upper(message, 6, src, dst, pseudo);
}
