//! VRRP advertisements: RFC 3768 (v2) and RFC 9568 (v3).
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |Version| Type  | Virtual Rtr ID|   Priority    | Count IP Addrs|
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! v2: |   Auth Type   |   Adver Int   |          Checksum             |
//! v3: |(rsvd) |     Max Adver Int     |          Checksum             |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                IPvX Address(es), Count IP Addrs of them         |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |        v2 only: Authentication Data (8 bytes)                   |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```

use core::net::IpAddr;

use pnet_packet::ip::IpNextHeaderProtocols;
use pnet_packet::util;

use super::ip::Family;
use super::{Centis, Error, Version};

/// Length of the fixed header, up to and including the checksum.
pub const HEADER_LEN: usize = 8;
/// Length of the v2 authentication data trailer.
pub const AUTH_DATA_LEN: usize = 8;
/// The only VRRP message type.
pub const TYPE_ADVERTISEMENT: u8 = 1;

const V2_AUTH_NONE: u8 = 0;
const V2_AUTH_SIMPLE: u8 = 1;

mod field {
    pub(super) const VERSION_TYPE: usize = 0;
    pub(super) const VRID: usize = 1;
    pub(super) const PRIORITY: usize = 2;
    pub(super) const COUNT: usize = 3;
    /// v2: auth type; v3: reserved nibble + high nibble of the interval.
    pub(super) const AUTH_TYPE: usize = 4;
    /// v2: interval in seconds; v3: low byte of the interval.
    pub(super) const ADVER_INT: usize = 5;
    pub(super) const CHECKSUM: usize = 6;
    /// Word index of the checksum, for checksum helpers that skip it.
    pub(super) const CHECKSUM_WORD: usize = CHECKSUM / 2;
}

/// A read/write view of a VRRP advertisement in a byte buffer.
///
/// Accessors never panic: bytes beyond the end of the buffer read as zero and
/// setters ignore them, so a view made with [`Advert::new_unchecked`] over a
/// short buffer yields garbage rather than a crash. Use
/// [`Advert::new_checked`] and [`AdvertRepr::parse`] to validate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Advert<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Advert<T> {
    /// Wraps `buffer` without any check (see the type's note on short buffers).
    pub const fn new_unchecked(buffer: T) -> Advert<T> {
        Advert { buffer }
    }

    /// Wraps `buffer` after checking that the fixed header is present.
    ///
    /// The address list and auth data are checked by [`AdvertRepr::parse`],
    /// because their size depends on the IP family of the enclosing packet.
    pub fn new_checked(buffer: T) -> Result<Advert<T>, Error> {
        let packet = Advert::new_unchecked(buffer);
        packet.check_len()?;
        Ok(packet)
    }

    /// Fails with [`Error::Truncated`] if the fixed header is not all there.
    pub fn check_len(&self) -> Result<(), Error> {
        if self.buffer.as_ref().len() < HEADER_LEN {
            Err(Error::Truncated)
        } else {
            Ok(())
        }
    }

    /// Gives the buffer back.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    fn byte(&self, index: usize) -> u8 {
        self.buffer.as_ref().get(index).copied().unwrap_or(0)
    }

    fn bytes(&self, start: usize, len: usize) -> &[u8] {
        let buf = self.buffer.as_ref();
        let start = start.min(buf.len());
        let end = start.saturating_add(len).min(buf.len());
        buf.get(start..end).unwrap_or_default()
    }

    /// The version nibble (2 or 3 when valid).
    pub fn version(&self) -> u8 {
        self.byte(field::VERSION_TYPE) >> 4
    }

    /// The type nibble (1 for an advertisement).
    pub fn msg_type(&self) -> u8 {
        self.byte(field::VERSION_TYPE) & 0x0f
    }

    /// The Virtual Router Identifier.
    pub fn vrid(&self) -> u8 {
        self.byte(field::VRID)
    }

    /// The sender's priority: 0 means it resigns, 255 that it owns the addresses.
    pub fn priority(&self) -> u8 {
        self.byte(field::PRIORITY)
    }

    /// The number of addresses in the list.
    pub fn addr_count(&self) -> u8 {
        self.byte(field::COUNT)
    }

    /// v2 only: 0 = none, 1 = simple text password, 2 = IP AH (unsupported).
    pub fn auth_type(&self) -> u8 {
        self.byte(field::AUTH_TYPE)
    }

    /// v2 only: the advertisement interval in whole seconds.
    pub fn v2_interval_secs(&self) -> u8 {
        self.byte(field::ADVER_INT)
    }

    /// v3 only: the 12-bit Max Advertise Interval in centiseconds.
    pub fn v3_interval_centis(&self) -> u16 {
        u16::from_be_bytes([self.byte(field::AUTH_TYPE), self.byte(field::ADVER_INT)]) & 0x0fff
    }

    /// v3 only: the 4 reserved bits ahead of the interval (sent as zero, ignored).
    pub fn v3_reserved(&self) -> u8 {
        self.byte(field::AUTH_TYPE) >> 4
    }

    /// The checksum field as carried.
    pub fn checksum(&self) -> u16 {
        u16::from_be_bytes([self.byte(field::CHECKSUM), self.byte(field::CHECKSUM + 1)])
    }

    /// The raw address list, `addr_count` addresses of `family`'s size
    /// (clamped to the buffer).
    pub fn address_bytes(&self, family: Family) -> &[u8] {
        self.bytes(HEADER_LEN, self.addresses_len(family))
    }

    /// v2 only: the 8 authentication data bytes after the IPv4 address list
    /// (clamped to the buffer).
    pub fn auth_data(&self) -> &[u8] {
        self.bytes(HEADER_LEN + self.addresses_len(Family::Ipv4), AUTH_DATA_LEN)
    }

    fn addresses_len(&self, family: Family) -> usize {
        usize::from(self.addr_count()) * family.addr_len()
    }

    /// The length this advertisement must have, from its version nibble and
    /// address count, when carried over `family`.
    pub fn expected_len(&self, family: Family) -> usize {
        let auth = if self.version() == 2 {
            AUTH_DATA_LEN
        } else {
            0
        };
        HEADER_LEN + self.addresses_len(family) + auth
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Advert<T> {
    fn set_byte(&mut self, index: usize, value: u8) {
        if let Some(b) = self.buffer.as_mut().get_mut(index) {
            *b = value;
        }
    }

    fn bytes_mut(&mut self, start: usize, len: usize) -> &mut [u8] {
        let buf = self.buffer.as_mut();
        let start = start.min(buf.len());
        let end = start.saturating_add(len).min(buf.len());
        buf.get_mut(start..end).unwrap_or_default()
    }

    /// Writes the version and type nibbles.
    pub fn set_version_and_type(&mut self, version: u8, msg_type: u8) {
        self.set_byte(field::VERSION_TYPE, (version << 4) | (msg_type & 0x0f));
    }

    /// Writes the Virtual Router Identifier.
    pub fn set_vrid(&mut self, vrid: u8) {
        self.set_byte(field::VRID, vrid);
    }

    /// Writes the priority.
    pub fn set_priority(&mut self, priority: u8) {
        self.set_byte(field::PRIORITY, priority);
    }

    /// Writes the address count.
    pub fn set_addr_count(&mut self, count: u8) {
        self.set_byte(field::COUNT, count);
    }

    /// v2 only: writes the authentication type.
    pub fn set_auth_type(&mut self, auth_type: u8) {
        self.set_byte(field::AUTH_TYPE, auth_type);
    }

    /// v2 only: writes the interval in whole seconds.
    pub fn set_v2_interval_secs(&mut self, secs: u8) {
        self.set_byte(field::ADVER_INT, secs);
    }

    /// Writes the 12-bit interval and zeroes the reserved bits. Higher bits of
    /// `centis` are dropped; [`AdvertRepr::emit`] range-checks first.
    pub fn set_v3_interval_centis(&mut self, centis: u16) {
        let [hi, lo] = (centis & 0x0fff).to_be_bytes();
        self.set_byte(field::AUTH_TYPE, hi);
        self.set_byte(field::ADVER_INT, lo);
    }

    /// Writes the checksum field.
    pub fn set_checksum(&mut self, checksum: u16) {
        let [hi, lo] = checksum.to_be_bytes();
        self.set_byte(field::CHECKSUM, hi);
        self.set_byte(field::CHECKSUM + 1, lo);
    }

    /// The address list to fill, `addr_count` addresses of `family`'s size (clamped to the buffer).
    pub fn address_bytes_mut(&mut self, family: Family) -> &mut [u8] {
        let len = self.addresses_len(family);
        self.bytes_mut(HEADER_LEN, len)
    }

    /// v2 only: the 8 authentication data bytes to fill (clamped to the buffer).
    pub fn auth_data_mut(&mut self) -> &mut [u8] {
        let start = HEADER_LEN + self.addresses_len(Family::Ipv4);
        self.bytes_mut(start, AUTH_DATA_LEN)
    }
}

impl<T: AsRef<[u8]>> AsRef<[u8]> for Advert<T> {
    fn as_ref(&self) -> &[u8] {
        self.buffer.as_ref()
    }
}

/// VRRPv2 authentication (RFC 3768 section 5.3.6). VRRPv3 has none.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Auth {
    /// Type 0: no authentication (always the case in v3).
    #[default]
    None,
    /// Type 1: a cleartext password, NUL-padded to 8 bytes.
    Simple([u8; AUTH_DATA_LEN]),
}

impl Auth {
    /// A simple password as keepalived sends it: the first 8 bytes of
    /// `password`, NUL-padded. Longer passwords are silently truncated there
    /// too, so two peers configured with the same long string still agree.
    pub fn simple(password: &str) -> Auth {
        let mut data = [0u8; AUTH_DATA_LEN];
        for (dst, src) in data.iter_mut().zip(password.as_bytes()) {
            *dst = *src;
        }
        Auth::Simple(data)
    }

    fn type_number(&self) -> u8 {
        match self {
            Auth::None => V2_AUTH_NONE,
            Auth::Simple(_) => V2_AUTH_SIMPLE,
        }
    }
}

/// An owned, validated VRRP advertisement.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AdvertRepr {
    /// Protocol version; it decides the interval unit on the wire and whether auth is carried.
    pub version: Version,
    /// Virtual Router Identifier.
    pub vrid: u8,
    /// Sender's priority: 0 resigns mastership, 255 marks the address owner.
    pub priority: u8,
    /// Kept in centiseconds for both versions; v2 carries whole seconds.
    pub max_advert_interval: Centis,
    /// Always [`Auth::None`] for v3.
    pub auth: Auth,
    /// All of one family: the family of the packet's source and destination.
    pub addresses: Vec<IpAddr>,
}

impl AdvertRepr {
    /// Parses and validates an advertisement received from `src` to `dst`
    /// (the enclosing IP header's addresses, which pick the address size and
    /// feed the v3 pseudo-header checksum).
    pub fn parse<T: AsRef<[u8]> + ?Sized>(
        packet: &Advert<&T>,
        src: IpAddr,
        dst: IpAddr,
    ) -> Result<AdvertRepr, Error> {
        let mut repr = AdvertRepr::blank(0);
        AdvertRepr::parse_into(packet, src, dst, &mut repr)?;
        Ok(repr)
    }

    /// An advert with nothing in it, room for `capacity` addresses: a
    /// target for [`AdvertRepr::parse_into`].
    pub fn blank(capacity: usize) -> AdvertRepr {
        AdvertRepr {
            version: Version::V3,
            vrid: 0,
            priority: 0,
            max_advert_interval: Centis(0),
            auth: Auth::None,
            addresses: Vec::with_capacity(capacity),
        }
    }

    /// Like [`AdvertRepr::parse`], but into `repr`, reusing its address
    /// list's memory: a receive loop parses every advert without
    /// allocating. On error `repr` holds nothing meaningful.
    pub fn parse_into<T: AsRef<[u8]> + ?Sized>(
        packet: &Advert<&T>,
        src: IpAddr,
        dst: IpAddr,
        repr: &mut AdvertRepr,
    ) -> Result<(), Error> {
        packet.check_len()?;
        let version = match packet.version() {
            2 => Version::V2,
            3 => Version::V3,
            other => return Err(Error::BadVersion(other)),
        };
        if packet.msg_type() != TYPE_ADVERTISEMENT {
            return Err(Error::BadType(packet.msg_type()));
        }
        let family = packet_family(version, src, dst)?;
        let message = packet.as_ref();
        if message.len() != packet.expected_len(family) {
            return Err(Error::AddressCountMismatch);
        }
        // Summing the whole message, checksum included, gives zero when it is
        // valid; this accepts both ones'-complement encodings of zero.
        if vrrp_checksum(version, message, src, dst, usize::MAX)? != 0 {
            return Err(Error::BadChecksum);
        }

        let (max_advert_interval, auth) = match version {
            Version::V2 => {
                let auth = match packet.auth_type() {
                    V2_AUTH_NONE => Auth::None,
                    V2_AUTH_SIMPLE => {
                        let data = packet
                            .auth_data()
                            .try_into()
                            .map_err(|_| Error::Truncated)?;
                        Auth::Simple(data)
                    }
                    other => return Err(Error::UnknownAuthType(other)),
                };
                (Centis::from_secs(packet.v2_interval_secs()), auth)
            }
            Version::V3 => (Centis(packet.v3_interval_centis()), Auth::None),
        };
        if max_advert_interval.get() == 0 {
            return Err(Error::ZeroInterval);
        }

        let bytes = packet.address_bytes(family);
        repr.addresses.clear();
        match family {
            Family::Ipv4 => repr.addresses.extend(octets::<4>(bytes).map(IpAddr::from)),
            Family::Ipv6 => repr.addresses.extend(octets::<16>(bytes).map(IpAddr::from)),
        }
        repr.version = version;
        repr.vrid = packet.vrid();
        repr.priority = packet.priority();
        repr.max_advert_interval = max_advert_interval;
        repr.auth = auth;
        Ok(())
    }

    /// The length of the emitted message.
    pub fn buffer_len(&self) -> usize {
        let addresses: usize = self
            .addresses
            .iter()
            .map(|a| Family::of(*a).addr_len())
            .sum();
        let auth = match self.version {
            Version::V2 => AUTH_DATA_LEN,
            Version::V3 => 0,
        };
        HEADER_LEN + addresses + auth
    }

    /// Writes the advertisement to be sent from `src` to `dst`, checksum
    /// included, into the first [`buffer_len`](Self::buffer_len) bytes.
    ///
    /// Fields that the version cannot carry exactly are errors, never
    /// rounded: e.g. a v2 interval of 1.5 s is
    /// [`Error::IntervalNotWholeSeconds`].
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]> + ?Sized>(
        &self,
        packet: &mut Advert<&mut T>,
        src: IpAddr,
        dst: IpAddr,
    ) -> Result<(), Error> {
        let family = packet_family(self.version, src, dst)?;
        if self.addresses.iter().any(|a| Family::of(*a) != family) {
            return Err(Error::FamilyMismatch);
        }
        let count = u8::try_from(self.addresses.len()).map_err(|_| Error::TooManyAddresses)?;
        let interval_field = self.interval_field()?;
        if self.version == Version::V3 && self.auth != Auth::None {
            return Err(Error::AuthNotInV3);
        }
        let len = self.buffer_len();
        if packet.as_ref().len() < len {
            return Err(Error::BufferTooSmall);
        }

        packet.set_version_and_type(self.version.number(), TYPE_ADVERTISEMENT);
        packet.set_vrid(self.vrid);
        packet.set_priority(self.priority);
        packet.set_addr_count(count);
        match self.version {
            Version::V2 => {
                packet.set_auth_type(self.auth.type_number());
                // interval_field() has checked it fits a byte for v2.
                packet.set_v2_interval_secs(interval_field.to_be_bytes()[1]);
            }
            Version::V3 => packet.set_v3_interval_centis(interval_field),
        }
        packet.set_checksum(0);

        let addr_bytes = packet.address_bytes_mut(family);
        let chunk = family.addr_len();
        for (dst_chunk, addr) in addr_bytes.chunks_exact_mut(chunk).zip(&self.addresses) {
            match addr {
                IpAddr::V4(a) => dst_chunk.copy_from_slice(&a.octets()),
                IpAddr::V6(a) => dst_chunk.copy_from_slice(&a.octets()),
            }
        }
        if self.version == Version::V2 {
            let data = match self.auth {
                Auth::None => [0; AUTH_DATA_LEN],
                Auth::Simple(data) => data,
            };
            packet.auth_data_mut().copy_from_slice(&data);
        }

        let message = packet.as_ref().get(..len).ok_or(Error::BufferTooSmall)?;
        let checksum = vrrp_checksum(self.version, message, src, dst, field::CHECKSUM_WORD)?;
        packet.set_checksum(checksum);
        Ok(())
    }

    /// Emits into a fresh buffer of exactly [`buffer_len`](Self::buffer_len) bytes.
    pub fn to_bytes(&self, src: IpAddr, dst: IpAddr) -> Result<Vec<u8>, Error> {
        let mut buf = vec![0u8; self.buffer_len()];
        self.emit(&mut Advert::new_unchecked(&mut buf[..]), src, dst)?;
        Ok(buf)
    }

    /// The interval as the version's field value: seconds (v2) or centiseconds (v3).
    fn interval_field(&self) -> Result<u16, Error> {
        let centis = self.max_advert_interval;
        if centis.get() == 0 {
            return Err(Error::ZeroInterval);
        }
        match self.version {
            Version::V2 => {
                let secs = centis.whole_secs().ok_or(Error::IntervalNotWholeSeconds)?;
                if secs > u16::from(u8::MAX) {
                    return Err(Error::IntervalOutOfRange);
                }
                Ok(secs)
            }
            Version::V3 if centis > Centis::V3_MAX => Err(Error::IntervalOutOfRange),
            Version::V3 => Ok(centis.get()),
        }
    }
}

/// Checks a received v2 advertisement's authentication against the
/// instance's configuration. v3 has no authentication, so any v3 advert passes.
pub fn check_auth(repr: &AdvertRepr, expected: &Auth) -> Result<(), Error> {
    match repr.version {
        Version::V3 => Ok(()),
        Version::V2 if repr.auth == *expected => Ok(()),
        Version::V2 => Err(Error::AuthMismatch),
    }
}

/// The family of the addresses in an advert between `src` and `dst`.
fn packet_family(version: Version, src: IpAddr, dst: IpAddr) -> Result<Family, Error> {
    let family = Family::of(src);
    if Family::of(dst) != family || (version == Version::V2 && family == Family::Ipv6) {
        return Err(Error::FamilyMismatch);
    }
    Ok(family)
}

/// The Internet checksum of `message`, skipping the 16-bit word at index
/// `skip_word` (pass `usize::MAX` to sum every word when verifying).
///
/// v2 covers the message alone; v3 prepends the IPv4/IPv6 pseudo-header.
fn vrrp_checksum(
    version: Version,
    message: &[u8],
    src: IpAddr,
    dst: IpAddr,
    skip_word: usize,
) -> Result<u16, Error> {
    let vrrp = IpNextHeaderProtocols::Vrrp;
    match (version, src, dst) {
        (Version::V2, _, _) => Ok(util::checksum(message, skip_word)),
        (Version::V3, IpAddr::V4(s), IpAddr::V4(d)) => {
            Ok(util::ipv4_checksum(message, skip_word, &[], &s, &d, vrrp))
        }
        (Version::V3, IpAddr::V6(s), IpAddr::V6(d)) => {
            Ok(util::ipv6_checksum(message, skip_word, &[], &s, &d, vrrp))
        }
        _ => Err(Error::FamilyMismatch),
    }
}

/// `bytes` cut into addresses of `N` octets.
fn octets<const N: usize>(bytes: &[u8]) -> impl Iterator<Item = [u8; N]> + '_ {
    bytes
        .chunks_exact(N)
        .filter_map(|chunk| <[u8; N]>::try_from(chunk).ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::net::Ipv4Addr;

    const SRC: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
    const DST: IpAddr = IpAddr::V4(Ipv4Addr::new(224, 0, 0, 18));

    fn v2() -> AdvertRepr {
        AdvertRepr {
            version: Version::V2,
            vrid: 7,
            priority: 100,
            max_advert_interval: Centis::from_secs(1),
            auth: Auth::None,
            addresses: vec![IpAddr::V4(Ipv4Addr::new(192, 0, 2, 100))],
        }
    }

    #[test]
    fn simple_auth_truncates_and_pads() {
        assert_eq!(Auth::simple("secret"), Auth::Simple(*b"secret\0\0"));
        assert_eq!(Auth::simple("0123456789"), Auth::Simple(*b"01234567"));
        assert_eq!(Auth::simple(""), Auth::Simple([0; 8]));
    }

    #[test]
    fn accessors_on_short_buffers_read_zero() {
        let p = Advert::new_unchecked(&[0x31u8][..]);
        assert_eq!((p.version(), p.msg_type()), (3, 1));
        assert_eq!((p.vrid(), p.checksum(), p.auth_data().len()), (0, 0, 0));
        assert_eq!(Advert::new_checked(&[0u8; 7][..]), Err(Error::Truncated));
    }

    #[test]
    fn emit_rejects_short_buffer() {
        let mut buf = [0u8; 15];
        let r = v2().emit(&mut Advert::new_unchecked(&mut buf[..]), SRC, DST);
        assert_eq!(r, Err(Error::BufferTooSmall));
    }

    #[test]
    fn v2_interval_limits() {
        let mut r = v2();
        r.max_advert_interval = Centis::from_secs(255);
        assert!(r.to_bytes(SRC, DST).is_ok());
        r.max_advert_interval = Centis(25_600);
        assert_eq!(r.to_bytes(SRC, DST), Err(Error::IntervalOutOfRange));
        r.max_advert_interval = Centis(0);
        assert_eq!(r.to_bytes(SRC, DST), Err(Error::ZeroInterval));
    }

    #[test]
    fn v3_rejects_auth_and_oversized_interval() {
        let mut r = v2();
        r.version = Version::V3;
        r.auth = Auth::simple("pw");
        assert_eq!(r.to_bytes(SRC, DST), Err(Error::AuthNotInV3));
        r.auth = Auth::None;
        r.max_advert_interval = Centis(4096);
        assert_eq!(r.to_bytes(SRC, DST), Err(Error::IntervalOutOfRange));
        r.max_advert_interval = Centis::V3_MAX;
        assert!(r.to_bytes(SRC, DST).is_ok());
    }
}
