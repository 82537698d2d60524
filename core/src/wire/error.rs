//! Why a packet was rejected, or why a `Repr` could not be emitted.
//!
//! Every variant has a stable snake_case [`Error::reason`] so receive-path
//! drops can be counted per reason without parsing `Display` text.

/// What made an ARP frame not a gratuitous ARP announcement (request form).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GarpDefect {
    /// Hardware/protocol type or address lengths are not Ethernet/IPv4.
    NotEthernetIpv4,
    /// The Ethernet destination is not ff:ff:ff:ff:ff:ff.
    NotBroadcast,
    /// The ARP operation is not 1 (request).
    NotRequest,
    /// The sender and target protocol addresses differ.
    SenderNotTarget,
    /// The Ethernet source differs from the ARP sender hardware address.
    SourceMacMismatch,
}

/// What made an ICMPv6 frame not an unsolicited Neighbour Advertisement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NaDefect {
    /// The IPv6 next header is not ICMPv6 (58).
    NotIcmpv6,
    /// The ICMPv6 type is not 136 or the code is not 0.
    NotNeighborAdvert,
    /// Not sent to ff02::1 (IPv6) and 33:33:00:00:00:01 (Ethernet).
    NotAllNodes,
    /// The Solicited flag is set: this answers a solicitation.
    Solicited,
    /// The Override flag is clear, so neighbours would keep the old MAC.
    NoOverride,
    /// The Target Link-Layer Address option differs from the Ethernet source.
    LinkLayerMismatch,
}

/// A malformed packet or an unencodable `Repr`; [`Error::reason`] labels it for counters.
#[derive(thiserror::Error, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Error {
    /// The buffer ends before a header or the length it declares.
    #[error("packet is shorter than its headers say")]
    Truncated,
    /// The output buffer is shorter than the frame or message to write.
    #[error("output buffer is too small")]
    BufferTooSmall,
    /// The VRRP version nibble is neither 2 nor 3.
    #[error("unsupported VRRP version {0}")]
    BadVersion(u8),
    /// The VRRP type is not 1 (advertisement).
    #[error("VRRP type {0} is not ADVERTISEMENT (1)")]
    BadType(u8),
    /// The VRRP checksum (v3: over the pseudo-header too) does not sum to zero.
    #[error("checksum mismatch")]
    BadChecksum,
    /// The message length disagrees with its address count and version.
    #[error("address count does not match the packet length")]
    AddressCountMismatch,
    /// More addresses than the 8-bit count field can carry.
    #[error("more than 255 addresses")]
    TooManyAddresses,
    /// An advertisement interval of zero, received or to send.
    #[error("advertisement interval is zero")]
    ZeroInterval,
    /// A VRRPv2 advert to send with an interval that is not whole seconds.
    #[error("VRRPv2 interval is not a whole number of seconds")]
    IntervalNotWholeSeconds,
    /// An interval to send that exceeds the field: 255 s for v2, 40.95 s for v3.
    #[error("advertisement interval does not fit the version's field")]
    IntervalOutOfRange,
    /// A VRRPv2 authentication type other than 0 (none) or 1 (simple password).
    #[error("unknown VRRPv2 authentication type {0}")]
    UnknownAuthType(u8),
    /// A VRRPv2 advert whose authentication differs from ours.
    #[error("VRRPv2 authentication does not match")]
    AuthMismatch,
    /// Authentication asked of a VRRPv3 advert, which has no such field.
    #[error("VRRPv3 carries no authentication")]
    AuthNotInV3,
    /// Source, destination, virtual addresses or version (v2 is IPv4 only) disagree on the family.
    #[error("address families of packet, addresses or version disagree")]
    FamilyMismatch,
    /// A wrong IP version, an impossible header or total length, or an IPv4 fragment.
    #[error("malformed IP header")]
    BadIpHeader,
    /// The IPv4 header checksum does not sum to zero.
    #[error("IPv4 header checksum mismatch")]
    BadIpChecksum,
    /// The IP protocol / next header is not 112.
    #[error("IP protocol {0} is not VRRP (112)")]
    NotVrrp(u8),
    /// TTL or hop limit not 255: the packet crossed a router.
    #[error("TTL/hop limit {0} is not 255")]
    BadTtl(u8),
    /// The Ethernet frame carries another protocol than the one expected (IPv4/IPv6 or ARP).
    #[error("unexpected EtherType {0:#06x}")]
    UnexpectedEtherType(u16),
    /// An ARP frame that is not a gratuitous ARP announcement.
    #[error("not a gratuitous ARP: {0:?}")]
    NotGratuitous(GarpDefect),
    /// An ICMPv6 frame that is not an unsolicited Neighbour Advertisement.
    #[error("not an unsolicited neighbour advertisement: {0:?}")]
    NotUnsolicitedNa(NaDefect),
    /// A Neighbour Discovery option cut short, of length zero, or a malformed
    /// link-layer address option.
    #[error("malformed neighbour discovery option")]
    BadNdOption,
    /// A Neighbour Advertisement without a Target Link-Layer Address option.
    #[error("no target link-layer address option")]
    MissingLinkLayerOption,
}

impl Error {
    /// A stable snake_case label, suitable as a metrics label value.
    pub const fn reason(&self) -> &'static str {
        match self {
            Error::Truncated => "truncated",
            Error::BufferTooSmall => "buffer_too_small",
            Error::BadVersion(_) => "bad_version",
            Error::BadType(_) => "bad_type",
            Error::BadChecksum => "bad_checksum",
            Error::AddressCountMismatch => "address_count_mismatch",
            Error::TooManyAddresses => "too_many_addresses",
            Error::ZeroInterval => "zero_interval",
            Error::IntervalNotWholeSeconds => "interval_not_whole_seconds",
            Error::IntervalOutOfRange => "interval_out_of_range",
            Error::UnknownAuthType(_) => "unknown_auth_type",
            Error::AuthMismatch => "auth_mismatch",
            Error::AuthNotInV3 => "auth_not_in_v3",
            Error::FamilyMismatch => "family_mismatch",
            Error::BadIpHeader => "bad_ip_header",
            Error::BadIpChecksum => "bad_ip_checksum",
            Error::NotVrrp(_) => "not_vrrp",
            Error::BadTtl(_) => "bad_ttl",
            Error::UnexpectedEtherType(_) => "unexpected_ethertype",
            Error::NotGratuitous(_) => "not_gratuitous",
            Error::NotUnsolicitedNa(_) => "not_unsolicited_na",
            Error::BadNdOption => "bad_nd_option",
            Error::MissingLinkLayerOption => "missing_link_layer_option",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_are_snake_case_and_distinct() {
        let all = [
            Error::Truncated,
            Error::BufferTooSmall,
            Error::BadVersion(0),
            Error::BadType(0),
            Error::BadChecksum,
            Error::AddressCountMismatch,
            Error::TooManyAddresses,
            Error::ZeroInterval,
            Error::IntervalNotWholeSeconds,
            Error::IntervalOutOfRange,
            Error::UnknownAuthType(0),
            Error::AuthMismatch,
            Error::AuthNotInV3,
            Error::FamilyMismatch,
            Error::BadIpHeader,
            Error::BadIpChecksum,
            Error::NotVrrp(0),
            Error::BadTtl(0),
            Error::UnexpectedEtherType(0),
            Error::NotGratuitous(GarpDefect::NotRequest),
            Error::NotUnsolicitedNa(NaDefect::Solicited),
            Error::BadNdOption,
            Error::MissingLinkLayerOption,
        ];
        let mut seen = std::collections::HashSet::new();
        for e in all {
            let r = e.reason();
            assert!(
                r.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'),
                "{r}"
            );
            assert!(seen.insert(r), "duplicate reason {r}");
        }
    }
}
