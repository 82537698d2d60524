//! Pure packet codec: zero-copy views over byte slices plus owned `Repr` structs.
//!
//! Nothing here allocates on the parse path of a view, reads a clock or touches a
//! socket, and no input can make it panic: every malformed packet is a [`Error`].
//!
//! - [`Advert`] / [`AdvertRepr`]: VRRP v2 (RFC 3768) and v3 (RFC 9568) advertisements.
//! - [`parse_ipv4`], [`parse_ipv6`], [`parse_ethernet`]: the envelope around them.
//! - [`GarpRepr`], [`UnsolicitedNaRepr`]: the announcements a new master sends.

mod arp;
mod error;
mod ethernet;
mod interval;
mod ip;
mod ndisc;
mod vrrp;

pub use arp::{BROADCAST_MAC, GARP_FRAME_LEN, GarpRepr};
pub use error::{Error, GarpDefect, NaDefect};
pub use interval::Centis;
pub use ip::{
    EthernetEnvelope, Family, IpEnvelope, VRRP_IPV4_GROUP, VRRP_IPV6_GROUP, VRRP_PROTOCOL,
    VRRP_TTL, parse_ethernet, parse_ipv4, parse_ipv6,
};
pub use ndisc::{ALL_NODES, ALL_NODES_MAC, NA_FRAME_LEN, ND_HOP_LIMIT, UnsolicitedNaRepr};
pub use vrrp::{
    AUTH_DATA_LEN, Advert, AdvertRepr, Auth, HEADER_LEN, TYPE_ADVERTISEMENT, check_auth,
};

/// The VRRP protocol version of an advertisement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Version {
    /// VRRPv2, RFC 3768: IPv4 only, interval in whole seconds, optional simple password.
    V2,
    /// VRRPv3, RFC 9568: IPv4 and IPv6, interval in centiseconds, no authentication.
    V3,
}

impl Version {
    /// The version nibble written in the packet: 2 or 3.
    pub const fn number(self) -> u8 {
        match self {
            Version::V2 => 2,
            Version::V3 => 3,
        }
    }
}
