//! Validity rules shared by the configuration checker and the keepalived
//! importer, so both accept exactly the same things.

use std::net::IpAddr;

/// The largest `quorum` / `quorum_max` of a tracked process (keepalived's limit).
pub const MAX_QUORUM: i64 = 65535;

/// Why vipd refuses an address as a virtual IP, source or peer, if it does.
pub fn unusable_address(addr: IpAddr) -> Option<&'static str> {
    if addr.is_unspecified() {
        Some("unspecified address")
    } else if addr.is_multicast() {
        Some("multicast address")
    } else if addr.is_loopback() {
        Some("loopback address")
    } else if addr == IpAddr::from([255, 255, 255, 255]) {
        Some("broadcast address")
    } else {
        None
    }
}

/// Linux's rules for an interface name (dev_valid_name): 1 to 15 bytes,
/// not "." or "..", no '/', ':' or whitespace.
pub fn valid_interface_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 15
        && name != "."
        && name != ".."
        && !name
            .chars()
            .any(|c| c == '/' || c == ':' || c.is_whitespace())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interface_names_follow_linux() {
        assert!(valid_interface_name("eth0.1"));
        assert!(!valid_interface_name("eth0:1"));
        assert!(!valid_interface_name("a-very-long-interface"));
        assert!(!valid_interface_name(".."));
    }

    #[test]
    fn special_addresses_are_refused() {
        assert_eq!(
            unusable_address("224.0.0.18".parse().unwrap()),
            Some("multicast address")
        );
        assert_eq!(
            unusable_address("::1".parse().unwrap()),
            Some("loopback address")
        );
        assert_eq!(unusable_address("192.0.2.50".parse().unwrap()), None);
    }
}
