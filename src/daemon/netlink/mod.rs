//! The only part of vipd that speaks rtnetlink: interface lookup, adding and
//! removing virtual addresses, and link/address change notifications.
//!
//! Two sockets are used: one for requests and one bound to the link and
//! interface-address multicast groups. Keeping them apart means replies are
//! never interleaved with notifications and a notification flood cannot
//! delay a request.
//!
//! - this file: the requests (lookups, adding and removing addresses, dumps
//!   that retry when interrupted) and the types the daemon sees;
//! - [`decode`]: pure decoding of kernel messages into those types;
//! - [`events`]: the notification pump and its resync after an overrun.

use std::io;
use std::net::IpAddr;
use std::pin::pin;

use futures::{Stream, StreamExt, TryStreamExt};
use ipnet::IpNet;
use nix::errno::Errno;
use rtnetlink::packet_core::{
    NLM_F_DUMP, NLM_F_DUMP_INTR, NLM_F_REQUEST, NetlinkMessage, NetlinkPayload,
};
use rtnetlink::packet_route::address::{
    AddressAttribute, AddressFlags, AddressHeaderFlags, AddressMessage, CacheInfo,
};
use rtnetlink::packet_route::link::LinkMessage;
use rtnetlink::packet_route::{AddressFamily, RouteNetlinkMessage};
use rtnetlink::sys::AsyncSocket;
use rtnetlink::{Handle, MulticastGroup};
use tokio::sync::mpsc;
use tracing::{debug, warn};

mod decode;
mod events;
use decode::{address_from_message, interface_from_link, usable_address};
use events::{EVENT_RCVBUF, pump_events};

/// Serialises dumps on the shared request socket (see [`dump`]).
static DUMP_TURN: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Access to the kernel's interfaces and addresses.
#[derive(Debug, Clone)]
pub struct Netlink {
    handle: Handle,
}

/// An interface as seen at the time of the query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InterfaceInfo {
    pub index: u32,
    pub name: String,
    /// Ethernet address, when the link has a 6-byte hardware address.
    pub mac: Option<[u8; 6]>,
    /// The largest packet the link carries, when the kernel says.
    pub mtu: Option<u32>,
    /// Administratively up and operationally usable: `IFF_UP` and
    /// `IFF_RUNNING` (carrier present, not dormant).
    pub up: bool,
    /// Usable addresses. IPv6 addresses still in duplicate address detection
    /// (tentative) or that failed it are left out: nothing can be sent from
    /// them, and a fresh link-local address is tentative for about a second.
    pub addresses: Vec<IpNet>,
}

/// A change reported by the kernel.
///
/// Events are level-like: `Link` is sent for every link notification, not
/// only when `up` flips, and `AddressAdded` may repeat for an address the
/// kernel updates. `AddressAdded` means "usable": an IPv6 address is
/// reported once duplicate address detection has finished, not before.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NetEvent {
    Link {
        index: u32,
        name: String,
        up: bool,
        /// Ethernet address, the source of our announcements.
        mac: Option<[u8; 6]>,
    },
    LinkRemoved {
        index: u32,
        name: String,
    },
    AddressAdded {
        index: u32,
        addr: IpNet,
    },
    AddressRemoved {
        index: u32,
        addr: IpNet,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum NetlinkError {
    #[error("cannot open rtnetlink request socket: {0}")]
    Open(#[source] io::Error),
    #[error("cannot subscribe to rtnetlink link/address notifications: {0}")]
    Subscribe(#[source] io::Error),
    #[error("no such interface: {0}")]
    NoSuchInterface(String),
    #[error("cannot look up interface {iface}: {source}")]
    Lookup {
        iface: String,
        #[source]
        source: io::Error,
    },
    #[error("cannot add address {addr} to interface {iface}: {source}")]
    AddAddress {
        iface: String,
        addr: IpNet,
        #[source]
        source: io::Error,
    },
    #[error("cannot remove address {addr} from interface {iface}: {source}")]
    RemoveAddress {
        iface: String,
        addr: IpNet,
        #[source]
        source: io::Error,
    },
}

impl Netlink {
    /// Opens a request connection (spawned on the current runtime) and a
    /// second connection subscribed to the link, IPv4-address and
    /// IPv6-address multicast groups; events are decoded into [`NetEvent`]
    /// and sent on the returned channel.
    ///
    /// The channel closes if the notification socket fails; the daemon
    /// should treat that as fatal. If the kernel drops notifications
    /// (socket overrun), the state is re-read and the differences are sent
    /// as ordinary events, so no change is silently lost.
    pub async fn open() -> Result<(Netlink, mpsc::UnboundedReceiver<NetEvent>), NetlinkError> {
        let (conn, handle, _) = rtnetlink::new_connection().map_err(NetlinkError::Open)?;
        tokio::spawn(conn);

        // rtnetlink binds groups 1..=31 via the bind() bitmask and higher
        // ones via NETLINK_ADD_MEMBERSHIP; all three here are bitmask groups.
        let (mut events_conn, _events_handle, messages) = rtnetlink::new_multicast_connection(&[
            MulticastGroup::Link,
            MulticastGroup::Ipv4Ifaddr,
            MulticastGroup::Ipv6Ifaddr,
        ])
        .map_err(NetlinkError::Subscribe)?;
        if let Err(e) = events_conn
            .socket_mut()
            .socket_mut()
            .set_rx_buf_sz(EVENT_RCVBUF)
        {
            warn!(
                event = "netlink_buffer_not_enlarged",
                error = %e,
                "cannot enlarge netlink notification buffer: {e}"
            );
        }
        // The events connection keeps running while `messages` is alive,
        // even though its handle is dropped here. Unconstrained so that one
        // poll reads the socket dry (tokio's budget would stop it after 128
        // reads): overrun recovery relies on everything queued with the
        // overrun being forwarded together with it.
        tokio::spawn(tokio::task::unconstrained(events_conn));

        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(pump_events(handle.clone(), messages, tx));
        Ok((Netlink { handle }, rx))
    }

    /// Looks an interface up by name, with its addresses.
    pub async fn interface(&self, name: &str) -> Result<InterfaceInfo, NetlinkError> {
        let request = self.handle.link().get().match_name(name).execute();
        let link = first(request)
            .await
            .map_err(|e| lookup_error(name.to_string(), e))?
            .ok_or_else(|| NetlinkError::NoSuchInterface(name.to_string()))?;
        self.with_addresses(link, name.to_string()).await
    }

    /// Looks an interface up by index, with its addresses.
    pub async fn interface_by_index(&self, index: u32) -> Result<InterfaceInfo, NetlinkError> {
        let iface = format!("ifindex {index}");
        let link = self
            .link(index)
            .await
            .map_err(|e| lookup_error(iface.clone(), e))?
            .ok_or_else(|| NetlinkError::NoSuchInterface(iface.clone()))?;
        self.with_addresses(link, iface).await
    }

    /// Adds addr to the interface. "Already there" (EEXIST) is success.
    /// IPv6 addresses are added with `IFA_F_NODAD` so they are usable at once
    /// (no tentative state).
    ///
    /// Like `ip addr add` without `brd`, no IPv4 broadcast is set: the
    /// subnet broadcast belongs to the node's own address, not to the VIP.
    /// The kernel labels IPv4 addresses with the interface name.
    ///
    /// With a `lifetime`, the address is added or replaced with that valid
    /// (and preferred) lifetime: the kernel removes it when it runs out.
    pub async fn add_address(
        &self,
        index: u32,
        addr: IpNet,
        lifetime: Option<Lifetime>,
    ) -> Result<(), NetlinkError> {
        let mut request = self
            .handle
            .address()
            .add(index, addr.addr(), addr.prefix_len());
        if let Some(lifetime) = lifetime {
            request = request.replace();
            let secs = match lifetime {
                Lifetime::Forever => u32::MAX,
                Lifetime::Seconds(s) => s,
            };
            let mut info = CacheInfo::default();
            info.ifa_preferred = secs;
            info.ifa_valid = secs;
            request
                .message_mut()
                .attributes
                .push(AddressAttribute::CacheInfo(info));
        }
        prepare_add(request.message_mut());
        match request.execute().await {
            Ok(()) => Ok(()),
            Err(e) if errno(&e).is_some_and(add_error_is_benign) => {
                debug!(%addr, index, "address already present");
                Ok(())
            }
            Err(e) => Err(NetlinkError::AddAddress {
                iface: self.describe(index).await,
                addr,
                source: to_io(e),
            }),
        }
    }

    /// Removes addr. "Already gone" (EADDRNOTAVAIL, and ENODEV/no such
    /// address) is success.
    ///
    /// Every address on the interface with addr's IP is removed, whatever
    /// its prefix length: the kernel only deletes on an exact prefix match,
    /// and a VIP must not linger because someone re-added it as a /32.
    pub async fn remove_address(&self, index: u32, addr: IpNet) -> Result<(), NetlinkError> {
        let remove_error = |iface, source| NetlinkError::RemoveAddress {
            iface,
            addr,
            source,
        };
        let present = match self.addresses_with_ip(index, addr.addr()).await {
            Ok(present) => present,
            Err(e) => return Err(remove_error(self.describe(index).await, to_io(e))),
        };
        for existing in present {
            match self.handle.address().del(existing).execute().await {
                Ok(()) => {}
                Err(e) if errno(&e).is_some_and(remove_error_is_benign) => {
                    debug!(%addr, index, "address already gone");
                }
                Err(e) => return Err(remove_error(self.describe(index).await, to_io(e))),
            }
        }
        Ok(())
    }

    async fn link(&self, index: u32) -> Result<Option<LinkMessage>, rtnetlink::Error> {
        first(self.handle.link().get().match_index(index).execute()).await
    }

    async fn with_addresses(
        &self,
        link: LinkMessage,
        iface: String,
    ) -> Result<InterfaceInfo, NetlinkError> {
        let mut info = interface_from_link(&link);
        let addresses = dump_addresses(&self.handle)
            .await
            .map_err(|e| lookup_error(iface, e))?;
        info.addresses = addresses
            .iter()
            .filter_map(usable_address)
            .filter(|&(index, _)| index == info.index)
            .map(|(_, net)| net)
            .collect();
        // A dump that had to be repeated lists some addresses twice.
        info.addresses.sort();
        info.addresses.dedup();
        Ok(info)
    }

    /// Deletion requests for every address on `index` whose IP is `ip`,
    /// built from what the kernel reports so the prefix length matches.
    async fn addresses_with_ip(
        &self,
        index: u32,
        ip: IpAddr,
    ) -> Result<Vec<AddressMessage>, rtnetlink::Error> {
        let mut found: Vec<AddressMessage> = Vec::new();
        for msg in dump_addresses(&self.handle).await? {
            let matches =
                address_from_message(&msg).is_some_and(|(i, net)| i == index && net.addr() == ip);
            // A repeated dump can list the same address twice.
            if matches
                && !found
                    .iter()
                    .any(|f| f.header.prefix_len == msg.header.prefix_len)
            {
                found.push(deletion_for(&msg));
            }
        }
        Ok(found)
    }

    /// "eth0 (ifindex 3)" for error messages; just the index if the name
    /// cannot be found (e.g. the interface is gone).
    async fn describe(&self, index: u32) -> String {
        match self.link(index).await {
            Ok(Some(link)) => format!("{} (ifindex {index})", interface_from_link(&link).name),
            _ => format!("ifindex {index}"),
        }
    }
}

/// How often a dump is retried when the kernel reports it was interrupted.
const DUMP_ATTEMPTS: u32 = 5;

/// Dumps a kernel table. A dump spans several reads; if the table changes
/// in between, the kernel flags it `NLM_F_DUMP_INTR` and entries may have
/// been skipped, because the resume offset shifted (seen in practice with
/// address deletions). rtnetlink's dump streams drop that flag, so dumps
/// are done here and repeated, and the result is the union of all attempts:
/// a skip loses an entry that still exists, which the union recovers, while
/// an entry that vanished between attempts is stale only until its
/// notification. Callers must therefore tolerate repeated entries.
async fn dump(
    handle: &Handle,
    request: RouteNetlinkMessage,
) -> Result<Vec<RouteNetlinkMessage>, rtnetlink::Error> {
    // The kernel runs one dump at a time per netlink socket and answers a
    // concurrent one with EBUSY; the VIP workers of several instances share
    // the request socket, so their dumps take turns.
    let _turn = DUMP_TURN.lock().await;
    let mut entries = Vec::new();
    let mut attempt = 1;
    loop {
        let mut message = NetlinkMessage::from(request.clone());
        message.header.flags = NLM_F_REQUEST | NLM_F_DUMP;
        let mut replies = pin!(handle.clone().request(message)?);
        let mut interrupted = false;
        while let Some(reply) = replies.next().await {
            interrupted |= reply.header.flags & NLM_F_DUMP_INTR != 0;
            match reply.payload {
                NetlinkPayload::InnerMessage(entry) => entries.push(entry),
                NetlinkPayload::Error(e) if e.code.is_some() => {
                    return Err(rtnetlink::Error::NetlinkError(e));
                }
                _ => {}
            }
        }
        if !interrupted {
            return Ok(entries);
        }
        if attempt == DUMP_ATTEMPTS {
            warn!(
                event = "netlink_dump_inconsistent",
                attempts = DUMP_ATTEMPTS,
                "netlink dump kept changing under us; using the union of {DUMP_ATTEMPTS} attempts"
            );
            return Ok(entries);
        }
        attempt += 1;
    }
}

async fn dump_addresses(handle: &Handle) -> Result<Vec<AddressMessage>, rtnetlink::Error> {
    let replies = dump(
        handle,
        RouteNetlinkMessage::GetAddress(AddressMessage::default()),
    )
    .await?;
    Ok(replies
        .into_iter()
        .filter_map(|reply| match reply {
            RouteNetlinkMessage::NewAddress(a) => Some(a),
            _ => None,
        })
        .collect())
}

async fn first<T>(
    stream: impl Stream<Item = Result<T, rtnetlink::Error>>,
) -> Result<Option<T>, rtnetlink::Error> {
    pin!(stream).try_next().await
}

fn lookup_error(iface: String, err: rtnetlink::Error) -> NetlinkError {
    // A get by name or index for a missing link fails with ENODEV.
    if errno(&err) == Some(Errno::ENODEV) {
        NetlinkError::NoSuchInterface(iface)
    } else {
        NetlinkError::Lookup {
            iface,
            source: to_io(err),
        }
    }
}

/// The errno of a kernel NACK, if that is what `err` is.
fn errno(err: &rtnetlink::Error) -> Option<Errno> {
    match err {
        rtnetlink::Error::NetlinkError(msg) => msg.code.map(|c| Errno::from_raw(-c.get())),
        _ => None,
    }
}

fn to_io(err: rtnetlink::Error) -> io::Error {
    match err {
        rtnetlink::Error::NetlinkError(msg) => msg.to_io(),
        other => io::Error::other(other.to_string()),
    }
}

/// EEXIST: the same address and prefix is already there (for IPv6: the same
/// address with any prefix). Either way the VIP is usable.
fn add_error_is_benign(errno: Errno) -> bool {
    errno == Errno::EEXIST
}

/// EADDRNOTAVAIL: removed since we looked. ENODEV: the interface is gone,
/// and its addresses with it.
fn remove_error_is_benign(errno: Errno) -> bool {
    matches!(errno, Errno::EADDRNOTAVAIL | Errno::ENODEV)
}

/// How long the kernel keeps an address (IFA_CACHEINFO's valid lifetime).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lifetime {
    /// For good (infinite lifetime).
    Forever,
    /// This many seconds from now.
    Seconds(u32),
}

/// Adjusts rtnetlink's "ip addr add" message to what a VIP needs.
fn prepare_add(msg: &mut AddressMessage) {
    // rtnetlink fills in the subnet broadcast; `ip addr add` does not.
    msg.attributes
        .retain(|a| !matches!(a, AddressAttribute::Broadcast(_)));
    if msg.header.family == AddressFamily::Inet6 {
        // Both places, like iproute2: older kernels read only the header
        // byte, newer ones prefer IFA_FLAGS when present.
        msg.header.flags = AddressHeaderFlags::Nodad;
        msg.attributes
            .push(AddressAttribute::Flags(AddressFlags::Nodad));
    }
}

/// A deletion request matching the kernel's own description of an address.
fn deletion_for(existing: &AddressMessage) -> AddressMessage {
    let mut msg = AddressMessage::default();
    msg.header.family = existing.header.family;
    msg.header.prefix_len = existing.header.prefix_len;
    msg.header.index = existing.header.index;
    // IFA_ADDRESS is kept as reported so point-to-point peers still match.
    msg.attributes = existing
        .attributes
        .iter()
        .filter(|a| matches!(a, AddressAttribute::Local(_) | AddressAttribute::Address(_)))
        .cloned()
        .collect();
    msg
}

/// Messages as the kernel sends them, for the tests of this module's parts.
#[cfg(test)]
mod test_messages {
    pub(super) use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

    pub(super) use ipnet::IpNet;
    pub(super) use rtnetlink::packet_route::AddressFamily;
    pub(super) use rtnetlink::packet_route::address::{
        AddressAttribute, AddressHeaderFlags, AddressMessage,
    };
    pub(super) use rtnetlink::packet_route::link::{LinkAttribute, LinkFlags, LinkMessage};

    pub(super) fn net(s: &str) -> IpNet {
        s.parse().unwrap()
    }

    pub(super) fn link_msg(
        family: AddressFamily,
        index: u32,
        name: &str,
        flags: LinkFlags,
    ) -> LinkMessage {
        let mut msg = LinkMessage::default();
        msg.header.interface_family = family;
        msg.header.index = index;
        msg.header.flags = flags;
        msg.attributes.push(LinkAttribute::IfName(name.into()));
        msg.attributes
            .push(LinkAttribute::Address(vec![2, 0, 0, 0, 0, 1]));
        msg
    }

    pub(super) fn addr_msg(
        index: u32,
        prefix_len: u8,
        attrs: Vec<AddressAttribute>,
    ) -> AddressMessage {
        let mut msg = AddressMessage::default();
        msg.header.index = index;
        msg.header.prefix_len = prefix_len;
        msg.attributes = attrs;
        msg
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::daemon::netlink::test_messages::*;

    #[test]
    fn ipv6_add_is_nodad_and_no_broadcast_is_set() {
        let mut v4 = AddressMessage::default();
        v4.header.family = AddressFamily::Inet;
        v4.attributes = vec![
            AddressAttribute::Local(Ipv4Addr::new(192, 0, 2, 50).into()),
            AddressAttribute::Broadcast(Ipv4Addr::new(192, 0, 2, 255)),
        ];
        prepare_add(&mut v4);
        assert_eq!(
            v4.attributes,
            vec![AddressAttribute::Local(Ipv4Addr::new(192, 0, 2, 50).into())]
        );
        assert_eq!(v4.header.flags, AddressHeaderFlags::empty());

        let mut v6 = AddressMessage::default();
        v6.header.family = AddressFamily::Inet6;
        prepare_add(&mut v6);
        assert_eq!(v6.header.flags, AddressHeaderFlags::Nodad);
        assert!(
            v6.attributes
                .contains(&AddressAttribute::Flags(AddressFlags::Nodad))
        );
    }

    #[test]
    fn deletion_keeps_kernel_prefix_and_addresses_only() {
        let mut existing = addr_msg(
            5,
            32,
            vec![
                AddressAttribute::Address(Ipv4Addr::new(192, 0, 2, 50).into()),
                AddressAttribute::Local(Ipv4Addr::new(192, 0, 2, 50).into()),
                AddressAttribute::Label("eth0".into()),
                AddressAttribute::Flags(AddressFlags::Permanent),
            ],
        );
        existing.header.family = AddressFamily::Inet;
        let del = deletion_for(&existing);
        assert_eq!(del.header.family, AddressFamily::Inet);
        assert_eq!(del.header.prefix_len, 32);
        assert_eq!(del.header.index, 5);
        assert_eq!(del.attributes, existing.attributes[..2].to_vec());
    }

    #[test]
    fn benign_errors() {
        assert!(add_error_is_benign(Errno::EEXIST));
        assert!(!add_error_is_benign(Errno::ENODEV));
        assert!(!add_error_is_benign(Errno::EPERM));
        assert!(remove_error_is_benign(Errno::EADDRNOTAVAIL));
        assert!(remove_error_is_benign(Errno::ENODEV));
        assert!(!remove_error_is_benign(Errno::EPERM));
    }

    #[test]
    fn errno_is_read_from_kernel_nack() {
        use rtnetlink::packet_core::ErrorMessage;
        let mut nack = ErrorMessage::default();
        nack.code = std::num::NonZeroI32::new(-(Errno::EEXIST as i32));
        let err = rtnetlink::Error::NetlinkError(nack);
        assert_eq!(errno(&err), Some(Errno::EEXIST));
        assert_eq!(to_io(err).raw_os_error(), Some(Errno::EEXIST as i32));
        assert_eq!(errno(&rtnetlink::Error::RequestFailed), None);
    }

    #[test]
    fn errors_name_interface_and_address() {
        let err = NetlinkError::AddAddress {
            iface: "eth0 (ifindex 2)".into(),
            addr: net("192.0.2.50/24"),
            source: io::Error::from_raw_os_error(Errno::EPERM as i32),
        };
        let text = err.to_string();
        assert!(text.contains("eth0 (ifindex 2)"), "{text}");
        assert!(text.contains("192.0.2.50/24"), "{text}");
    }
}
