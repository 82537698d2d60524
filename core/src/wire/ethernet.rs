//! The untagged Ethernet framing around announcements (gratuitous ARP,
//! unsolicited NA) and captured adverts.

use pnet_packet::ethernet::{EtherType, EthernetPacket, MutableEthernetPacket};

use super::Error;

/// An Ethernet header without VLAN tag: two MACs and the EtherType.
pub(crate) const ETHERNET_HEADER_LEN: usize = 14;

/// Writes an Ethernet header into the first `len` bytes of `buf`, which
/// become the frame; its payload is left for the caller to fill.
pub(super) fn emit_header(
    buf: &mut [u8],
    len: usize,
    dst: [u8; 6],
    src: [u8; 6],
    ethertype: EtherType,
) -> Result<MutableEthernetPacket<'_>, Error> {
    let frame = buf.get_mut(..len).ok_or(Error::BufferTooSmall)?;
    let mut eth = MutableEthernetPacket::new(frame).ok_or(Error::BufferTooSmall)?;
    eth.set_destination(dst.into());
    eth.set_source(src.into());
    eth.set_ethertype(ethertype);
    Ok(eth)
}

/// A new buffer of exactly `len` bytes, filled by `emit`.
pub(super) fn new_frame(len: usize, emit: impl FnOnce(&mut [u8]) -> Result<(), Error>) -> Vec<u8> {
    let mut buf = vec![0u8; len];
    // Cannot fail: emit only asks for `len` bytes.
    let _ = emit(&mut buf);
    buf
}

/// The header of `frame` and what follows it; `ethertype`, when given, is
/// the one the frame must carry.
pub(super) fn parse_header(
    frame: &[u8],
    ethertype: Option<EtherType>,
) -> Result<(EthernetPacket<'_>, &[u8]), Error> {
    let eth = EthernetPacket::new(frame).ok_or(Error::Truncated)?;
    let found = eth.get_ethertype();
    if ethertype.is_some_and(|expected| found != expected) {
        return Err(Error::UnexpectedEtherType(found.0));
    }
    let payload = frame.get(ETHERNET_HEADER_LEN..).unwrap_or_default();
    Ok((eth, payload))
}
