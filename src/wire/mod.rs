//! Pure packet codec: zero-copy views over byte slices plus owned `Repr` structs.
//!
//! Nothing here allocates on the parse path of a view, reads a clock or touches a
//! socket, and no input can make it panic: every malformed packet is a [`Error`].

mod interval;

pub use interval::Centis;

/// The VRRP protocol version of an advertisement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Version {
    /// VRRPv2, RFC 3768: IPv4 only, interval in whole seconds, optional simple password.
    V2,
    /// VRRPv3, RFC 9568: IPv4 and IPv6, interval in centiseconds, no authentication.
    V3,
}

impl Version {
    pub const fn number(self) -> u8 {
        match self {
            Version::V2 => 2,
            Version::V3 => 3,
        }
    }
}
