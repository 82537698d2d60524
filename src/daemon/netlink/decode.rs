//! Decoding rtnetlink messages into what vipd needs: interface state,
//! usable addresses and change events. Pure: no socket here.

use ipnet::IpNet;
use rtnetlink::packet_route::address::{AddressAttribute, AddressFlags, AddressMessage};
use rtnetlink::packet_route::link::{LinkAttribute, LinkFlags, LinkMessage};
use rtnetlink::packet_route::{AddressFamily, RouteNetlinkMessage};

use super::{InterfaceInfo, NetEvent};

/// Admin up and operationally usable. The kernel sets `IFF_RUNNING` only while
/// the device is up with operstate UP or UNKNOWN (drivers without carrier
/// reporting), so it already combines carrier and dormancy.
pub(super) fn link_is_up(flags: LinkFlags) -> bool {
    flags.contains(LinkFlags::Up | LinkFlags::Running)
}

pub(super) fn interface_from_link(msg: &LinkMessage) -> InterfaceInfo {
    let mut name = String::new();
    let mut mac = None;
    let mut mtu = None;
    for attr in &msg.attributes {
        match attr {
            LinkAttribute::IfName(n) => name.clone_from(n),
            LinkAttribute::Mtu(m) => mtu = Some(*m),
            LinkAttribute::Address(hw) => mac = <[u8; 6]>::try_from(hw.as_slice()).ok(),
            _ => {}
        }
    }
    InterfaceInfo {
        index: msg.header.index,
        name,
        mac,
        mtu,
        up: link_is_up(msg.header.flags),
        addresses: Vec::new(),
    }
}

/// The interface index and local address of an address message. `IFA_LOCAL`
/// is the interface's own address; `IFA_ADDRESS` is the peer on
/// point-to-point links and equals `IFA_LOCAL` otherwise (IPv6 often sends
/// only `IFA_ADDRESS`).
pub(super) fn address_from_message(msg: &AddressMessage) -> Option<(u32, IpNet)> {
    let mut local = None;
    let mut address = None;
    for attr in &msg.attributes {
        match attr {
            AddressAttribute::Local(ip) => local = Some(*ip),
            AddressAttribute::Address(ip) => address = Some(*ip),
            _ => {}
        }
    }
    let ip = local.or(address)?;
    let net = IpNet::new(ip, msg.header.prefix_len).ok()?;
    Some((msg.header.index, net))
}

/// Like [`address_from_message`], but only for addresses that can be used
/// as a source: not tentative (DAD running) and not DAD-failed.
pub(super) fn usable_address(msg: &AddressMessage) -> Option<(u32, IpNet)> {
    // IFA_FLAGS carries all 32 bits and wins when present; the header byte
    // holds the low 8, which include both flags checked here.
    let flags = msg
        .attributes
        .iter()
        .find_map(|a| match a {
            AddressAttribute::Flags(f) => Some(*f),
            _ => None,
        })
        .unwrap_or_else(|| AddressFlags::from_bits_retain(msg.header.flags.bits().into()));
    if flags.intersects(AddressFlags::Tentative | AddressFlags::Dadfailed) {
        return None;
    }
    address_from_message(msg)
}

/// The interface a link message is about, if it is about the device itself.
/// The bridge also reports port changes on the link group with family
/// AF_BRIDGE; a port leaving a bridge sends RTM_DELLINK although the device
/// still exists. Real link events are AF_UNSPEC.
fn real_link(link: &LinkMessage) -> Option<InterfaceInfo> {
    (link.header.interface_family == AddressFamily::Unspec).then(|| interface_from_link(link))
}

/// Decodes one notification; anything vipd does not care about is None.
pub(super) fn decode_event(msg: &RouteNetlinkMessage) -> Option<NetEvent> {
    match msg {
        RouteNetlinkMessage::NewLink(link) => real_link(link).map(|info| NetEvent::Link {
            index: info.index,
            name: info.name,
            up: info.up,
            mac: info.mac,
        }),
        RouteNetlinkMessage::DelLink(link) => real_link(link).map(|info| NetEvent::LinkRemoved {
            index: info.index,
            name: info.name,
        }),
        RouteNetlinkMessage::NewAddress(a) => {
            usable_address(a).map(|(index, addr)| NetEvent::AddressAdded { index, addr })
        }
        RouteNetlinkMessage::DelAddress(a) => {
            address_from_message(a).map(|(index, addr)| NetEvent::AddressRemoved { index, addr })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::daemon::netlink::test_messages::*;

    #[test]
    fn up_needs_admin_up_and_running() {
        assert!(link_is_up(
            LinkFlags::Up | LinkFlags::Running | LinkFlags::LowerUp
        ));
        // Admin up but no carrier: the kernel clears IFF_RUNNING.
        assert!(!link_is_up(LinkFlags::Up | LinkFlags::Broadcast));
        assert!(!link_is_up(LinkFlags::Running));
        assert!(!link_is_up(LinkFlags::empty()));
    }

    #[test]
    fn interface_from_link_reads_name_mac_and_state() {
        let msg = link_msg(
            AddressFamily::Unspec,
            7,
            "eth0",
            LinkFlags::Up | LinkFlags::Running,
        );
        let info = interface_from_link(&msg);
        assert_eq!(info.index, 7);
        assert_eq!(info.name, "eth0");
        assert_eq!(info.mac, Some([2, 0, 0, 0, 0, 1]));
        assert!(info.up);

        // Non-Ethernet hardware addresses (e.g. tunnels) are not a MAC.
        let mut tun = LinkMessage::default();
        tun.attributes
            .push(LinkAttribute::Address(vec![192, 0, 2, 1]));
        assert_eq!(interface_from_link(&tun).mac, None);
    }

    #[test]
    fn link_events() {
        for (flags, up) in [
            (LinkFlags::Up | LinkFlags::Running, true),
            (LinkFlags::Up, false),
        ] {
            let link = link_msg(AddressFamily::Unspec, 3, "eth1", flags);
            assert_eq!(
                decode_event(&RouteNetlinkMessage::NewLink(link)),
                Some(NetEvent::Link {
                    index: 3,
                    name: "eth1".into(),
                    up,
                    mac: Some([2, 0, 0, 0, 0, 1]),
                })
            );
        }
        let up = link_msg(
            AddressFamily::Unspec,
            3,
            "eth1",
            LinkFlags::Up | LinkFlags::Running,
        );
        assert_eq!(
            decode_event(&RouteNetlinkMessage::DelLink(up)),
            Some(NetEvent::LinkRemoved {
                index: 3,
                name: "eth1".into()
            })
        );
    }

    #[test]
    fn bridge_port_notifications_are_not_link_removal() {
        let port = link_msg(AddressFamily::Bridge, 3, "eth1", LinkFlags::Up);
        assert_eq!(
            decode_event(&RouteNetlinkMessage::DelLink(port.clone())),
            None
        );
        assert_eq!(decode_event(&RouteNetlinkMessage::NewLink(port)), None);
    }

    #[test]
    fn address_events_prefer_local_over_peer() {
        let v4 = addr_msg(
            2,
            24,
            vec![
                AddressAttribute::Address(Ipv4Addr::new(192, 0, 2, 50).into()),
                AddressAttribute::Local(Ipv4Addr::new(192, 0, 2, 50).into()),
                AddressAttribute::Label("eth0".into()),
            ],
        );
        assert_eq!(
            decode_event(&RouteNetlinkMessage::NewAddress(v4.clone())),
            Some(NetEvent::AddressAdded {
                index: 2,
                addr: net("192.0.2.50/24")
            })
        );
        assert_eq!(
            decode_event(&RouteNetlinkMessage::DelAddress(v4)),
            Some(NetEvent::AddressRemoved {
                index: 2,
                addr: net("192.0.2.50/24")
            })
        );

        // Point-to-point: IFA_ADDRESS is the peer.
        let ptp = addr_msg(
            4,
            32,
            vec![
                AddressAttribute::Local(Ipv4Addr::new(192, 0, 2, 1).into()),
                AddressAttribute::Address(Ipv4Addr::new(192, 0, 2, 2).into()),
            ],
        );
        assert_eq!(address_from_message(&ptp), Some((4, net("192.0.2.1/32"))));

        let v6 = addr_msg(
            2,
            64,
            vec![AddressAttribute::Address(
                "2001:db8::50".parse::<Ipv6Addr>().unwrap().into(),
            )],
        );
        assert_eq!(
            decode_event(&RouteNetlinkMessage::NewAddress(v6)),
            Some(NetEvent::AddressAdded {
                index: 2,
                addr: net("2001:db8::50/64")
            })
        );
    }

    #[test]
    fn tentative_ipv6_addresses_are_not_usable_yet() {
        let ll: IpAddr = "fe80::1".parse().unwrap();
        let mut msg = addr_msg(3, 64, vec![AddressAttribute::Address(ll)]);
        msg.header.family = AddressFamily::Inet6;
        msg.header.flags = AddressHeaderFlags::Tentative | AddressHeaderFlags::Permanent;
        assert_eq!(usable_address(&msg), None);
        assert_eq!(
            decode_event(&RouteNetlinkMessage::NewAddress(msg.clone())),
            None
        );
        // Deleting a tentative address is still reported.
        assert_eq!(
            decode_event(&RouteNetlinkMessage::DelAddress(msg.clone())),
            Some(NetEvent::AddressRemoved {
                index: 3,
                addr: net("fe80::1/64")
            })
        );
        // IFA_FLAGS, when present, is authoritative over the header byte.
        msg.attributes
            .push(AddressAttribute::Flags(AddressFlags::Permanent));
        assert_eq!(usable_address(&msg), Some((3, net("fe80::1/64"))));
        msg.attributes.pop();
        msg.attributes
            .push(AddressAttribute::Flags(AddressFlags::Dadfailed));
        msg.header.flags = AddressHeaderFlags::empty();
        assert_eq!(usable_address(&msg), None);
        // NODAD addresses are usable at once.
        msg.attributes.pop();
        msg.attributes
            .push(AddressAttribute::Flags(AddressFlags::Nodad));
        assert_eq!(usable_address(&msg), Some((3, net("fe80::1/64"))));
    }

    #[test]
    fn malformed_or_unrelated_messages_are_ignored() {
        // No address attribute at all.
        let empty = addr_msg(2, 24, vec![]);
        assert_eq!(decode_event(&RouteNetlinkMessage::NewAddress(empty)), None);
        // A prefix length the address family cannot have.
        let bad = addr_msg(
            2,
            33,
            vec![AddressAttribute::Local(Ipv4Addr::new(192, 0, 2, 50).into())],
        );
        assert_eq!(decode_event(&RouteNetlinkMessage::NewAddress(bad)), None);
        assert_eq!(
            decode_event(&RouteNetlinkMessage::GetLink(LinkMessage::default())),
            None
        );
    }
}
