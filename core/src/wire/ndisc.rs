//! Unsolicited Neighbour Advertisement (RFC 4861 section 7.2.6), the IPv6
//! counterpart of gratuitous ARP: a new master tells all nodes that the
//! virtual IPv6 address now lives at its MAC.

use core::net::Ipv6Addr;

use pnet_packet::ethernet::EtherTypes;
use pnet_packet::icmpv6::ndp::{
    MutableNeighborAdvertPacket, NdpOptionTypes, NeighborAdvertFlags, NeighborAdvertPacket,
};
use pnet_packet::icmpv6::{self, Icmpv6Code, Icmpv6Packet, Icmpv6Types};
use pnet_packet::ip::IpNextHeaderProtocols;
use pnet_packet::ipv6::MutableIpv6Packet;
use pnet_packet::util;
use pnet_packet::{MutablePacket, Packet};

use super::ethernet::{self, ETHERNET_HEADER_LEN};
use super::ip::{self, IPV6_HEADER_LEN};
use super::{Error, NaDefect};

/// The all-nodes multicast group, ff02::1.
pub const ALL_NODES: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);
/// The Ethernet multicast address ff02::1 maps to (RFC 2464: 33:33 + low 32 bits).
pub const ALL_NODES_MAC: [u8; 6] = [0x33, 0x33, 0, 0, 0, 1];
/// Neighbour Discovery messages must carry hop limit 255 (RFC 4861).
pub const ND_HOP_LIMIT: u8 = 255;

/// ICMPv6 header (4) + flags/reserved (4) + target (16).
const NA_FIXED_LEN: usize = 24;
/// One Target Link-Layer Address option for Ethernet: type, length, MAC.
const TLLA_OPTION_LEN: usize = 8;
const NA_LEN: usize = NA_FIXED_LEN + TLLA_OPTION_LEN;
/// Ethernet + IPv6 + NA with one TLLA option: 86 bytes, above the
/// Ethernet minimum, so such frames never carry padding.
pub const NA_FRAME_LEN: usize = ETHERNET_HEADER_LEN + IPV6_HEADER_LEN + NA_LEN;

/// An unsolicited NA with Override set and Solicited clear.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct UnsolicitedNaRepr {
    /// Ethernet source and Target Link-Layer Address: the MAC taking over.
    pub src_mac: [u8; 6],
    /// The IPv6 source: any address of ours. We use a link-local one;
    /// keepalived uses the VIP itself. Parsing accepts either.
    pub src_ip: Ipv6Addr,
    /// The virtual address being announced.
    pub target: Ipv6Addr,
    /// The Router flag: set when the VIP is a default gateway, so hosts
    /// keep it in their default router list.
    pub router: bool,
}

impl UnsolicitedNaRepr {
    /// Length of the emitted frame: always [`NA_FRAME_LEN`].
    pub const fn frame_len(&self) -> usize {
        NA_FRAME_LEN
    }

    /// Writes the whole Ethernet frame, ICMPv6 checksum included, into the
    /// first [`frame_len`](Self::frame_len) bytes of `buf`.
    pub fn emit_frame(&self, buf: &mut [u8]) -> Result<(), Error> {
        let mut eth = ethernet::emit_header(
            buf,
            NA_FRAME_LEN,
            ALL_NODES_MAC,
            self.src_mac,
            EtherTypes::Ipv6,
        )?;

        let mut ip = MutableIpv6Packet::new(eth.payload_mut()).ok_or(Error::BufferTooSmall)?;
        ip.set_version(6);
        ip.set_traffic_class(0);
        ip.set_flow_label(0);
        ip.set_payload_length(NA_LEN as u16);
        ip.set_next_header(IpNextHeaderProtocols::Icmpv6);
        ip.set_hop_limit(ND_HOP_LIMIT);
        ip.set_source(self.src_ip);
        ip.set_destination(ALL_NODES);

        let mut na =
            MutableNeighborAdvertPacket::new(ip.payload_mut()).ok_or(Error::BufferTooSmall)?;
        na.set_icmpv6_type(Icmpv6Types::NeighborAdvert);
        na.set_icmpv6_code(Icmpv6Code(0));
        na.set_checksum(0);
        let router = if self.router {
            NeighborAdvertFlags::Router
        } else {
            0
        };
        na.set_flags(NeighborAdvertFlags::Override | router);
        na.set_reserved(0);
        na.set_target_addr(self.target);
        // Written by hand: pnet's option setter sizes data from the length
        // byte, which is exactly what we are filling in.
        let [m0, m1, m2, m3, m4, m5] = self.src_mac;
        // Length is in units of 8 bytes.
        let tlla = [NdpOptionTypes::TargetLLAddr.0, 1, m0, m1, m2, m3, m4, m5];
        let option = na
            .packet_mut()
            .get_mut(NA_FIXED_LEN..NA_LEN)
            .ok_or(Error::BufferTooSmall)?;
        option.copy_from_slice(&tlla);

        let checksum = {
            let icmp = Icmpv6Packet::new(na.packet()).ok_or(Error::BufferTooSmall)?;
            icmpv6::checksum(&icmp, &self.src_ip, &ALL_NODES)
        };
        na.set_checksum(checksum);
        Ok(())
    }

    /// The whole Ethernet frame in a new buffer.
    pub fn to_frame(&self) -> Vec<u8> {
        ethernet::new_frame(NA_FRAME_LEN, |buf| self.emit_frame(buf))
    }

    /// Parses an Ethernet frame and checks that it is an unsolicited NA to
    /// all nodes, with a valid checksum and a Target Link-Layer Address that
    /// matches the Ethernet source. Unknown options are skipped.
    pub fn parse_frame(frame: &[u8]) -> Result<UnsolicitedNaRepr, Error> {
        let (eth, ip_bytes) = ethernet::parse_header(frame, Some(EtherTypes::Ipv6))?;
        let (ip, icmp) = ip::split_ipv6(ip_bytes)?;
        let defect = |d| Err(Error::NotUnsolicitedNa(d));
        if ip.get_next_header() != IpNextHeaderProtocols::Icmpv6 {
            return defect(NaDefect::NotIcmpv6);
        }
        // A hop limit below 255 means it was forwarded: RFC 4861 says drop.
        if ip.get_hop_limit() != ND_HOP_LIMIT {
            return Err(Error::BadTtl(ip.get_hop_limit()));
        }
        if ip.get_destination() != ALL_NODES
            || <[u8; 6]>::from(eth.get_destination()) != ALL_NODES_MAC
        {
            return defect(NaDefect::NotAllNodes);
        }
        let na = NeighborAdvertPacket::new(icmp).ok_or(Error::Truncated)?;
        if na.get_icmpv6_type() != Icmpv6Types::NeighborAdvert
            || na.get_icmpv6_code() != Icmpv6Code(0)
        {
            return defect(NaDefect::NotNeighborAdvert);
        }
        let src_ip = ip.get_source();
        // Summing the message with its checksum gives zero when it is intact.
        let sum = util::ipv6_checksum(
            icmp,
            usize::MAX,
            &[],
            &src_ip,
            &ALL_NODES,
            IpNextHeaderProtocols::Icmpv6,
        );
        if sum != 0 {
            return Err(Error::BadChecksum);
        }
        let flags = na.get_flags();
        if flags & NeighborAdvertFlags::Solicited != 0 {
            return defect(NaDefect::Solicited);
        }
        if flags & NeighborAdvertFlags::Override == 0 {
            return defect(NaDefect::NoOverride);
        }
        let options = icmp.get(NA_FIXED_LEN..).unwrap_or_default();
        let tlla = target_link_layer_address(options)?.ok_or(Error::MissingLinkLayerOption)?;
        let src_mac: [u8; 6] = eth.get_source().into();
        if tlla != src_mac {
            return defect(NaDefect::LinkLayerMismatch);
        }
        Ok(UnsolicitedNaRepr {
            src_mac,
            src_ip,
            target: na.get_target_addr(),
            router: flags & NeighborAdvertFlags::Router != 0,
        })
    }
}

/// Walks ND options (type, length in 8-byte units, data) and returns the
/// first Ethernet Target Link-Layer Address.
///
/// Hand-walked instead of using pnet's option iterator, whose length
/// arithmetic overflows on option lengths of 32 and up.
fn target_link_layer_address(mut options: &[u8]) -> Result<Option<[u8; 6]>, Error> {
    while !options.is_empty() {
        let (kind, units) = match options {
            [kind, units, ..] => (*kind, *units),
            _ => return Err(Error::BadNdOption),
        };
        // RFC 4861 4.6: a zero-length option must make the packet be dropped.
        let len = usize::from(units) * 8;
        if len == 0 {
            return Err(Error::BadNdOption);
        }
        let option = options.get(..len).ok_or(Error::BadNdOption)?;
        if kind == NdpOptionTypes::TargetLLAddr.0 {
            return match option.get(2..8).map(<[u8; 6]>::try_from) {
                Some(Ok(mac)) if len == TLLA_OPTION_LEN => Ok(Some(mac)),
                _ => Err(Error::BadNdOption),
            };
        }
        options = options.get(len..).unwrap_or_default();
    }
    Ok(None)
}
