//! Gratuitous ARP, sent by a new master so neighbours and switches move the
//! virtual IPv4 address to its MAC.
//!
//! We send the request form (RFC 5227 "ARP Announcement"): operation 1,
//! sender IP = target IP = the VIP, target MAC all zeroes (RFC 5227 2.3),
//! to the Ethernet broadcast address. Hosts update an existing cache entry
//! from it and nobody replies.

use core::net::Ipv4Addr;

use pnet_packet::MutablePacket;
use pnet_packet::arp::{ArpHardwareTypes, ArpOperations, ArpPacket, MutableArpPacket};
use pnet_packet::ethernet::EtherTypes;

use super::{Error, GarpDefect, ethernet};

/// Ethernet header (14) + ARP for Ethernet/IPv4 (28), before any padding.
pub const GARP_FRAME_LEN: usize = 42;
/// The Ethernet broadcast address, ff:ff:ff:ff:ff:ff.
pub const BROADCAST_MAC: [u8; 6] = [0xff; 6];

/// A gratuitous ARP announcing that `ip` is now at `sender_mac`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct GarpRepr {
    /// The MAC the address now lives at: Ethernet source and ARP sender.
    pub sender_mac: [u8; 6],
    /// The virtual IPv4 address: ARP sender and target protocol address.
    pub ip: Ipv4Addr,
}

impl GarpRepr {
    /// Length of the emitted frame: always [`GARP_FRAME_LEN`].
    pub const fn frame_len(&self) -> usize {
        GARP_FRAME_LEN
    }

    /// Writes the whole Ethernet frame into the first
    /// [`frame_len`](Self::frame_len) bytes of `buf` (the NIC pads it to the
    /// Ethernet minimum).
    pub fn emit_frame(&self, buf: &mut [u8]) -> Result<(), Error> {
        let mut eth = ethernet::emit_header(
            buf,
            GARP_FRAME_LEN,
            BROADCAST_MAC,
            self.sender_mac,
            EtherTypes::Arp,
        )?;
        let mut arp = MutableArpPacket::new(eth.payload_mut()).ok_or(Error::BufferTooSmall)?;
        arp.set_hardware_type(ArpHardwareTypes::Ethernet);
        arp.set_protocol_type(EtherTypes::Ipv4);
        arp.set_hw_addr_len(6);
        arp.set_proto_addr_len(4);
        arp.set_operation(ArpOperations::Request);
        arp.set_sender_hw_addr(self.sender_mac.into());
        arp.set_sender_proto_addr(self.ip);
        arp.set_target_hw_addr([0; 6].into());
        arp.set_target_proto_addr(self.ip);
        Ok(())
    }

    /// The whole Ethernet frame in a new buffer.
    pub fn to_frame(&self) -> Vec<u8> {
        ethernet::new_frame(GARP_FRAME_LEN, |buf| self.emit_frame(buf))
    }

    /// Parses an Ethernet frame and checks that it is a gratuitous ARP in
    /// the request form. Trailing bytes (Ethernet padding) are ignored, and
    /// so is the target hardware address, as RFC 5227 tells receivers to:
    /// keepalived fills it with ff:ff:ff:ff:ff:ff where we send zeroes.
    pub fn parse_frame(frame: &[u8]) -> Result<GarpRepr, Error> {
        let (eth, payload) = ethernet::parse_header(frame, Some(EtherTypes::Arp))?;
        let arp = ArpPacket::new(payload).ok_or(Error::Truncated)?;
        let defect = |d| Err(Error::NotGratuitous(d));
        if arp.get_hardware_type() != ArpHardwareTypes::Ethernet
            || arp.get_protocol_type() != EtherTypes::Ipv4
            || arp.get_hw_addr_len() != 6
            || arp.get_proto_addr_len() != 4
        {
            return defect(GarpDefect::NotEthernetIpv4);
        }
        if <[u8; 6]>::from(eth.get_destination()) != BROADCAST_MAC {
            return defect(GarpDefect::NotBroadcast);
        }
        if arp.get_operation() != ArpOperations::Request {
            return defect(GarpDefect::NotRequest);
        }
        if arp.get_sender_proto_addr() != arp.get_target_proto_addr() {
            return defect(GarpDefect::SenderNotTarget);
        }
        let sender_mac: [u8; 6] = arp.get_sender_hw_addr().into();
        if <[u8; 6]>::from(eth.get_source()) != sender_mac {
            return defect(GarpDefect::SourceMacMismatch);
        }
        Ok(GarpRepr {
            sender_mac,
            ip: arp.get_sender_proto_addr(),
        })
    }
}
