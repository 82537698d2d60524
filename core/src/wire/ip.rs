//! The IP (and Ethernet) envelope around a VRRP advertisement.
//!
//! A raw IPv4 socket hands us the IPv4 header plus payload; a packet socket
//! or a capture hands us whole Ethernet frames. Both are unwrapped here into
//! an [`IpEnvelope`]: the addresses and TTL that VRRP validation needs, plus
//! the VRRP message trimmed to the length the IP header declares (so
//! Ethernet padding never reaches the VRRP checksum).

use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use pnet_packet::ethernet::EtherTypes;
use pnet_packet::ip::IpNextHeaderProtocols;
use pnet_packet::ipv4::Ipv4Packet;
use pnet_packet::ipv6::Ipv6Packet;
use pnet_packet::util;

use super::vrrp::{Advert, AdvertRepr};
use super::{Error, ethernet};

/// IP protocol number of VRRP.
pub const VRRP_PROTOCOL: u8 = 112;
/// The TTL / hop limit every VRRP packet is sent with and must arrive with,
/// proving it never crossed a router.
pub const VRRP_TTL: u8 = 255;
/// The VRRP IPv4 multicast group, 224.0.0.18.
pub const VRRP_IPV4_GROUP: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 18);
/// The VRRP IPv6 multicast group, ff02::12.
pub const VRRP_IPV6_GROUP: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x12);

const IPV4_MIN_HEADER_LEN: usize = 20;
/// The fixed IPv6 header.
pub(crate) const IPV6_HEADER_LEN: usize = 40;
/// IPv4 flags/fragment-offset bits that mark a fragment (MF + offset).
const IPV4_FRAGMENT_MASK: u16 = 0x3fff;

/// An IP address family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Family {
    /// IPv4: 4-byte addresses.
    Ipv4,
    /// IPv6: 16-byte addresses.
    Ipv6,
}

impl Family {
    /// The family of `addr`.
    pub const fn of(addr: IpAddr) -> Family {
        match addr {
            IpAddr::V4(_) => Family::Ipv4,
            IpAddr::V6(_) => Family::Ipv6,
        }
    }

    /// Size of one address in bytes.
    pub const fn addr_len(self) -> usize {
        match self {
            Family::Ipv4 => 4,
            Family::Ipv6 => 16,
        }
    }

    /// Size of the IP header an advert goes out with (no IPv4 options).
    pub const fn ip_header_len(self) -> usize {
        match self {
            Family::Ipv4 => IPV4_MIN_HEADER_LEN,
            Family::Ipv6 => IPV6_HEADER_LEN,
        }
    }
}

impl core::fmt::Display for Family {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Family::Ipv4 => "IPv4",
            Family::Ipv6 => "IPv6",
        })
    }
}

/// The parts of an IP packet carrying VRRP that validation needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpEnvelope<'a> {
    /// The IP source address: the sender's primary address.
    pub src: IpAddr,
    /// The IP destination: the VRRP group or, for unicast peers, our address.
    pub dst: IpAddr,
    /// IPv4 TTL or IPv6 hop limit.
    pub ttl: u8,
    /// The VRRP message, exactly as long as the IP header says.
    pub payload: &'a [u8],
}

impl<'a> IpEnvelope<'a> {
    /// RFC 3768/9568: an advert whose TTL/hop limit is not 255 came through a
    /// router and must be dropped.
    pub fn check_ttl(&self) -> Result<(), Error> {
        if self.ttl == VRRP_TTL {
            Ok(())
        } else {
            Err(Error::BadTtl(self.ttl))
        }
    }

    /// Parses the payload as an advertisement from `src` to `dst`.
    ///
    /// Does not check the TTL: callers count that separately via
    /// [`check_ttl`](Self::check_ttl).
    pub fn advert(&self) -> Result<AdvertRepr, Error> {
        let packet = Advert::new_checked(self.payload)?;
        AdvertRepr::parse(&packet, self.src, self.dst)
    }

    /// Like [`IpEnvelope::advert`], into `repr` without allocating (see
    /// [`AdvertRepr::parse_into`]).
    pub fn advert_into(&self, repr: &mut AdvertRepr) -> Result<(), Error> {
        let packet = Advert::new_checked(self.payload)?;
        AdvertRepr::parse_into(&packet, self.src, self.dst, repr)
    }
}

/// An Ethernet frame carrying VRRP, for capture tools and fixtures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EthernetEnvelope<'a> {
    /// The Ethernet source address.
    pub src_mac: [u8; 6],
    /// The Ethernet destination address.
    pub dst_mac: [u8; 6],
    /// The IP packet inside the frame.
    pub ip: IpEnvelope<'a>,
}

/// Unwraps an IPv4 packet as delivered by a raw `IPPROTO_VRRP` socket.
///
/// Bytes past the header's total length (e.g. Ethernet padding) are ignored;
/// fragments are rejected since VRRP messages are never fragmented.
pub fn parse_ipv4(packet: &[u8]) -> Result<IpEnvelope<'_>, Error> {
    let ip = Ipv4Packet::new(packet).ok_or(Error::Truncated)?;
    if ip.get_version() != 4 {
        return Err(Error::BadIpHeader);
    }
    let header_len = usize::from(ip.get_header_length()) * 4;
    let total_len = usize::from(ip.get_total_length());
    if header_len < IPV4_MIN_HEADER_LEN || total_len < header_len {
        return Err(Error::BadIpHeader);
    }
    let header = packet.get(..header_len).ok_or(Error::Truncated)?;
    let payload = packet.get(header_len..total_len).ok_or(Error::Truncated)?;
    // Summing the header with its checksum gives zero when it is intact.
    if util::checksum(header, usize::MAX) != 0 {
        return Err(Error::BadIpChecksum);
    }
    let fragment_bits = (u16::from(ip.get_flags()) << 13) | ip.get_fragment_offset();
    if fragment_bits & IPV4_FRAGMENT_MASK != 0 {
        return Err(Error::BadIpHeader);
    }
    let protocol = ip.get_next_level_protocol().0;
    if protocol != VRRP_PROTOCOL {
        return Err(Error::NotVrrp(protocol));
    }
    Ok(IpEnvelope {
        src: IpAddr::V4(ip.get_source()),
        dst: IpAddr::V4(ip.get_destination()),
        ttl: ip.get_ttl(),
        payload,
    })
}

/// Unwraps an IPv6 packet whose next header is VRRP (no extension headers:
/// VRRP senders use none).
pub fn parse_ipv6(packet: &[u8]) -> Result<IpEnvelope<'_>, Error> {
    let (ip, payload) = split_ipv6(packet)?;
    let next_header = ip.get_next_header();
    if next_header != IpNextHeaderProtocols::Vrrp {
        return Err(Error::NotVrrp(next_header.0));
    }
    Ok(IpEnvelope {
        src: IpAddr::V6(ip.get_source()),
        dst: IpAddr::V6(ip.get_destination()),
        ttl: ip.get_hop_limit(),
        payload,
    })
}

/// The IPv6 header of `packet` and its payload, trimmed to the length the
/// header declares.
pub(super) fn split_ipv6(packet: &[u8]) -> Result<(Ipv6Packet<'_>, &[u8]), Error> {
    let ip = Ipv6Packet::new(packet).ok_or(Error::Truncated)?;
    if ip.get_version() != 6 {
        return Err(Error::BadIpHeader);
    }
    let end = IPV6_HEADER_LEN + usize::from(ip.get_payload_length());
    let payload = packet.get(IPV6_HEADER_LEN..end).ok_or(Error::Truncated)?;
    Ok((ip, payload))
}

/// Unwraps an untagged Ethernet frame carrying VRRP over IPv4 or IPv6.
pub fn parse_ethernet(frame: &[u8]) -> Result<EthernetEnvelope<'_>, Error> {
    let (eth, ip_bytes) = ethernet::parse_header(frame, None)?;
    let ip = match eth.get_ethertype() {
        EtherTypes::Ipv4 => parse_ipv4(ip_bytes)?,
        EtherTypes::Ipv6 => parse_ipv6(ip_bytes)?,
        other => return Err(Error::UnexpectedEtherType(other.0)),
    };
    Ok(EthernetEnvelope {
        src_mac: eth.get_source().into(),
        dst_mac: eth.get_destination().into(),
        ip,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal valid IPv4 header (protocol VRRP, TTL 255) followed by `payload`.
    fn ipv4(payload: &[u8]) -> Vec<u8> {
        let total = u16::try_from(20 + payload.len()).unwrap().to_be_bytes();
        let mut p = vec![
            0x45, 0, total[0], total[1], 0, 0, 0, 0, 255, 112, 0, 0, 192, 0, 2, 1, 224, 0, 0, 18,
        ];
        let sum = util::checksum(&p, 5).to_be_bytes();
        p[10..12].copy_from_slice(&sum);
        p.extend_from_slice(payload);
        p
    }

    #[test]
    fn ipv4_trims_to_total_length() {
        let mut p = ipv4(&[1, 2, 3]);
        p.extend_from_slice(&[0; 10]);
        let env = parse_ipv4(&p).unwrap();
        assert_eq!(env.payload, &[1, 2, 3]);
        assert_eq!(env.ttl, 255);
        assert_eq!(env.dst, IpAddr::V4(VRRP_IPV4_GROUP));
    }

    #[test]
    fn ipv4_rejections() {
        let p = ipv4(&[1, 2, 3]);
        assert_eq!(parse_ipv4(&p[..19]), Err(Error::Truncated));
        assert_eq!(parse_ipv4(&p[..22]), Err(Error::Truncated));
        let mut bad = p.clone();
        bad[12] ^= 1;
        assert_eq!(parse_ipv4(&bad), Err(Error::BadIpChecksum));
        let mut short_ihl = p.clone();
        short_ihl[0] = 0x44;
        assert_eq!(parse_ipv4(&short_ihl), Err(Error::BadIpHeader));
    }
}
